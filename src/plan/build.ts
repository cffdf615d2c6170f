/**
 * Planning from gathered facts: pure and synchronous.
 *
 * The "known after apply" rule: a step is `pending` when its facts may
 * depend on an earlier change: an earlier step on the same node that is not
 * `ok` and whose kind may write what this step's kind reads (declared paths
 * overlap; a kind that declares nothing may read or write anything: e.g.
 * `command`), or an earlier step on the node that is refused/error (the node
 * stops there), or a step it waits for that is not `ok` on some node. Its
 * changes are still computed from the current facts and shown, but they are
 * provisional: apply decides on the facts it reads when it gets there.
 */
import type { Project } from '../playbook/resolve.js';
import { pathsOverlap, type Facts } from '../steps/contract.js';
import { maskSecrets } from '../steps/mask.js';
import type { StepKinds } from '../steps/registry.js';
import { changesDigest, factsDigest } from './digest.js';
import { evaluate } from './evaluate.js';
import { stepNode, type Selection, type SelectOptions } from './select.js';
import { showChange } from './show.js';
import type { Plan, PlanNode, PlanStep } from './types.js';

/** Per node: a connection error, or facts per step id (or that step's probe error). */
export type Gathered = Record<string, { error: string } | { steps: Record<string, { facts: Facts } | { error: string }> }>;

export interface BuildPlanInput {
  project: Project;
  selection: Selection;
  registry: StepKinds;
  gathered: Gathered;
  options: SelectOptions;
  now: Date;
}

export function buildPlan({ project, selection, registry, gathered, options, now }: BuildPlanInput): Plan {
  const byNode = new Map<string, PlanNode>(selection.nodes.map((n) => [n.name, { name: n.name, steps: [] }]));
  const notOk = new Map<string, boolean>(); // step id -> not ok on some node
  // per node: earlier steps not ok, with the paths they may write (undefined: anything)
  const dirty = new Map<string, { step: string; writes: readonly string[] | undefined; stops: boolean }[]>();
  for (const node of selection.nodes) {
    const g = gathered[node.name];
    if (g && 'error' in g) byNode.get(node.name)!.error = maskSecrets(g.error, node.secrets);
  }
  for (const step of selection.steps) {
    const kind = registry.kind(step.kind);
    for (const name of step.targets) {
      const node = selection.nodes.find((n) => n.name === name);
      const pn = byNode.get(name);
      if (!node || !pn) continue; // not in this run
      const g = gathered[name];
      const base = { id: step.id, kind: step.kind, title: step.title };
      let ps: PlanStep;
      if (!g || 'error' in g) {
        ps = { ...base, status: 'error', factsDigest: '', changesDigest: changesDigest([]), changes: [], reason: pn.error ?? 'no facts' };
      } else {
        const sf = g.steps[step.id];
        if (!sf || 'error' in sf) {
          const reason = maskSecrets(sf ? sf.error : 'no facts gathered', node.secrets);
          ps = { ...base, status: 'error', factsDigest: '', changesDigest: changesDigest([]), changes: [], reason };
        } else {
          const ev = evaluate(kind, step.paramsByNode[name], sf.facts, stepNode(node));
          const changes = ev.changes.map((c) => showChange(c, node.secrets));
          ps = {
            ...base,
            status: ev.status,
            factsDigest: factsDigest(sf.facts, node.secrets, kind.probes(step.paramsByNode[name], stepNode(node))),
            changesDigest: changesDigest(changes),
            changes,
            ...('reason' in ev ? { reason: maskSecrets(ev.reason, node.secrets) } : {}),
          };
        }
      }
      const params = step.paramsByNode[name];
      const sn = stepNode(node);
      const reads = safe(() => kind.reads?.(params, sn));
      const waited = step.waitFor.find((w) => notOk.get(w));
      const earlier = (dirty.get(name) ?? []).find(
        (d) => d.stops || d.writes === undefined || reads === undefined || d.writes.some((w) => reads.some((r) => pathsOverlap(w, r))),
      );
      if (ps.status !== 'error' && (earlier !== undefined || waited !== undefined)) {
        const why = earlier
          ? `known after apply: step ${earlier.step} ${earlier.stops ? 'stops this node' : 'changes this node'} first`
          : `known after apply: waits for step ${waited}, which changes first`;
        ps = { ...ps, status: 'pending', reason: ps.reason ? `${why}; now: ${ps.reason}` : why };
      }
      if (ps.status !== 'ok') {
        notOk.set(step.id, true);
        const list = dirty.get(name) ?? [];
        list.push({ step: step.id, writes: safe(() => kind.writes?.(params, sn)), stops: ps.status === 'refused' || ps.status === 'error' });
        dirty.set(name, list);
      }
      pn.steps.push(ps);
    }
  }
  return {
    format: 'ha-provision/plan',
    version: 1,
    createdAt: now.toISOString(),
    inventoryPath: project.inventoryPath,
    playbookPath: project.playbookPath,
    inventoryDigest: project.inventoryDigest,
    playbookDigest: project.playbookDigest,
    ...(options.limit && options.limit.length > 0 ? { limit: [...options.limit] } : {}),
    ...(options.from !== undefined ? { from: options.from } : {}),
    nodes: [...byNode.values()],
  };
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
