/** `plan`: connect, read every fact of a node in one round trip, build the plan. Changes nothing. */
import PQueue from 'p-queue';
import { buildPlan, type Gathered } from '../plan/build.js';
import type { Selection, SelectOptions } from '../plan/select.js';
import type { Plan } from '../plan/types.js';
import { sealPlan } from '../plan/seal.js';
import type { Project } from '../playbook/resolve.js';
import type { RunDeps } from './context.js';
import { gatherNode } from './gather.js';
import { gateConnect, NodeLink } from './link.js';

/** Connect and read every node's facts, at most `concurrency` nodes at once. */
export async function gatherAll(links: readonly NodeLink[], selection: Selection, deps: RunDeps, concurrency: number): Promise<Gathered> {
  const gathered: Gathered = {};
  const queue = new PQueue({ concurrency });
  const byName = new Map(links.map((l) => [l.node.name, l]));
  const peers = (name: string) => byName.get(name);
  await Promise.all(
    links.map((link) =>
      queue.add(async () => {
        const g = await gatherNode(link, peers, selection.steps, deps.registry);
        gathered[link.node.name] = g;
        if ('error' in g) deps.emit({ type: 'node-failed', node: link.node.name, error: g.error });
      }),
    ),
  );
  return gathered;
}

export async function makePlan(req: { project: Project; selection: Selection; options: SelectOptions; concurrency?: number }, deps: RunDeps): Promise<Plan> {
  const connect = gateConnect(deps.connect);
  const links = req.selection.nodes.map((n) => new NodeLink(n, connect, deps.emit));
  try {
    const gathered = await gatherAll(links, req.selection, deps, req.concurrency ?? req.project.settings.concurrency);
    return sealPlan(buildPlan({ ...req, registry: deps.registry, gathered, now: deps.now() }));
  } finally {
    await Promise.all(links.map((l) => l.close()));
  }
}
