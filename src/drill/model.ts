/**
 * `ha-provision drill`, the pure part: which services run where (from a
 * `status` Status), how the resource to kill is found, whether the cluster
 * has recovered, and the timeline and verdict computed from the looks the
 * drill takes while it waits. No I/O here; src/cli/drill.ts runs the fault
 * and the looks. The JSON shape is DrillReport (README, "drill").
 *
 * Recovered means, judged from what the reachable nodes report (a rebooted
 * node's SSH address may not answer yet, its peers still see it):
 *  - every service that ran before (a group or a lone primitive that is no
 *    fence device) runs again, every member Started and not failed, on a
 *    node that is online in Pacemaker;
 *  - each file system of the inventory that belongs to such a service has
 *    its DRBD resource Primary on the node running the service (as that
 *    node reports it, or as its peers see it);
 *  - every DRBD resource of the inventory is UpToDate and Connected
 *    (Established) between its nodes, as some reachable node reports it;
 *  - the cluster has settled (crm_simulate -LS: nothing left to do);
 *  - node failure: the node was seen down; after a reboot it is online in
 *    Pacemaker again. Resource failure: the process has a new PID.
 */
import type { Fencing } from '../inventory/types.js';
import type { Status, Verdict } from '../status/model.js';
import type { DrillSpec } from '../cli/args.js';

export type { DrillSpec } from '../cli/args.js';

export interface Service {
  id: string;
  node: string;
}

/** Services: top-level groups and lone primitives (not fence devices, not clones) that run on one node. */
export function servicesOf(s: Status): Service[] {
  const out: Service[] = [];
  for (const r of s.resources) {
    if (r.kind !== 'group' && r.kind !== 'primitive') continue;
    if (r.members.some((m) => m.agent.startsWith('stonith:'))) continue;
    if (r.nodes.length !== 1) continue;
    if (r.members.some((m) => m.failed || m.role !== 'Started')) continue;
    out.push({ id: r.id, node: r.nodes[0]! });
  }
  return out;
}

/** Where a service runs now: every member Started, not failed, on one node; else null. */
export function serviceAt(s: Status, id: string): string | null {
  const r = s.resources.find((x) => x.id === id);
  if (!r || r.nodes.length !== 1) return null;
  if (r.members.some((m) => m.failed || m.role !== 'Started' || m.nodes.length !== 1)) return null;
  return r.nodes[0]!;
}

export function onlineIn(s: Status, node: string): boolean {
  return s.nodes.find((n) => n.name === node)?.pacemaker === 'online';
}

/** The DRBD role of `node` for `drbd`, as it reports it, or as a connected peer sees it. */
export function drbdRole(s: Status, drbd: string, node: string): string | null {
  const r = s.drbd.find((d) => d.name === drbd);
  if (!r) return null;
  const own = r.nodes.find((n) => n.node === node);
  if (own?.role) return own.role;
  for (const n of r.nodes) {
    const p = n.peers.find((x) => x.peer === node && x.connection === 'Connected');
    if (p) return p.peerRole;
  }
  return null;
}

/** DRBD resources not UpToDate and Connected/Established between all their nodes, as some reachable node reports it. */
export function drbdProblems(s: Status): string[] {
  const out: string[] = [];
  for (const r of s.drbd) {
    const names = r.nodes.map((n) => n.node);
    const ok = names.every((a) =>
      names.every((b) => {
        if (a === b) return true;
        const na = r.nodes.find((n) => n.node === a);
        const nb = r.nodes.find((n) => n.node === b);
        const aSees = na?.disk ? na.peers.find((p) => p.peer === b) : undefined;
        const bSees = nb?.disk ? nb.peers.find((p) => p.peer === a) : undefined;
        const good = (own: string | null | undefined, p: typeof aSees) =>
          own === 'UpToDate' && p?.connection === 'Connected' && p.replication === 'Established' && p.peerDisk === 'UpToDate';
        return good(na?.disk, aSees) || good(nb?.disk, bSees);
      }),
    );
    if (!ok) out.push(`drbd ${r.name}: not UpToDate and connected on all its nodes`);
  }
  return out;
}

export interface Filesystem {
  /** Its Pacemaker resource's id (the inventory's filesystem name). */
  name: string;
  drbd?: string;
}

