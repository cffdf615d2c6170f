/** Facts of all of a node's steps in ONE round trip (plan, and apply's first look). */
import type { Gathered } from '../plan/build.js';
import { stepNode } from '../plan/select.js';
import type { ResolvedNode, ResolvedStep } from '../playbook/resolve.js';
import type { Facts, Probe } from '../steps/contract.js';
import type { StepKinds } from '../steps/registry.js';
import type { NodeLink } from './link.js';

export type NodeGathered = Gathered[string];

/** The probes of one step on one node, or why they cannot be built. */
export function stepProbes(registry: StepKinds, step: ResolvedStep, node: ResolvedNode): Probe[] {
  return registry.kind(step.kind).probes(step.paramsByNode[node.name], stepNode(node));
}

export function toFacts(probes: readonly Probe[], results: readonly { exitCode: number; stdout: string; stderr: string }[]): Facts {
  return Object.fromEntries(probes.map((p, i) => [p.id, results[i]!]));
}

export async function gatherNode(link: NodeLink, steps: readonly ResolvedStep[], registry: StepKinds, signal?: AbortSignal): Promise<NodeGathered> {
  const node = link.node;
  const mine = steps.filter((s) => s.targets.includes(node.name));
  const out: Record<string, { facts: Facts } | { error: string }> = {};
  const all: Probe[] = [];
  const spans: { step: ResolvedStep; probes: Probe[]; at: number }[] = [];
  for (const step of mine) {
    try {
      const probes = stepProbes(registry, step, node);
      spans.push({ step, probes, at: all.length });
      all.push(...probes);
    } catch (err) {
      out[step.id] = { error: `cannot build probes: ${(err as Error).message}` };
    }
  }
  let results;
  try {
    results = await link.probe(all, 'probe', undefined, signal);
  } catch (err) {
    return { error: (err as Error).message };
  }
  for (const sp of spans) out[sp.step.id] = { facts: toFacts(sp.probes, results.slice(sp.at, sp.at + sp.probes.length)) };
  return { steps: out };
}
