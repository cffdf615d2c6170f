/**
 * `ha-provision status INVENTORY [--json] [--watch [--interval S]]`: one
 * view of the cluster, read-only (no lock, no journal, no run log, no
 * change; any number at once). Every node is asked in parallel, over one
 * connection each, at once on two channels: the status probes
 * (src/status/probes.ts) and the probes of every step of the inventory's
 * playbook, from which the same plan code as `plan` counts the drift.
 * Imported by main() only for this command.
 */
import { setMaxListeners } from 'node:events';
import { resolve } from 'node:path';
import { buildPlan, type Gathered } from '../plan/build.js';
import { selectWork } from '../plan/select.js';
import type { Plan } from '../plan/types.js';
import { loadProject, type Project } from '../playbook/resolve.js';
import { loadInventory } from '../inventory/load.js';
import type { ResolvedNode } from '../inventory/types.js';
import { gatherNode } from '../run/gather.js';
import { NodeLink } from '../run/link.js';
import { buildStatus, STATUS_EXIT, type Drift, type NodeAnswer, type Status } from '../status/model.js';
import { statusProbes, toAnswer } from '../status/probes.js';
import { renderStatus } from '../status/render.js';
import { openSession } from '../ssh/index.js';
import type { StepKinds } from '../steps/registry.js';
import { safeJson } from '../report/escape.js';
import { EXIT } from './exit-codes.js';
import { formatInputError, type CliIO } from './main.js';
import { ttyPrompt } from './prompt.js';

export interface StatusFlags {
  json: boolean;
  watch: boolean;
  /** Seconds between two looks with --watch. */
  interval: number;
}

interface Target {
  cluster: string;
  inventoryPath: string;
  nodes: ResolvedNode[];
  drbd: { name: string; nodes: string[] }[];
  /** The project when the playbook loads; else why there is no drift count. */
  project: Project | { reason: string };
}

async function loadTarget(inventory: string, io: CliIO, registry: StepKinds): Promise<Target | undefined> {
  const prompt = io.prompt ?? ttyPrompt();
  const inventoryPath = resolve(io.cwd, inventory);
  const r = await loadProject({ inventoryPath, registry, env: io.env, ...(prompt ? { prompt } : {}) });
  if (r.ok) {
    const p = r.project;
    return { cluster: p.cluster.name, inventoryPath: p.inventoryPath, nodes: p.nodes, drbd: p.cluster.drbd.map((d) => ({ name: d.name, nodes: d.nodes })), project: p };
  }
  // the playbook cannot be planned: still show the cluster when the inventory is fine
  const inv = await loadInventory({ path: inventoryPath, env: io.env, ...(prompt ? { prompt } : {}) });
  if (!inv.ok) {
    for (const e of r.errors) io.stderr(formatInputError(e) + '\n');
    io.stderr(`${r.errors.length} error(s); nothing was contacted.\n`);
    return undefined;
  }
  const first = r.errors[0];
  const reason = `the playbook cannot be planned: ${r.errors.length} error(s)${first ? `, first: ${formatInputError(first)}` : ''} (ha-provision validate shows them all)`;
  const i = inv.value;
  return { cluster: i.cluster.name, inventoryPath: i.absPath, nodes: i.nodes, drbd: i.cluster.drbd.map((d) => ({ name: d.name, nodes: d.nodes })), project: { reason } };
}