/** Why the services are not where they should be ([]: they all run). `expected`: a node each must run on, or any online node. */
export function serviceProblems(s: Status, services: readonly { id: string; on?: string }[], filesystems: readonly Filesystem[]): string[] {
  const out: string[] = [];
  for (const svc of services) {
    const at = serviceAt(s, svc.id);
    if (at === null) {
      out.push(`${svc.id}: not running`);
      continue;
    }
    if (!onlineIn(s, at)) out.push(`${svc.id}: on ${at}, which is not online`);
    else if (svc.on !== undefined && at !== svc.on) out.push(`${svc.id}: on ${at}, not ${svc.on}`);
    const members = s.resources.find((r) => r.id === svc.id)?.members.map((m) => m.id) ?? [];
    for (const fs of filesystems) {
      if (!fs.drbd || !members.includes(fs.name)) continue;
      const role = drbdRole(s, fs.drbd, at);
      if (role !== 'Primary') out.push(`${svc.id}: drbd ${fs.drbd} is ${role ?? 'unknown'} on ${at}, not Primary`);
    }
  }
  return out;
}

// ---------- how the resource to kill is found ----------

export type PidSource = { kind: 'systemd'; unit: string } | { kind: 'pidfile'; params: string[] } | { kind: 'none'; reason: string };

/** Parameters that name a pid file in common OCF agents (apache: pidfile, mysql: pid, nginx: pid...). */
export const PID_PARAMS = ['pidfile', 'pid', 'pid_file', 'pidFile', 'pid-file'] as const;

/** How the main process of a resource with this agent (crm_mon's resource_agent) is found. */
export function pidSource(agent: string): PidSource {
  const [cls, ...rest] = agent.split(':');
  const type = rest[rest.length - 1] ?? '';
  if (cls === 'systemd' || cls === 'service') return { kind: 'systemd', unit: type.includes('.') ? type : `${type}.service` };
  if (cls === 'lsb') return { kind: 'systemd', unit: `${type}.service` };
  if (cls === 'ocf') return { kind: 'pidfile', params: [...PID_PARAMS] };
  if (cls === 'stonith') return { kind: 'none', reason: `it is a fence device (${agent}); fail its node with --node-failure instead` };
  return { kind: 'none', reason: `its agent ${agent || '(unknown)'} names no process` };
}

/** Shell that prints the main PID (one line, a number > 0) or exits 3 with why not. Arguments are quoted by the transport. */
export function pidScript(resource: string, src: PidSource): string[] {
  if (src.kind === 'systemd')
    return [
      'sh',
      '-c',
      'p=$(systemctl show -p MainPID --value "$1") || exit 3; [ "${p:-0}" -gt 0 ] || { echo "systemd reports no main process of $1" >&2; exit 3; }; echo "$p"',
      'sh',
      src.unit,
    ];
  if (src.kind === 'pidfile') {
    return [
      'sh',
      '-c',
      'r=$1; shift; for k in "$@"; do f=$(crm_resource --resource "$r" --get-parameter "$k" 2>/dev/null | tail -n 1); [ -n "$f" ] || continue; ' +
        'p=$(head -n 1 "$f" 2>/dev/null | tr -dc 0-9); [ -n "$p" ] && [ -d "/proc/$p" ] && { echo "$p"; exit 0; }; echo "pid file $f ($k) names no running process" >&2; exit 3; done; ' +
        'echo "no pid file parameter ($*)" >&2; exit 3',
      'sh',
      resource,
      ...src.params,
    ];
  }
  return ['false'];
}

export function parsePid(stdout: string): number | undefined {
  const line = stdout.trim().split('\n').pop()?.trim() ?? '';
  const n = Number(line);
  return /^[0-9]+$/.test(line) && n > 0 ? n : undefined;
}

