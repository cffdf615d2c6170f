/**
 * `ha-provision status`, the pure part: what each node's probes printed ->
 * one Status (the cluster as its nodes see it) -> a verdict. No I/O here;
 * src/status/probes.ts says what runs on the nodes, src/cli/status.ts wires
 * it, src/status/render.ts shows it. The JSON shape is Status (README,
 * "status").
 *
 * Verdict:
 *  - down: no node answers, or no node that answers has quorum, or
 *    Pacemaker runs on none of them;
 *  - degraded: otherwise, anything short of every inventory node online in
 *    Pacemaker and a corosync member, every inventory DRBD resource
 *    UpToDate and Connected (Established) on each of its nodes towards each
 *    peer, every resource running that is not meant to be stopped, and no
 *    failed action. An unreachable node is degraded (not unknown);
 *  - healthy: none of that. Drift and fencing (devices, history) are shown
 *    but do not change the verdict.
 */
import { parseCrmMon, parseCrmMonDetails, type CrmMonDetails, type MonNode } from '../facts/crm-mon.js';
import { parseEvents, type DrbdResource as DrbdFacts } from '../facts/drbd.js';
import { parseQuorum, type QuorumFacts } from '../facts/quorum.js';
import { EXIT } from '../cli/exit-codes.js';
import type { ProbeResult } from '../steps/contract.js';

/** src/status/probes.ts: the DRBD probe's second look while a resync runs, after this line. */
export const SECOND_LOOK = '# second look after 0.5 s';
export const SECOND_LOOK_SECONDS = 0.5;

export type Verdict = 'healthy' | 'degraded' | 'down';

/** What one node answered: its probes' results, or why it could not be asked. */
export interface NodeAnswer {
  name: string;
  error?: string;
  quorum?: ProbeResult;
  crmMon?: ProbeResult;
  drbd?: ProbeResult;
}

export type Drift = { state: 'planned'; changes: number; pending: number; refused: number; errors: number; pairs: number } | { state: 'unknown'; reason: string };

export interface StatusInput {
  cluster: string;
  inventory: string;
  /** Inventory node names, in order. */
  nodes: string[];
  /** Inventory DRBD resources and the nodes carrying each. */
  drbd: { name: string; nodes: string[] }[];
  answers: NodeAnswer[];
  drift: Drift;
  at: Date;
  durationMs?: number;
}

export type PacemakerState = 'online' | 'standby' | 'maintenance' | 'pending' | 'unclean' | 'offline' | 'unknown';

export interface NodeStatus {
  name: string;
  reachable: boolean;
  error?: string;
  /** As the cluster view (see `view`) has it. */
  pacemaker: PacemakerState;
  /** In the corosync membership the quorum view reports. */
  member: boolean | null;
  /** This node's own quorum, as it reports it (null: not reachable / corosync down). */
  quorate: boolean | null;
  /** corosync / pacemaker not running on it, or a probe it could not answer. */
  problems: string[];
  /**
   * Present (true) on a node of the inventory that is not a node of the
   * cluster: it has neither corosync nor Pacemaker installed and Pacemaker's
   * node list does not name it (a quorum arbitrator running corosync-qnetd,
   * as in 004). Only its SSH counts for the verdict.
   */
  outside?: true;
}

export interface DrbdPeerStatus {
  peer: string;
  connection: string;
  replication: string;
  peerRole: string;
  peerDisk: string;
  /** Percent while a resync runs. */
  done?: number;
  etaSeconds?: number;
  outOfSyncKiB?: number;
}

export interface DrbdNodeStatus {
  node: string;
  /** null: not known (node unreachable, or the resource is not up there). */
  role: string | null;
  disk: string | null;
  peers: DrbdPeerStatus[];
}

export interface DrbdStatus {
  name: string;
  nodes: DrbdNodeStatus[];
  /** Worst progress while a resync runs towards any peer (lowest `done`), with its estimate. */
  sync?: { done: number; etaSeconds?: number };
}

export interface ResourceStatus {
  id: string;
  kind: 'group' | 'clone' | 'primitive' | 'bundle';
  /** Nodes where it (any member) runs, and the role where there is one (Promoted/Unpromoted), per member. */
  members: { id: string; agent: string; role: string; nodes: string[]; failed: boolean; targetRole?: string }[];
  /** Nodes running all of it (for a group: every member; for a clone: any instance). */
  nodes: string[];
  /** Promoted instances' nodes (promotable clones). */
  promoted?: string[];
}