/** One look: every node in parallel, one round trip each. */
async function look(t: Target, links: NodeLink[], registry: StepKinds, now: () => Date, signal: AbortSignal): Promise<Status> {
  const started = performance.now();
  const project = 'steps' in t.project ? t.project : undefined;
  const sel = project ? selectWork(project, {}) : undefined;
  const steps = sel?.ok ? sel.selection.steps : [];
  const gathered: Gathered = {};
  const byName = new Map(links.map((l) => [l.node.name, l]));
  const peers = (name: string) => byName.get(name);
  const answers: NodeAnswer[] = await Promise.all(
    links.map(async (link): Promise<NodeAnswer> => {
      const node = link.node;
      const sudo = node.endpoint.become !== undefined;
      const mine = statusProbes(sudo);
      try {
        // the cluster's state and the steps' facts at once, on two channels of the one connection
        const [own, g] = await Promise.all([link.probe(mine, 'probe', undefined, signal), gatherNode(link, peers, steps, registry, signal)]);
        if ('error' in g) throw new Error(g.error);
        gathered[node.name] = g;
        return toAnswer(node.name, own);
      } catch (err) {
        const error = (err as Error).message.split('\n')[0]!.slice(0, 300);
        gathered[node.name] = { error };
        await link.reset();
        return { name: node.name, error };
      }
    }),
  );
  let drift: Drift;
  if (!project) drift = { state: 'unknown', reason: (t.project as { reason: string }).reason };
  else if (!sel?.ok) drift = { state: 'unknown', reason: sel ? sel.message : 'no selection' };
  else {
    try {
      drift = countDrift(buildPlan({ project, selection: sel.selection, registry, gathered, options: {}, now: now() }));
    } catch (err) {
      drift = { state: 'unknown', reason: `the playbook cannot be planned: ${(err as Error).message.slice(0, 300)}` };
    }
  }
  return buildStatus({
    cluster: t.cluster,
    inventory: t.inventoryPath,
    nodes: t.nodes.map((n) => n.name),
    drbd: t.drbd,
    answers,
    drift,
    at: now(),
    durationMs: Math.round(performance.now() - started),
  });
}

/** (node, step) pairs a plan would change, without listing them (`plan` shows them). */
export function countDrift(plan: Plan): Drift {
  let changes = 0,
    pending = 0,
    refused = 0,
    errors = 0,
    pairs = 0;
  for (const n of plan.nodes) {
    if (n.error !== undefined) errors++;
    for (const s of n.steps) {
      pairs++;
      if (s.status === 'change') changes++;
      else if (s.status === 'pending') pending++;
      else if (s.status === 'refused') refused++;
      else if (s.status === 'error') errors++;
    }
  }
  return { state: 'planned', changes, pending, refused, errors, pairs };
}

export async function statusCommand(inventory: string, flags: StatusFlags, io: CliIO, registry: StepKinds): Promise<number> {
  const t = await loadTarget(inventory, io, registry);
  if (!t) return EXIT.INVALID;
  const now = io.now ?? (() => new Date());
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const onSigint = () => stop.abort();
  if (io.signal) io.signal.addEventListener('abort', onSigint, { once: true });
  else process.on('SIGINT', onSigint);
  const links = t.nodes.map(
    (n) =>
      new NodeLink(
        n,
        (node) => openSession(node.endpoint, { hostKeys: node.hostKeys, signal: stop.signal }),
        () => {},
      ),
  );
  const tty = io.stdoutTTY;
  // Ctrl-C before the first look is shown: exit 3; with --watch after one: the last verdict's code
  let code: number = EXIT.INTERRUPTED;
  try {
    for (;;) {
      const s = await look(t, links, registry, now, stop.signal);
      if (stop.signal.aborted) {
        if (code === EXIT.INTERRUPTED) io.stderr('interrupted: no status shown.\n');
        break;
      }
      code = STATUS_EXIT[s.verdict];
      const text = flags.json ? safeJson(s, flags.watch && !tty ? undefined : 2) + '\n' : renderStatus(s, { color: tty !== undefined });
      // a terminal: clear and redraw; otherwise one print per look
      io.stdout(flags.watch && tty ? `\x1b[H\x1b[2J${text}\n(every ${flags.interval} s; Ctrl-C to stop)\n` : text);
      if (!flags.watch || stop.signal.aborted) break;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, flags.interval * 1000);
        stop.signal.addEventListener('abort', () => (clearTimeout(timer), r()), { once: true });
      });
      if (stop.signal.aborted) break;
    }
  } finally {
    if (!io.signal) process.off('SIGINT', onSigint);
    await Promise.all(links.map((l) => l.close()));
  }
  return code;
}
