/**
 * `ha-provision drill INVENTORY --node-failure NODE | --resource-failure
 * RESOURCE | --switchover [NODE]`: a real fault (or a planned move) on a
 * healthy cluster, then looks every 2 s until the cluster has recovered or
 * --timeout expires; a timeline, a verdict (exit 0 passed, 10 failed), and
 * --json. Each look is `status`'s probes (src/status/probes.ts) plus
 * `crm_simulate -LS` (settled or not), one round trip per node. The pure
 * part (services, recovery, timeline) is src/drill/model.ts.
 * Imported by main() only for this command.
 */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setMaxListeners } from 'node:events';
import { appendFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadInventory, type LoadedInventory } from '../inventory/load.js';
import type { ResolvedNode } from '../inventory/types.js';
import { parseTransition } from '../facts/crm-mon.js';
import { NodeLink } from '../run/link.js';
import { buildStatus, STATUS_EXIT, type NodeAnswer, type Status } from '../status/model.js';
import { statusProbes, toAnswer } from '../status/probes.js';
import { openSession } from '../ssh/index.js';
import type { Probe } from '../steps/contract.js';
import { maskSecrets } from '../mask.js';
import { escapeTerminal, safeJson } from '../report/escape.js';
import {
  drbdProblems,
  findResource,
  leftConstraints,
  nodeFailureMethod,
  onlineIn,
  parsePid,
  pidScript,
  pidSource,
  RecoveryTracker,
  round,
  serviceAt,
  serviceProblems,
  servicesOf,
  serviceTimes,
  stonithOption,
  switchoverTargets,
  UNFENCED_WARNING,
  type DrillReport,
  type Filesystem,
  type Sample,
  type Service,
  type TimelineEvent,
} from '../drill/model.js';
import type { Cli } from './args.js';
import { EXIT } from './exit-codes.js';
import { formatInputError, type CliIO } from './main.js';

type DrillCli = Extract<Cli, { cmd: 'drill' }>;

const POLL_MS = 2000;
/** Written to each replicated file system before the fault, read back where it runs after. */
const MARKER = '.ha-provision-drill';

interface Marker {
  service: string;
  filesystem: string;
  file: string;
  /** Where it was read (null: not yet). */
  node: string | null;
  /** null: not read (its node does not answer over SSH). */
  ok: boolean | null;
  detail: string;
}
const LOOK_TIMEOUT_MS = 8_000;

class Refusal extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT.INVALID,
  ) {
    super(message);
  }
}

interface Ctx {
  inv: LoadedInventory;
  links: NodeLink[];
  stop: AbortController;
  secrets: string[];
  now: () => Date;
  io: CliIO;
  json: boolean;
}

function linkOf(c: Ctx, name: string): NodeLink {
  return c.links.find((l) => l.node.name === name)!;
}

const sudoOf = (n: ResolvedNode) => n.endpoint.become !== undefined;

/** One look: status probes and crm_simulate on every node in parallel, one round trip each. */
async function look(c: Ctx): Promise<{ status: Status; settled: boolean | null }> {
  const started = performance.now();
  const settledBy: Record<string, boolean | null> = {};
  const answers: NodeAnswer[] = await Promise.all(
    c.links.map(async (link): Promise<NodeAnswer> => {
      const node = link.node;
      const sudo = sudoOf(node);
      const probes: Probe[] = [...statusProbes(sudo), { id: 'drill:transition', argv: ['crm_simulate', '-LS'], ...(sudo ? { sudo } : {}) }];
      const signal = AbortSignal.any([c.stop.signal, AbortSignal.timeout(LOOK_TIMEOUT_MS)]);
      try {
        const results = await link.probe(probes, 'probe', 'drill', signal);
        const t = results[3]!;
        try {
          settledBy[node.name] = parseTransition(t).pending.length === 0;
        } catch {
          settledBy[node.name] = null;
        }
        return toAnswer(node.name, results.slice(0, 3));
      } catch (err) {
        await link.reset();
        return { name: node.name, error: (err as Error).message.split('\n')[0]!.slice(0, 300) };
      }
    }),
  );
  const status = buildStatus({
    cluster: c.inv.cluster.name,
    inventory: c.inv.absPath,
    nodes: c.inv.nodes.map((n) => n.name),
    drbd: c.inv.cluster.drbd.map((d) => ({ name: d.name, nodes: d.nodes })),
    answers,
    drift: { state: 'unknown', reason: 'not read by drill' },
    at: c.now(),
    durationMs: Math.round(performance.now() - started),
  });
  const settled = status.view !== null ? (settledBy[status.view] ?? null) : null;
  return { status, settled };
}

