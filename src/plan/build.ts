/**
 * Planning from gathered facts: pure and synchronous.
 *
 * The "known after apply" rule: a step is `pending` when its facts may
 * depend on an earlier change: an earlier step that is not `ok` and whose
 * kind may write what this step's kind reads (`writes`/`reads`, resource
 * names, src/steps/contract.ts: on the same node any overlap counts, on
 * another node only shared names such as drbd:, cib:, cluster:; a kind that
 * declares nothing may read or write anything, anywhere: e.g. `command`).
 * A step that would run after its node stopped (an earlier step refused or
 * in error there) or after a waited-for step that cannot finish is pending
 * too. Its changes are still computed from the current facts and shown, but
 * they are provisional: apply decides on the facts it reads when it gets there.
 *
 * A refusal no earlier change can lift stays `refused` (even after a step
 * that stops the node, a waited-for step, or other changes): what the step
 * reads stays as it is until then, so apply would refuse it too. `plan`
 * exits non-zero for it and `apply` stops before its first change.
 */
import type { Project } from '../playbook/resolve.js';
import { mayAffect, type Facts } from '../steps/contract.js';
import { maskSecrets } from '../mask.js';
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
  // every EARLIER step that is not ok, on any node, with what it may write (undefined: anything);
  // a step's own run on the other nodes is not earlier (it runs alongside)
  const dirty: { node: string; step: string; status: string; writes: readonly string[] | undefined; stops: boolean }[] = [];
  // step id -> a node where it is refused or in error (steps waiting for it will not run)
  const stuck = new Map<string, { node: string; status: string }>();
  for (const node of selection.nodes) {
    const g = gathered[node.name];
    if (g && 'error' in g) byNode.get(node.name)!.error = maskSecrets(g.error, node.secrets);
  }
  for (const step of selection.steps) {
    const kind = registry.kind(step.kind);
    const mine: typeof dirty = [];
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
      // an earlier change that may alter what this step reads: on this node first, then elsewhere
      const lifter = dirty.find((d) => d.node === name && mayAffect(d.writes, reads, true)) ?? dirty.find((d) => d.node !== name && mayAffect(d.writes, reads, false));
      const stopper = dirty.find((d) => d.node === name && d.stops);
      const blocked = step.waitFor.find((w) => stuck.has(w));
      let why: string | undefined;
      if (lifter) {
        if (lifter.node === name) why = `step ${lifter.step} ${lifter.stops ? 'stops this node' : 'changes this node'} first`;
        else why = lifter.stops ? `step ${lifter.step} (${lifter.status} on ${lifter.node}) may change what it reads` : `step ${lifter.step} changes ${lifter.node} first`;
      } else if (ps.status !== 'refused' && stopper) {
        why = `step ${stopper.step} stops this node first`;
      } else if (ps.status !== 'refused' && blocked !== undefined) {
        const b = stuck.get(blocked)!;
        why = `waits for step ${blocked}, which is ${b.status === 'refused' ? 'refused' : 'in error'} on ${b.node}`;
      }
      if (ps.status !== 'error' && why !== undefined) {
        ps = { ...ps, status: 'pending', reason: ps.reason ? `known after apply: ${why}; now: ${ps.reason}` : `known after apply: ${why}` };
      }
      if (ps.status !== 'ok') {
        const stops = ps.status === 'refused' || ps.status === 'error';
        mine.push({ node: name, step: step.id, status: ps.status, writes: safe(() => kind.writes?.(params, sn)), stops });
        if (stops && !stuck.has(step.id)) stuck.set(step.id, { node: name, status: ps.status });
      }
      pn.steps.push(ps);
    }
    dirty.push(...mine);
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