export interface Status {
  format: 'ha-provision/status';
  version: 1;
  cluster: string;
  inventory: string;
  at: string;
  durationMs?: number;
  verdict: Verdict;
  /** Why not healthy; empty when healthy. */
  reasons: string[];
  /** The node whose Pacemaker and quorum view is shown (the DC's when reachable). */
  view: string | null;
  quorum: {
    quorate: boolean;
    expectedVotes: number | null;
    totalVotes: number | null;
    quorum: number | null;
    flags: string[];
    members: string[];
    qdevice: { votes: number | null } | null;
  } | null;
  dc: string | null;
  nodes: NodeStatus[];
  drbd: DrbdStatus[];
  resources: ResourceStatus[];
  failcounts: { node: string; resource: string; failCount: number | 'INFINITY'; lastFailure?: string }[];
  failedActions: { node: string; op: string; exitStatus: string; exitReason: string; status: string; at: string }[];
  fencing: {
    enabled: boolean | null;
    devices: { id: string; agent: string; nodes: string[] }[];
    last: { action: string; target: string; status: string; completed: string; delegate: string } | null;
  };
  drift: Drift;
}

/** Exit codes of `status` (README "Exit codes"; 0-7 belong to plan/apply). */
export const STATUS_EXIT: Record<Verdict, number> = { healthy: EXIT.OK, degraded: EXIT.DEGRADED, down: EXIT.DOWN };

function pmState(n: MonNode | undefined): PacemakerState {
  if (!n) return 'unknown';
  if (n.unclean) return 'unclean';
  if (!n.online) return 'offline';
  if (n.pending) return 'pending';
  if (n.standby) return 'standby';
  if (n.maintenance) return 'maintenance';
  return 'online';
}

interface Parsed {
  name: string;
  answer: NodeAnswer;
  quorum?: QuorumFacts;
  mon?: ReturnType<typeof parseCrmMon>;
  details?: CrmMonDetails;
  drbd?: Map<string, DrbdFacts>;
  /** The second look while a resync runs. */
  drbd2?: Map<string, DrbdFacts>;
  problems: string[];
  /** Neither corosync-quorumtool nor crm_mon is installed (the shell or sudo says "not found"). */
  noStack: boolean;
}

/** No corosync, no Pacemaker (and no DRBD, when the node carries none) is what an arbitrator is, not a problem. */
const arbitratorTrait = (problem: string, carriesDrbd: boolean) => /^(corosync|pacemaker): /.test(problem) || (!carriesDrbd && problem.startsWith('drbdsetup events2: '));

const notInstalled = (r: ProbeResult | undefined) => r !== undefined && (r.exitCode === 127 || /command not found|: not found/.test(r.stderr));

function parseAnswer(a: NodeAnswer): Parsed {
  const p: Parsed = { name: a.name, answer: a, problems: [], noStack: notInstalled(a.quorum) && notInstalled(a.crmMon) };
  if (a.error !== undefined) return p;
  const attempt = <T>(what: string, f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      p.problems.push(`${what}: ${(err as Error).message.slice(0, 200)}`);
      return undefined;
    }
  };
  if (a.quorum) {
    p.quorum = attempt('corosync-quorumtool', () => parseQuorum(a.quorum!));
    if (p.quorum?.state === 'down') p.problems.push(`corosync: ${p.quorum.message}`);
  }
  if (a.crmMon) {
    p.mon = attempt('crm_mon', () => parseCrmMon(a.crmMon!));
    if (p.mon?.state === 'down') p.problems.push(`pacemaker: ${p.mon.message}`);
    else if (p.mon) p.details = attempt('crm_mon', () => parseCrmMonDetails(a.crmMon!));
  }
  if (a.drbd) {
    const [first, second] = a.drbd.stdout.split(`\n${SECOND_LOOK}\n`);
    p.drbd = attempt('drbdsetup events2', () => parseEvents({ ...a.drbd!, stdout: first ?? '' }, 'drbd'));
    if (second !== undefined) p.drbd2 = attempt('drbdsetup events2', () => parseEvents({ exitCode: 0, stdout: second, stderr: '' }, 'drbd'));
  }
  return p;
}