/** The resource to kill: a primitive running on exactly one node. */
export function findResource(s: Status, id: string): { ok: true; node: string; agent: string; service: string } | { ok: false; message: string } {
  const top = s.resources.find((r) => r.id === id);
  if (top && top.kind === 'group') return { ok: false, message: `${id} is a group: name one of its members (${top.members.map((m) => m.id).join(', ')})` };
  for (const r of s.resources) {
    const ms = r.members.filter((m) => m.id === id);
    if (ms.length === 0) continue;
    if (r.kind === 'clone' || r.kind === 'bundle' || ms.length > 1)
      return { ok: false, message: `${id} runs as a ${r.kind === 'group' ? 'clone' : r.kind} (${r.id}): the drill kills the process of a resource that runs on one node` };
    const m = ms[0]!;
    if (m.agent.startsWith('stonith:')) return { ok: false, message: `${id} is a fence device (${m.agent}): fail its node with --node-failure instead` };
    if (m.nodes.length !== 1 || m.role !== 'Started' || m.failed)
      return { ok: false, message: `${id} is not running on one node (${m.role}${m.nodes.length ? ` on ${m.nodes.join(', ')}` : ''})` };
    return { ok: true, node: m.nodes[0]!, agent: m.agent, service: r.id };
  }
  const known = s.resources.flatMap((r) => r.members.map((m) => m.id));
  return { ok: false, message: `no resource ${id} in the cluster (resources: ${[...new Set(known)].join(', ') || 'none'})` };
}

// ---------- node failure: how ----------

export type NodeFailureMethod = { kind: 'fence'; action: 'reboot' | 'off' } | { kind: 'kill-stack' };

/**
 * stonith_admin's option for a fencing action: `--reboot NODE`, and `--fence
 * NODE` for off (Pacemaker's stonith_admin has no `--off`: 2.1.5 answers
 * "Unknown option --off").
 */
export function stonithOption(action: 'reboot' | 'off'): '--reboot' | '--fence' {
  return action === 'reboot' ? '--reboot' : '--fence';
}

export const UNFENCED_WARNING =
  'WARNING: this cluster has no fencing. An unfenced failure is not a real one: the node only looks dead to its peers, ' +
  'its resources may keep running and writing (a file system mounted, a virtual IP answering), and DRBD may be promoted ' +
  'on the other node while the old Primary still writes: two Primaries, data diverging (split brain), or a promotion on stale data. ' +
  "A cluster without fencing cannot fail over safely; configure fencing (the inventory's fencing:) before going live.";

/** How --node-failure fails the node, or why it refuses. */
export function nodeFailureMethod(
  fencing: Pick<Fencing, 'enabled' | 'action' | 'devices'>,
  spec: { action?: 'reboot' | 'off'; method?: 'kill-stack' },
): { ok: true; method: NodeFailureMethod } | { ok: false; message: string } {
  if (spec.method === 'kill-stack') {
    if (spec.action !== undefined) return { ok: false, message: '--action goes with fencing, not with --method kill-stack' };
    return { ok: true, method: { kind: 'kill-stack' } };
  }
  if (!fencing.enabled || fencing.devices.length === 0) {
    return {
      ok: false,
      message:
        'the inventory declares no fencing (fencing:), so the node cannot be fenced; name a method explicitly: --method kill-stack (SIGKILL to corosync and pacemakerd on the node, an unfenced failure)',
    };
  }
  return { ok: true, method: { kind: 'fence', action: spec.action ?? fencing.action } };
}