async function run(c: Ctx, node: string, argv: string[], timeoutMs = 60_000): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const link = linkOf(c, node);
  const sudo = sudoOf(link.node);
  try {
    return await link.exec({ argv, ...(sudo ? { sudo } : {}), timeoutMs }, 'drill', c.stop.signal);
  } catch (err) {
    await link.reset();
    return { exitCode: -1, stdout: '', stderr: (err as Error).message.split('\n')[0]!.slice(0, 300) };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((r) => {
    const timer = setTimeout(r, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), r()), { once: true });
  });
}

/** A visible yes/no question on the terminal (stderr), for the confirmation. */
function ttyConfirm(): ((q: string) => Promise<string>) | undefined {
  if (!process.stdin.isTTY) return undefined;
  return (q) =>
    new Promise((res) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
      rl.question(`${q} `, (a) => {
        rl.close();
        res(a);
      });
    });
}

function describe(c: DrillCli, inv: LoadedInventory, detail: string): string {
  return `drill on cluster ${inv.cluster.name} (${inv.absPath}): ${detail}`;
}

export async function drillCommand(cli: DrillCli, io: CliIO): Promise<number> {
  const ask = io.prompt ?? ttyConfirm();
  if (!cli.yes && !ask && !cli.dryRun) {
    io.stderr('ha-provision: drill injects a real fault into the cluster and there is no terminal to confirm on: add --yes to run it unattended. Nothing was contacted.\n');
    return EXIT.INVALID;
  }
  const invPath = resolve(io.cwd, cli.inventory);
  const loaded = await loadInventory({ path: invPath, env: io.env, ...(io.prompt ? { prompt: io.prompt } : {}) });
  if (!loaded.ok) {
    for (const e of loaded.errors) io.stderr(formatInputError(e) + '\n');
    io.stderr(`${loaded.errors.length} error(s); nothing was contacted.\n`);
    return EXIT.INVALID;
  }
  const inv = loaded.value;
  const names = inv.nodes.map((n) => n.name);
  const spec = cli.drill;
  const unknown = (n: string) => `${n} is not a node of the inventory (nodes: ${names.join(', ')}); nothing was contacted.\n`;
  if (spec.kind === 'node-failure' && !names.includes(spec.node)) return (io.stderr(`ha-provision: --node-failure ${unknown(spec.node)}`), EXIT.INVALID);
  if (spec.kind === 'switchover' && spec.node !== undefined && !names.includes(spec.node)) return (io.stderr(`ha-provision: --switchover ${unknown(spec.node)}`), EXIT.INVALID);
  const warnings: string[] = [];
  let method: ReturnType<typeof nodeFailureMethod> | undefined;
  if (spec.kind === 'node-failure') {
    method = nodeFailureMethod(inv.cluster.fencing, spec);
    if (!method.ok) return (io.stderr(`ha-provision: refused: ${method.message}. Nothing was contacted.\n`), EXIT.INVALID);
    if (method.method.kind === 'kill-stack')
      warnings.push(
        inv.cluster.fencing.enabled
          ? 'the cluster has fencing, but --method kill-stack bypasses it: ' + UNFENCED_WARNING.replace(/^WARNING: this cluster has no fencing\. /, '')
          : UNFENCED_WARNING,
      );
  }
  const secrets = [
    ...new Set(
      [
        ...inv.secrets,
        ...inv.nodes.flatMap((n) => n.secrets),
        ...Object.values(inv.cluster.secrets ?? {}),
        ...inv.cluster.fencing.devices.flatMap((d) => d.secretParams.map((k) => d.params[k] ?? '')),
      ].filter((s) => s.length > 0),
    ),
  ];
  const out = (s: string) => io.stdout(maskSecrets(s, secrets));
  const err = (s: string) => io.stderr(maskSecrets(s, secrets));
  const filesystems: Filesystem[] = inv.cluster.filesystems.map((f) => ({ name: f.name, ...(f.drbd ? { drbd: f.drbd } : {}) }));

  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const onSigint = () => stop.abort();
  if (io.signal) io.signal.addEventListener('abort', onSigint, { once: true });
  else process.on('SIGINT', onSigint);
  const links = inv.nodes.map(
    (n) =>
      new NodeLink(
        n,
        (node) => openSession(node.endpoint, { hostKeys: node.hostKeys, signal: stop.signal }),
        () => {},
      ),
  );
  const c: Ctx = { inv, links, stop, secrets, now: io.now ?? (() => new Date()), io, json: cli.json };
  const startedAt = c.now();
  try {
    // ---- before: a healthy cluster ----
    const first = await look(c);
    if (stop.signal.aborted) return (err('interrupted: nothing was done.\n'), EXIT.INTERRUPTED);
    const s0 = first.status;
    if (s0.verdict !== 'healthy') {
      const msg = `the cluster is ${s0.verdict}: ${s0.reasons.join('; ')}`;
      if (!cli.force) {
        err(`ha-provision: refused: ${escapeTerminal(msg)}\nA drill starts from a healthy cluster (ha-provision status shows it; --force drills anyway). Nothing was done.\n`);
        return STATUS_EXIT[s0.verdict];
      }
      if (s0.verdict === 'down') {
        err(`ha-provision: refused: ${escapeTerminal(msg)}; there is nothing to drill. Nothing was done.\n`);
        return STATUS_EXIT.down;
      }
      warnings.push(`--force: drilling a cluster that is ${msg}`);
    }
    const services = servicesOf(s0);
    const online = names.filter((n) => onlineIn(s0, n) && s0.nodes.find((x) => x.name === n)?.reachable);

    // ---- what exactly, checked against the cluster ----
    let detail: string;
    let inject: () => Promise<{ ok: boolean; message: string }>;
    const report: Partial<DrillReport> = {};
    let drillInfo: DrillReport['drill'];
    let resource: { id: string; service: string; pid: number; node: string; agent: string } | undefined;
    let moves: { id: string; from: string; to: string }[] = [];
    let expectBack: boolean | undefined;
    if (spec.kind === 'node-failure') {
      const m = method!.ok ? method!.method : undefined!;
      if (!onlineIn(s0, spec.node)) throw new Refusal(`${spec.node} is not online in the cluster; fail a node that runs`);
      const from = online.filter((n) => n !== spec.node).sort((a, b) => (a === s0.dc ? -1 : b === s0.dc ? 1 : 0))[0];
      if (m.kind === 'fence' && !from) throw new Refusal(`no other node is online and reachable to fence ${spec.node} from`);
      if (!online.some((n) => n !== spec.node)) throw new Refusal(`${spec.node} is the only node online: nothing would take over`);
      expectBack = m.kind === 'fence' && m.action === 'reboot';
      if (m.kind === 'fence') {
        const timeoutS = inv.cluster.fencing.timeoutS ?? 120;
        detail = `fence ${spec.node} (stonith_admin ${stonithOption(m.action)} ${spec.node}, run on ${from}); services on it: ${
          services
            .filter((s) => s.node === spec.node)
            .map((s) => s.id)
            .join(', ') || 'none'
        }`;
        drillInfo = { kind: 'node-failure', node: spec.node, method: 'fence', action: m.action, from: from! };
        inject = async () => {
          const r = await run(c, from!, ['stonith_admin', stonithOption(m.action), spec.node, '--timeout', String(timeoutS)], (timeoutS + 30) * 1000);
          return r.exitCode === 0
            ? { ok: true, message: `stonith_admin ${stonithOption(m.action)} ${spec.node} on ${from}: done` }
            : {
                ok: false,
                message: `stonith_admin ${stonithOption(m.action)} ${spec.node} on ${from} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
              };
        };
      } else {
        detail = `SIGKILL to corosync and pacemakerd on ${spec.node} (no fencing: an unfenced failure)`;
        drillInfo = { kind: 'node-failure', node: spec.node, method: 'kill-stack', from: spec.node };
        inject = async () => {
          const r = await run(
            c,
            spec.node,
            ['sh', '-c', 'p=$(pidof corosync pacemakerd); [ -n "$p" ] || { echo "neither corosync nor pacemakerd runs" >&2; exit 3; }; kill -9 $p && echo "killed $p"'],
            30_000,
          );
          return r.exitCode === 0
            ? { ok: true, message: `${spec.node}: ${r.stdout.trim()} (SIGKILL)` }
            : { ok: false, message: `kill-stack on ${spec.node} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 300)}` };
        };
      }
    } else if (spec.kind === 'resource-failure') {
      const f = findResource(s0, spec.resource);
      if (!f.ok) throw new Refusal(f.message);
      const src = pidSource(f.agent);
      if (src.kind === 'none') throw new Refusal(`cannot find the main process of ${spec.resource}: ${src.reason}`);
      const r = await run(c, f.node, pidScript(spec.resource, src), 30_000);
      const pid = r.exitCode === 0 ? parsePid(r.stdout) : undefined;
      if (pid === undefined) {
        const why =
          src.kind === 'systemd'
            ? `systemctl show -p MainPID ${src.unit} on ${f.node}`
            : `the agent ${f.agent} has no pid file parameter (${src.params.join(', ')}) naming a running process on ${f.node}`;
        throw new Refusal(`cannot find the main process of ${spec.resource} (agent ${f.agent}): ${why}${r.stderr.trim() ? `: ${r.stderr.trim().slice(0, 200)}` : ''}`);
      }
      resource = { id: spec.resource, service: f.service, pid, node: f.node, agent: f.agent };
      detail = `SIGKILL to the main process of ${spec.resource} (${f.agent}, PID ${pid} on ${f.node})`;
      drillInfo = { kind: 'resource-failure', resource: spec.resource, agent: f.agent, node: f.node, pid };
      inject = async () => {
        const k = await run(c, f.node, ['kill', '-9', String(pid)], 30_000);
        return k.exitCode === 0
          ? { ok: true, message: `kill -9 ${pid} on ${f.node}` }
          : { ok: false, message: `kill -9 ${pid} on ${f.node} failed (exit ${k.exitCode}): ${k.stderr.trim().slice(0, 200)}` };
      };
    } else {
      const t = switchoverTargets(services, online, spec.node);
      if (!t.ok) throw new Refusal(t.message);
      moves = t.moves;
      if (moves.length === 0) throw new Refusal(`nothing to move: every service already runs on ${spec.node}`);
      detail = `move ${moves.map((m) => `${m.id} ${m.from} -> ${m.to}`).join(', ')}, wait, then back (crm_resource --move, then --clear)`;
      drillInfo = { kind: 'switchover', to: spec.node ?? null, moves };
      inject = async () => ({ ok: true, message: '' });
    }

    // ---- confirmation ----
    if (cli.dryRun) {
      const text = `${describe(cli, inv, detail)}\nthen: watch until recovered (timeout ${cli.timeoutS} s). --dry-run: nothing was done.\n`;
      if (cli.json)
        out(
          safeJson(
            {
              format: 'ha-provision/drill-plan',
              version: 1,
              cluster: inv.cluster.name,
              inventory: inv.absPath,
              drill: drillInfo!,
              would: detail,
              warnings,
              timeoutS: cli.timeoutS,
              before: { verdict: s0.verdict, services },
            },
            2,
          ) + '\n',
        );
      else out(escapeTerminal(text) + warnings.map((w) => `${w}\n`).join(''));
      return EXIT.OK;
    }
    err(`${escapeTerminal(describe(cli, inv, detail))}\n`);
    for (const w of warnings) err(`${w}\n`);
    if (!cli.yes) {
      const a = (await ask!('This is a real fault on a real cluster. Type "yes" to go on:')).trim().toLowerCase();
      if (a !== 'yes' && a !== 'y') return (err('not confirmed: nothing was done.\n'), EXIT.INTERRUPTED);
    }

    const deadline = Date.now() + cli.timeoutS * 1000;
    const events: TimelineEvent[] = [];
    let faultAt = c.now();
    const reasons: string[] = [];
    let tracker: RecoveryTracker | undefined;
    let last: Status = s0;
    let constraintsLeft: string[] | undefined;
    const ev = (at: Date, event: string, d: string) => events.push({ at: at.toISOString(), t: round((at.getTime() - faultAt.getTime()) / 1000), event, detail: d });
    const progress = (e: TimelineEvent) => {
      if (!cli.json) err(`  +${e.t.toFixed(1)}s ${e.event}: ${escapeTerminal(e.detail)}\n`);
    };
    // ---- a marker on each replicated file system, read back where it runs after the fault ----
    const token = `ha-provision drill ${c.now().toISOString()} ${randomBytes(6).toString('hex')}`;
    const markers: Marker[] = [];
    for (const svc of services) {
      const members = s0.resources.find((r) => r.id === svc.id)?.members.map((m) => m.id) ?? [];
      for (const f of inv.cluster.filesystems) {
        if (!f.drbd || !members.includes(f.name)) continue;
        const file = `${f.directory.replace(/\/+$/, '')}/${MARKER}`;
        const w = await run(c, svc.node, ['sh', '-c', 'printf "%s\\n" "$2" > "$1" && sync -f "$1"', 'sh', file, token], 30_000);
        if (w.exitCode !== 0) throw new Refusal(`cannot write the marker ${file} on ${svc.node} (exit ${w.exitCode}): ${w.stderr.trim().slice(0, 200)}`, EXIT.DRILL_FAILED);
        markers.push({ service: svc.id, filesystem: f.name, file, ok: null, node: null, detail: 'not read yet' });
      }
    }
    const checkMarkers = async (st: Status, only?: string): Promise<void> => {
      for (const m of markers) {
        if (m.ok === true || (only !== undefined && m.service !== only)) continue;
        const at = serviceAt(st, m.service);
        if (!at) continue;
        if (!st.nodes.find((n) => n.name === at)?.reachable) {
          m.detail = `not read: ${at} does not answer over SSH`;
          continue;
        }
        const r = await run(c, at, ['cat', m.file], 30_000);
        m.node = at;
        m.ok = r.exitCode === 0 && r.stdout.trim() === token;
        m.detail = m.ok
          ? `read on ${at}`
          : r.exitCode === 0
            ? `on ${at} it holds something else: ${r.stdout.trim().slice(0, 100)}`
            : `cannot read it on ${at}: ${r.stderr.trim().slice(0, 200)}`;
        ev(c.now(), 'marker-read', `${m.file} (${m.service}) on ${at}: ${m.ok ? 'ok' : m.detail}`);
        progress(events[events.length - 1]!);
      }
    };

    // ---- the fault, then the looks ----

    if (spec.kind !== 'switchover') {
      faultAt = c.now();
      // the looks start with the fault: stonith_admin returns only once the node is fenced (after a reboot: on again)
      let injected: { ok: boolean; message: string } | undefined;
      const injecting = inject()
        .then(
          (r) => (injected = r),
          (e: unknown) => (injected = { ok: false, message: `the fault could not be injected: ${(e as Error).message}` }),
        )
        .then((r) => {
          ev(faultAt, 'fault-injected', r.ok ? `${r.message} (returned after ${round((c.now().getTime() - faultAt.getTime()) / 1000)} s)` : r.message);
          progress(events[events.length - 1]!);
        });
      if (!cli.json) err(`watching for recovery (timeout ${cli.timeoutS} s)...\n`);
      tracker = new RecoveryTracker({ spec, services, filesystems, faultAt, ...(expectBack !== undefined ? { expectBack } : {}), ...(resource ? { resource } : {}) });
      let shown = 0;
      while (!stop.signal.aborted) {
        const l = await look(c);
        last = l.status;
        const sample: Sample = { at: l.status.at ? new Date(l.status.at) : c.now(), status: l.status, settled: l.settled };
        if (resource) {
          const at = serviceAt(l.status, resource.service);
          if (at) {
            const p = await run(c, at, pidScript(resource.id, pidSource(resource.agent)), 20_000);
            const pid = p.exitCode === 0 ? parsePid(p.stdout) : undefined;
            if (pid !== undefined) sample.pid = pid;
          }
        }
        tracker.observe(sample);
        for (; shown < tracker.events.length; shown++) {
          const e = tracker.events[shown]!;
          progress(e);
          if (e.event === 'service-running') await checkMarkers(l.status, e.detail.split(' ')[0]);
        }
        if (injected && !injected.ok) break;
        if ((injected && tracker.done()) || Date.now() > deadline) break;
        await sleep(POLL_MS, stop.signal);
      }
      await injecting;
      if (!injected!.ok) reasons.push(injected!.message);
      {
        events.push(...tracker.events);
        if (!tracker.done()) {
          reasons.push(stop.signal.aborted ? 'interrupted before the cluster recovered' : `not recovered within ${cli.timeoutS} s: ${tracker.lastProblems.join('; ')}`);
          if (spec.kind === 'node-failure' && expectBack && tracker.nodeDownAt && !tracker.nodeBackAt && !stop.signal.aborted) {
            reasons.push(
              `${spec.node} did not rejoin: a node that boots before the fencer has confirmed its reboot stops Pacemaker for good ("We were allegedly just fenced" in its journal); check corosync and pacemaker there`,
            );
          }
        }
        if (resource && tracker.done()) {
          // the failure is the drill's: read its failcount, then clear it (status would stay degraded)
          const fcs = last.failcounts.filter((f) => f.resource === resource!.id || f.resource.startsWith(`${resource!.id}:`));
          report.failcounts = fcs.map((f) => ({ node: f.node, resource: f.resource, failCount: f.failCount }));
          const on = last.view ?? resource.node;
          const cl = await run(c, on, ['crm_resource', '--cleanup', '--resource', resource.id], 60_000);
          ev(
            c.now(),
            'failure-cleaned',
            cl.exitCode === 0
              ? `crm_resource --cleanup --resource ${resource.id} (failcount was ${fcs.map((f) => `${f.failCount} on ${f.node}`).join(', ') || 'not shown'})`
              : `crm_resource --cleanup failed (exit ${cl.exitCode}): ${cl.stderr.trim().slice(0, 200)}`,
          );
          progress(events[events.length - 1]!);
          // until Pacemaker has forgotten it (and re-probed the resource)
          while (!stop.signal.aborted && Date.now() < deadline) {
            const l = await look(c);
            last = l.status;
            if (l.settled && !last.failedActions.some((f) => f.op.startsWith(`${resource!.id}_`))) break;
            await sleep(POLL_MS, stop.signal);
          }
        }
      }
    } else {
      // switchover: there, then back, then no constraint left
      const ctl = last.view ?? online[0]!;
      faultAt = c.now();
      const arrived = new Map<string, number>();
      const phase = async (label: string, to: (m: (typeof moves)[number]) => string): Promise<boolean> => {
        const start = c.now();
        for (const m of moves) {
          const r = await run(c, ctl, ['crm_resource', '--move', '--resource', m.id, '--node', to(m)], 60_000);
          if (r.exitCode !== 0) {
            reasons.push(`crm_resource --move --resource ${m.id} --node ${to(m)} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
            return false;
          }
        }
        ev(start, `${label}-requested`, moves.map((m) => `${m.id} -> ${to(m)}`).join(', '));
        progress(events[events.length - 1]!);
        arrived.clear();
        while (!stop.signal.aborted) {
          const l = await look(c);
          last = l.status;
          const at = new Date(l.status.at);
          for (const m of moves) {
            if (!arrived.has(m.id) && serviceProblems(last, [{ id: m.id, on: to(m) }], filesystems).length === 0) {
              arrived.set(m.id, round((at.getTime() - start.getTime()) / 1000));
              ev(at, `${label}-running`, `${m.id} runs on ${to(m)} (${arrived.get(m.id)} s after the request)`);
              progress(events[events.length - 1]!);
              await checkMarkers(last, m.id);
            }
          }
          const problems = [
            ...serviceProblems(
              last,
              moves.map((m) => ({ id: m.id, on: to(m) })),
              filesystems,
            ),
            ...serviceProblems(
              last,
              services.filter((s) => !moves.some((m) => m.id === s.id)),
              filesystems,
            ),
            ...drbdProblems(last),
            ...(l.settled ? [] : ['the cluster has not settled']),
          ];
          if (problems.length === 0) {
            ev(at, `${label}-done`, `every service runs where it was sent, the cluster settled (${round((at.getTime() - start.getTime()) / 1000)} s)`);
            progress(events[events.length - 1]!);
            return true;
          }
          if (Date.now() > deadline) {
            reasons.push(`${label}: not done within ${cli.timeoutS} s: ${problems.join('; ')}`);
            return false;
          }
          await sleep(POLL_MS, stop.signal);
        }
        reasons.push(`${label}: interrupted`);
        return false;
      };
      const movedTimes: Record<string, number> = {};
      try {
        if (await phase('moved', (m) => m.to)) {
          for (const [k, v] of arrived) movedTimes[k] = v;
          await phase('back', (m) => m.from);
        }
      } finally {
        // never leave a constraint behind, whatever happened
        for (const m of moves) {
          const r = await run(c, ctl, ['crm_resource', '--clear', '--resource', m.id], 60_000);
          if (r.exitCode !== 0) reasons.push(`crm_resource --clear --resource ${m.id} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
        }
        const q = await run(c, ctl, ['cibadmin', '-Q', '-o', 'constraints'], 30_000);
        constraintsLeft = q.exitCode === 0 ? leftConstraints(q.stdout) : undefined;
        if (constraintsLeft === undefined) reasons.push(`cannot read the constraints (cibadmin exit ${q.exitCode})`);
        else if (constraintsLeft.length > 0) reasons.push(`constraints left behind: ${constraintsLeft.join(', ')}`);
        ev(
          c.now(),
          'constraints-cleared',
          constraintsLeft && constraintsLeft.length === 0
            ? 'crm_resource --clear: no cli-prefer-/cli-ban- constraint left'
            : `left: ${(constraintsLeft ?? ['unknown']).join(', ')}`,
        );
        progress(events[events.length - 1]!);
      }
      if (reasons.length === 0) {
        // after --clear: still where they were before, settled
        let ok = false;
        while (!stop.signal.aborted && Date.now() < deadline) {
          const l = await look(c);
          last = l.status;
          if (
            l.settled &&
            serviceProblems(
              last,
              services.map((s) => ({ id: s.id, on: s.node })),
              filesystems,
            ).length === 0
          ) {
            ok = true;
            break;
          }
          await sleep(POLL_MS, stop.signal);
        }
        if (!ok)
          reasons.push(
            `after clearing the moves, the services are not back where they ran: ${serviceProblems(
              last,
              services.map((s) => ({ id: s.id, on: s.node })),
              filesystems,
            ).join('; ')}`,
          );
        else {
          ev(new Date(last.at), 'recovered', 'every service runs where it ran before, no constraint left');
          progress(events[events.length - 1]!);
        }
      }
      report.services = services.map((s) => ({
        id: s.id,
        before: s.node,
        after: serviceAt(last, s.id),
        affected: moves.some((m) => m.id === s.id),
        ...(movedTimes[s.id] !== undefined ? { seconds: movedTimes[s.id] } : {}),
      }));
    }

    // every marker read where its file system runs now (those not read while the services came back)
    await checkMarkers(last);
    for (const m of markers) {
      if (m.ok === false) reasons.push(`marker ${m.file} (${m.service}): ${m.detail}`);
      else if (m.ok === null && !stop.signal.aborted) {
        const at = serviceAt(last, m.service);
        if (!at || last.nodes.find((n) => n.name === at)?.reachable) reasons.push(`marker ${m.file} (${m.service}): ${at ? m.detail : 'its service does not run'}`);
      }
    }
    if (tracker && resource) {
      const p = tracker.newPid ?? null;
      report.pid = { before: resource.pid, after: p, node: serviceAt(last, resource.service) ?? resource.node };
    }
    if (stop.signal.aborted && reasons.length === 0) reasons.push('interrupted');
    const endedAt = c.now();
    const recoveredEv = [...events].reverse().find((e) => e.event === 'recovered');
    events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    const doc: DrillReport = {
      format: 'ha-provision/drill',
      version: 1,
      cluster: inv.cluster.name,
      inventory: inv.absPath,
      drill: drillInfo!,
      verdict: reasons.length === 0 && recoveredEv ? 'passed' : 'failed',
      reasons: reasons.length === 0 && !recoveredEv ? ['not recovered'] : reasons,
      warnings,
      startedAt: startedAt.toISOString(),
      faultAt: faultAt.toISOString(),
      endedAt: endedAt.toISOString(),
      recoverySeconds: recoveredEv ? recoveredEv.t : null,
      timeline: events,
      services: report.services ?? (tracker ? serviceTimes(tracker) : []),
      fenced: tracker?.fenced ?? null,
      nodeBack: spec.kind === 'node-failure' ? tracker?.nodeBackAt !== undefined : null,
      ...(report.pid ? { pid: report.pid } : {}),
      ...(report.failcounts ? { failcounts: report.failcounts } : {}),
      ...(constraintsLeft ? { constraintsLeft } : {}),
      markers: markers.map(({ service, filesystem, file, node, ok, detail }) => ({ service, filesystem, file, node, ok, detail })),
      final: { verdict: last.verdict, reasons: last.reasons },
    };
    await record(inv.settings.stateDir, doc, secrets).catch((e: unknown) =>
      err(`could not append the drill to ${join(inv.settings.stateDir, 'drills.jsonl')}: ${(e as Error).message}\n`),
    );
    if (cli.json) out(safeJson(doc, 2) + '\n');
    else out(renderDrill(doc));
    if (stop.signal.aborted) return EXIT.INTERRUPTED;
    return doc.verdict === 'passed' ? EXIT.OK : EXIT.DRILL_FAILED;
  } catch (e) {
    if (e instanceof Refusal) {
      err(`ha-provision: refused: ${escapeTerminal(e.message)}. Nothing was done.\n`);
      return e.code;
    }
    throw e;
  } finally {
    if (!io.signal) process.off('SIGINT', onSigint);
    await Promise.all(links.map((l) => l.close()));
  }
}

/** One JSON line per drill in the state folder (drills.jsonl), secrets masked. */
async function record(stateDir: string, doc: DrillReport, secrets: string[]): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  await appendFile(join(stateDir, 'drills.jsonl'), maskSecrets(JSON.stringify(doc), secrets) + '\n', { mode: 0o600 });
}

/** The plain text report. */
export function renderDrill(d: DrillReport): string {
  const lines: string[] = [];
  const what = Object.entries(d.drill)
    .filter(([k]) => k !== 'kind')
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  lines.push(`drill ${d.drill.kind} on ${d.cluster}: ${d.verdict.toUpperCase()}${d.recoverySeconds !== null ? ` (recovered ${d.recoverySeconds} s after the fault)` : ''}`);
  lines.push(`  ${what}`);
  lines.push('timeline:');
  for (const e of d.timeline) lines.push(`  ${e.at}  +${e.t.toFixed(1).padStart(6)}s  ${e.event.padEnd(20)} ${e.detail}`);
  if (d.services.length > 0) {
    lines.push('services:');
    for (const s of d.services)
      lines.push(
        `  ${s.id.padEnd(20)} ${s.before} -> ${s.after ?? '(not running)'}${s.seconds !== undefined ? `  running again after ${s.seconds} s` : ''}${s.affected ? '' : '  (not hit)'}`,
      );
  }
  if (d.fenced) lines.push(`fenced: ${d.fenced.target} (${d.fenced.action}) at ${d.fenced.at} by ${d.fenced.delegate}`);
  if (d.nodeBack !== null) lines.push(`node back in the cluster: ${d.nodeBack ? 'yes' : 'no'}`);
  if (d.pid) lines.push(`process: PID ${d.pid.before} -> ${d.pid.after ?? '(none)'} on ${d.pid.node}`);
  if (d.failcounts) lines.push(`failcount: ${d.failcounts.map((f) => `${f.resource} ${f.failCount} on ${f.node}`).join(', ') || 'none shown'} (cleaned)`);
  for (const m of d.markers) lines.push(`marker ${m.file} (${m.service}): ${m.ok === true ? `read back on ${m.node}` : m.detail}`);
  if (d.constraintsLeft) lines.push(`constraints left: ${d.constraintsLeft.length === 0 ? 'none' : d.constraintsLeft.join(', ')}`);
  for (const w of d.warnings) lines.push(w);
  for (const r of d.reasons) lines.push(`FAILED: ${r}`);
  if (d.final) lines.push(`cluster now: ${d.final.verdict}${d.final.reasons.length ? ` (${d.final.reasons.join('; ')})` : ''}`);
  return escapeTerminal(lines.join('\n')) + '\n';
}

export type { Service };