export function buildStatus(input: StatusInput): Status {
  const parsed = input.nodes.map((name) => parseAnswer(input.answers.find((a) => a.name === name) ?? { name, error: 'not asked' }));
  const reachable = parsed.filter((p) => p.answer.error === undefined);
  const reasons: string[] = [];

  // the view: the DC's own answer, else a quorate node's, else any node with Pacemaker up
  const up = reachable.filter((p) => p.mon?.state === 'up' && p.details);
  const viewOf = (p: Parsed) => (p.mon?.state === 'up' ? p.mon : undefined);
  const view =
    up.find((p) => viewOf(p)?.dc === p.name && viewOf(p)?.quorum) ?? up.find((p) => viewOf(p)?.quorum) ?? up.find((p) => p.quorum?.state === 'up' && p.quorum.quorate) ?? up[0];
  const mon = view ? viewOf(view) : undefined;
  const details = view?.details;
  const qView = [view, ...reachable].find((p) => p?.quorum?.state === 'up');
  const q = qView?.quorum?.state === 'up' ? qView.quorum : undefined;

  const nodes: NodeStatus[] = parsed.map((p) => {
    const outside = mon !== undefined && p.noStack && !mon.nodes.some((n) => n.name === p.name);
    return {
      name: p.name,
      reachable: p.answer.error === undefined,
      ...(p.answer.error !== undefined ? { error: p.answer.error } : {}),
      pacemaker: pmState(mon?.nodes.find((n) => n.name === p.name)),
      member: q && !outside ? q.members.some((m) => m.name === p.name) : null,
      quorate: p.quorum?.state === 'up' ? p.quorum.quorate : null,
      problems: outside
        ? p.problems.filter(
            (x) =>
              !arbitratorTrait(
                x,
                input.drbd.some((r) => r.nodes.includes(p.name)),
              ),
          )
        : p.problems,
      ...(outside ? { outside: true as const } : {}),
    };
  });

  // DRBD: each inventory resource on each of its nodes, as that node reports it
  const drbd: DrbdStatus[] = input.drbd.map((r) => {
    const ns: DrbdNodeStatus[] = r.nodes.map((node) => {
      const p = parsed.find((x) => x.name === node);
      const f = p?.drbd?.get(r.name);
      if (!f) return { node, role: null, disk: null, peers: [] };
      const peers = f.connections.map((c) => {
        const pd = f.peerDevices.find((d) => d.name === c.name);
        // while a resync runs: the rate between the two looks, when the kernel gives none itself
        const pd2 = p?.drbd2?.get(r.name)?.peerDevices.find((d) => d.name === c.name);
        let eta = pd?.stats?.etaSeconds;
        let done = pd?.done;
        if (pd?.done !== undefined && pd2?.done !== undefined) {
          const rate = (pd2.done - pd.done) / SECOND_LOOK_SECONDS;
          done = pd2.done;
          if (eta === undefined && rate > 0) eta = Math.round((100 - pd2.done) / rate);
        }
        return {
          peer: c.name,
          connection: c.connection,
          replication: pd?.replication ?? 'Off',
          peerRole: c.role,
          peerDisk: pd?.peerDisk ?? 'DUnknown',
          ...(done !== undefined ? { done } : {}),
          ...(eta !== undefined ? { etaSeconds: eta } : {}),
          ...(pd?.stats?.outOfSyncKiB !== undefined ? { outOfSyncKiB: pd.stats.outOfSyncKiB } : {}),
        };
      });
      return { node, role: f.role, disk: f.devices[0]?.disk ?? null, peers };
    });
    const syncing = ns.flatMap((n) => n.peers).filter((x) => x.done !== undefined);
    const worst = syncing.sort((a, b) => a.done! - b.done!)[0];
    return { name: r.name, nodes: ns, ...(worst ? { sync: { done: worst.done!, ...(worst.etaSeconds !== undefined ? { etaSeconds: worst.etaSeconds } : {}) } } : {}) };
  });

  const resources: ResourceStatus[] = (details?.resources ?? []).map((t) => {
    const members = t.placement.map((pl) => ({
      id: pl.id,
      agent: t.agents[pl.id] ?? '',
      role: pl.role,
      nodes: pl.nodes,
      failed: pl.failed,
      ...(pl.targetRole !== undefined ? { targetRole: pl.targetRole } : {}),
    }));
    const uniq = (xs: string[]) => [...new Set(xs)];
    let runningOn: string[];
    if (t.kind === 'group') {
      const ids = uniq(members.map((m) => m.id));
      runningOn = input.nodes.filter((n) => ids.every((id) => members.some((m) => m.id === id && m.nodes.includes(n))));
    } else runningOn = input.nodes.filter((n) => members.some((m) => m.nodes.includes(n)));
    const promoted = uniq(members.filter((m) => m.role === 'Promoted').flatMap((m) => m.nodes));
    return { id: t.id, kind: t.kind, members, nodes: runningOn, ...(promoted.length > 0 ? { promoted } : {}) };
  });

  const fencingDevices = resources.flatMap((r) =>
    r.members.filter((m) => m.agent.startsWith('stonith:')).map((m) => ({ id: m.id, agent: m.agent.slice('stonith:'.length), nodes: m.nodes })),
  );
  const history = [...(details?.fencing ?? [])].sort((a, b) => (a.completed < b.completed ? 1 : a.completed > b.completed ? -1 : 0));
  const last = history[0];

  // ---- the verdict ----
  let verdict: Verdict = 'healthy';
  if (reachable.length === 0) {
    verdict = 'down';
    reasons.push('no node answers');
  } else if (!reachable.some((p) => p.quorum?.state === 'up' && p.quorum.quorate)) {
    verdict = 'down';
    reasons.push('no node that answers has quorum');
  } else if (!mon) {
    verdict = 'down';
    reasons.push('Pacemaker runs on no node that answers');
  }
  for (const n of nodes) {
    if (!n.reachable) reasons.push(`${n.name}: unreachable (${n.error})`);
    else if (n.outside) continue;
    else if (n.pacemaker !== 'online' && mon) reasons.push(`${n.name}: ${n.pacemaker} in Pacemaker`);
    if (n.reachable && n.member === false) reasons.push(`${n.name}: not a corosync member`);
    for (const pr of n.problems) reasons.push(`${n.name}: ${pr}`);
  }
  for (const r of drbd) {
    for (const n of r.nodes) {
      if (!nodes.find((x) => x.name === n.node)?.reachable) continue;
      if (n.disk === null) {
        reasons.push(`drbd ${r.name} on ${n.node}: not up`);
        continue;
      }
      if (n.disk !== 'UpToDate') reasons.push(`drbd ${r.name} on ${n.node}: disk ${n.disk}`);
      const expected = input.drbd.find((x) => x.name === r.name)!.nodes.filter((x) => x !== n.node);
      for (const peer of expected) {
        const c = n.peers.find((x) => x.peer === peer);
        if (!c) reasons.push(`drbd ${r.name} on ${n.node}: no connection to ${peer}`);
        else if (c.connection !== 'Connected') reasons.push(`drbd ${r.name} on ${n.node}: ${c.connection} to ${peer}`);
        else if (c.replication !== 'Established')
          reasons.push(`drbd ${r.name} on ${n.node}: ${c.replication} to ${peer}${c.done !== undefined ? ` (${c.done.toFixed(1)}% done)` : ''}`);
        else if (c.peerDisk !== 'UpToDate') reasons.push(`drbd ${r.name} on ${n.node}: peer disk ${c.peerDisk} on ${peer}`);
      }
    }
  }
  for (const r of resources) {
    for (const m of r.members) {
      if (m.failed) reasons.push(`resource ${m.id}: failed`);
      else if (m.nodes.length === 0 && m.targetRole !== 'Stopped' && !(r.kind === 'clone' && r.members.some((x) => x.id === m.id && x.nodes.length > 0))) {
        // clone instances share an id: one stopped instance among running ones is reported by the node checks
        if (!reasons.includes(`resource ${m.id}: stopped`)) reasons.push(`resource ${m.id}: stopped`);
      }
    }
  }
  const failedActions = (details?.failures ?? []).map((f) => ({
    node: f.node,
    op: f.opKey,
    exitStatus: f.exitStatus,
    exitReason: f.exitReason,
    status: f.status,
    at: f.lastRcChange,
  }));
  for (const f of failedActions) reasons.push(`failed action ${f.op} on ${f.node}: ${f.exitStatus}${f.exitReason ? ` (${f.exitReason})` : ''}`);
  if (verdict === 'healthy' && reasons.length > 0) verdict = 'degraded';

  return {
    format: 'ha-provision/status',
    version: 1,
    cluster: input.cluster,
    inventory: input.inventory,
    at: input.at.toISOString(),
    ...(input.durationMs !== undefined ? { durationMs: input.durationMs } : {}),
    verdict,
    reasons,
    view: view?.name ?? null,
    quorum: q
      ? {
          quorate: q.quorate,
          expectedVotes: q.expectedVotes ?? null,
          totalVotes: q.totalVotes ?? null,
          quorum: q.quorum ?? null,
          flags: q.flags,
          members: q.members.map((m) => m.name),
          qdevice: q.qdevice ? { votes: q.qdevice.votes ?? null } : null,
        }
      : null,
    dc: mon?.dc ?? null,
    nodes,
    drbd,
    resources,
    failcounts: (details?.failcounts ?? []).map((f) => ({ ...f, failCount: f.failCount === Infinity ? ('INFINITY' as const) : f.failCount })),
    failedActions,
    fencing: {
      enabled: details?.stonithEnabled ?? null,
      devices: fencingDevices,
      last: last ? { action: last.action, target: last.target, status: last.status, completed: last.completed, delegate: last.delegate } : null,
    },
    drift: input.drift,
  };
}