/** Pacemaker's fence history times: "2026-12-02 07:59:12Z", "2026-12-02 07:59:12 +00:00", ISO. */
export function parseFenceTime(s: string): Date | undefined {
  const t = s
    .trim()
    .replace(/^(\d{4}-\d\d-\d\d) /, '$1T')
    .replace(/ ?([+-]\d\d):?(\d\d)$/, '$1:$2')
    .replace(/ ?Z$/, 'Z');
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

// ---------- the looks and the timeline ----------

/** One look at the cluster during the drill. */
export interface Sample {
  at: Date;
  status: Status;
  /** crm_simulate -LS on the view node: nothing left to do (null: not known). */
  settled: boolean | null;
  /** resource failure: the PID now, on the node running the resource. */
  pid?: number;
}

export interface TimelineEvent {
  at: string;
  /** Seconds since the fault. */
  t: number;
  event: string;
  detail: string;
}

export interface ServiceTime {
  id: string;
  before: string;
  /** Where it ran when the drill ended (null: not running). */
  after: string | null;
  /** Seconds from the fault until it ran again (affected services only). */
  seconds?: number;
  affected: boolean;
}

export interface DrillReport {
  format: 'ha-provision/drill';
  version: 1;
  cluster: string;
  inventory: string;
  drill: Record<string, unknown> & { kind: DrillSpec['kind'] };
  verdict: 'passed' | 'failed';
  reasons: string[];
  warnings: string[];
  startedAt: string;
  faultAt: string | null;
  endedAt: string;
  /** Seconds from the fault until recovered (null: not recovered). */
  recoverySeconds: number | null;
  timeline: TimelineEvent[];
  services: ServiceTime[];
  fenced: { at: string; action: string; target: string; delegate: string; status: string } | null;
  nodeBack: boolean | null;
  pid?: { before: number; after: number | null; node: string };
  failcounts?: { node: string; resource: string; failCount: number | 'INFINITY' }[];
  constraintsLeft?: string[];
  /** A marker file written to each replicated file system of a service before the fault, read back where it runs after (ok null: its node did not answer over SSH). */
  markers: { service: string; filesystem: string; file: string; node: string | null; ok: boolean | null; detail: string }[];
  final: { verdict: Verdict; reasons: string[] } | null;
}

export interface TrackerInput {
  spec: DrillSpec;
  services: readonly Service[];
  filesystems: readonly Filesystem[];
  faultAt: Date;
  /** Node failure: whether the node should come back (a reboot). */
  expectBack?: boolean;
  /** Resource failure: the resource, its service and PID before the kill. */
  resource?: { id: string; service: string; pid: number; node: string };
}

/**
 * Follows the looks after the fault: `observe` each sample in order; `done`
 * says when the cluster has recovered. Pure: the timeline comes only from
 * the samples' contents and times.
 */
export class RecoveryTracker {
  readonly events: TimelineEvent[] = [];
  nodeDownAt: Date | undefined;
  nodeBackAt: Date | undefined;
  fenced: DrillReport['fenced'] = null;
  servicesAt: Date | undefined;
  recoveredAt: Date | undefined;
  readonly serviceSeconds = new Map<string, number>();
  /** Where each service hit was last seen running after the fault. */
  readonly placement = new Map<string, string>();
  last: Sample | undefined;
  lastProblems: string[] = [];
  newPid: number | undefined;

  constructor(readonly input: TrackerInput) {}

  private add(at: Date, event: string, detail: string): void {
    this.events.push({ at: at.toISOString(), t: round((at.getTime() - this.input.faultAt.getTime()) / 1000), event, detail });
  }

  /** Services hit by the fault. */
  affected(): Service[] {
    const sp = this.input.spec;
    if (sp.kind === 'node-failure') return this.input.services.filter((s) => s.node === sp.node);
    if (sp.kind === 'resource-failure') return this.input.services.filter((s) => s.id === this.input.resource?.service);
    return [...this.input.services];
  }

  observe(x: Sample): void {
    this.last = x;
    const s = x.status;
    const sp = this.input.spec;
    const problems: string[] = [];
    if (s.verdict === 'down') problems.push(`cluster down: ${s.reasons.join('; ')}`);
    if (sp.kind === 'node-failure') {
      const up = onlineIn(s, sp.node);
      if (!this.nodeDownAt && !up && s.view !== null) {
        this.nodeDownAt = x.at;
        this.add(x.at, 'node-down', `${sp.node} is ${s.nodes.find((n) => n.name === sp.node)?.pacemaker ?? 'unknown'} in Pacemaker (seen from ${s.view})`);
      }
      if (!this.fenced) {
        const ev = s.fencing.last && s.fencing.last.target === sp.node && s.fencing.last.status === 'success' ? s.fencing.last : undefined;
        const when = ev ? parseFenceTime(ev.completed) : undefined;
        // only a fencing of this drill (not an older one in the history)
        if (ev && (!when || when.getTime() >= this.input.faultAt.getTime() - 2000)) {
          const at = when ?? x.at;
          this.fenced = { at: at.toISOString(), action: ev.action, target: ev.target, delegate: ev.delegate, status: ev.status };
          this.add(at, 'node-fenced', `${ev.target}: ${ev.action} by ${ev.delegate || 'the fencer'} (fence history)`);
        }
      }
      if (this.nodeDownAt && !this.nodeBackAt && up && x.at > this.nodeDownAt) {
        this.nodeBackAt = x.at;
        this.add(x.at, 'node-back', `${sp.node} is online in Pacemaker again`);
      }
      if (!this.nodeDownAt) problems.push(`${sp.node} not seen down yet`);
      else if (this.input.expectBack && !this.nodeBackAt) problems.push(`${sp.node} not back in the cluster`);
    }
    if (sp.kind === 'resource-failure' && this.input.resource) {
      if (x.pid !== undefined && x.pid !== this.input.resource.pid) {
        if (this.newPid === undefined) this.add(x.at, 'new-process', `${this.input.resource.id}: PID ${x.pid} (was ${this.input.resource.pid})`);
        this.newPid = x.pid;
      } else problems.push(`${this.input.resource.id}: no new process yet`);
    }
    // each affected service running again (after its node was seen down)
    const ready = sp.kind !== 'node-failure' || this.nodeDownAt !== undefined;
    const svcProblems = serviceProblems(s, this.input.services, this.input.filesystems);
    if (ready && sp.kind !== 'switchover') {
      for (const svc of this.affected()) {
        if (this.serviceSeconds.has(svc.id)) continue;
        const pidOk = sp.kind !== 'resource-failure' || this.newPid !== undefined;
        if (pidOk && serviceProblems(s, [{ id: svc.id }], this.input.filesystems).length === 0) {
          this.serviceSeconds.set(svc.id, round((x.at.getTime() - this.input.faultAt.getTime()) / 1000));
          this.placement.set(svc.id, serviceAt(s, svc.id)!);
          this.add(x.at, 'service-running', `${svc.id} runs on ${serviceAt(s, svc.id)}`);
        }
      }
      // a service hit that runs again may move later (back to the node it prefers, once that node is back)
      for (const [id, was] of this.placement) {
        const now = serviceAt(s, id);
        if (now !== null && now !== was && serviceProblems(s, [{ id }], this.input.filesystems).length === 0) {
          this.placement.set(id, now);
          this.add(x.at, 'service-moved', `${id} runs on ${now} (was on ${was})`);
        }
      }
      if (!this.servicesAt && this.affected().every((svc) => this.serviceSeconds.has(svc.id))) {
        this.servicesAt = x.at;
        if (this.affected().length > 1) this.add(x.at, 'services-running', 'every service hit runs again');
      }
    }
    problems.push(...svcProblems, ...drbdProblems(s));
    if (x.settled === false) problems.push('the cluster has not settled (actions pending)');
    if (x.settled === null) problems.push('cannot tell whether the cluster has settled');
    this.lastProblems = problems;
    if (!this.recoveredAt && problems.length === 0) {
      this.recoveredAt = x.at;
      this.add(x.at, 'recovered', 'every service runs, DRBD UpToDate and connected, the cluster settled');
    }
  }

  done(): boolean {
    return this.recoveredAt !== undefined;
  }
}

export function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** The services' times: where each ran before and after, and for those hit, seconds until it ran again. */
export function serviceTimes(t: RecoveryTracker): ServiceTime[] {
  const hit = new Set(t.affected().map((s) => s.id));
  return t.input.services.map((svc) => {
    const secs = t.serviceSeconds.get(svc.id);
    return { id: svc.id, before: svc.node, after: t.last ? serviceAt(t.last.status, svc.id) : null, affected: hit.has(svc.id), ...(secs !== undefined ? { seconds: secs } : {}) };
  });
}

/** Constraints a move leaves behind (crm_resource --move/--ban): their ids in `cibadmin -Q -o constraints`. */
export function leftConstraints(xml: string): string[] {
  return [...xml.matchAll(/\bid="(cli-(?:prefer|ban)-[^"]*)"/g)].map((m) => m[1]!).filter((v, i, a) => a.indexOf(v) === i);
}

/** Switchover: where each service goes (to NODE, or to the other node of two); services already there stay. */
export function switchoverTargets(
  services: readonly Service[],
  online: readonly string[],
  node?: string,
): { ok: true; moves: { id: string; from: string; to: string }[] } | { ok: false; message: string } {
  if (node !== undefined) {
    if (!online.includes(node)) return { ok: false, message: `${node} is not an online cluster node (online: ${online.join(', ') || 'none'})` };
    return { ok: true, moves: services.filter((s) => s.node !== node).map((s) => ({ id: s.id, from: s.node, to: node })) };
  }
  const moves: { id: string; from: string; to: string }[] = [];
  for (const s of services) {
    const others = online.filter((n) => n !== s.node);
    if (others.length !== 1)
      return {
        ok: false,
        message: `${s.id} runs on ${s.node} and ${others.length === 0 ? 'no other node is online' : `${others.length} other nodes are online (${others.join(', ')})`}: name the node to switch over to (--switchover NODE)`,
      };
    moves.push({ id: s.id, from: s.node, to: others[0]! });
  }
  return { ok: true, moves };
}
