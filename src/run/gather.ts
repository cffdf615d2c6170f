/** Facts of all of a node's steps in ONE round trip (plan, and apply's first look). */
import type { Gathered } from '../plan/build.js';
import { stepNode } from '../plan/select.js';
import type { ResolvedNode, ResolvedStep } from '../playbook/resolve.js';
import type { Facts, Probe } from '../steps/contract.js';
import type { StepKinds } from '../steps/registry.js';
import { hasRemote, probeAcross, type NodeLink, type Peers } from './link.js';

export type NodeGathered = Gathered[string];

/** The probes of one step on one node, or why they cannot be built. */
export function stepProbes(registry: StepKinds, step: ResolvedStep, node: ResolvedNode): Probe[] {
  return registry.kind(step.kind).probes(step.paramsByNode[node.name], stepNode(node));
}

export function toFacts(probes: readonly Probe[], results: readonly { exitCode: number; stdout: string; stderr: string }[]): Facts {
  return Object.fromEntries(probes.map((p, i) => [p.id, results[i]!]));
}

/**
 * Every fact of a node's steps: the probes on the node itself in ONE round
 * trip; a step that also reads other nodes (contract.ts Probe.node) reads
 * them on their links at the same time, and when one of those cannot be
 * read, only that step is in error.
 */
export async function gatherNode(link: NodeLink, peers: Peers, steps: readonly ResolvedStep[], registry: StepKinds, signal?: AbortSignal): Promise<NodeGathered> {
  const node = link.node;
  const mine = steps.filter((s) => s.targets.includes(node.name));
  const out: Record<string, { facts: Facts } | { error: string }> = {};
  const all: Probe[] = [];
  const spans: { step: ResolvedStep; probes: Probe[]; at: number }[] = [];
  const across: { step: ResolvedStep; probes: Probe[] }[] = [];
  for (const step of mine) {
    try {
      const probes = stepProbes(registry, step, node);
      if (hasRemote(probes)) {
        across.push({ step, probes });
        continue;
      }
      spans.push({ step, probes, at: all.length });
      all.push(...probes);
    } catch (err) {
      out[step.id] = { error: `cannot build probes: ${(err as Error).message}` };
    }
  }
  const remote = Promise.all(
    across.map(async ({ step, probes }) => {
      try {
        out[step.id] = { facts: toFacts(probes, await probeAcross(link, peers, probes, 'probe', step.id, signal)) };
      } catch (err) {
        out[step.id] = { error: (err as Error).message };
      }
    }),
  );
  let results;
  try {
    [results] = await Promise.all([link.probe(all, 'probe', undefined, signal), remote]);
  } catch (err) {
    await remote;
    return { error: (err as Error).message };
  }
  for (const sp of spans) out[sp.step.id] = { facts: toFacts(sp.probes, results.slice(sp.at, sp.at + sp.probes.length)) };
  return { steps: out };
}
