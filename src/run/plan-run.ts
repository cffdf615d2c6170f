/** `plan`: connect, read every fact of a node in one round trip, build the plan. Changes nothing. */
import { buildPlan, type Gathered } from '../plan/build.js';
import type { Selection, SelectOptions } from '../plan/select.js';
import type { Plan } from '../plan/types.js';
import type { Project } from '../playbook/resolve.js';
import type { RunDeps } from './context.js';
import { gatherNode } from './gather.js';
import { NodeLink } from './link.js';

export async function gatherAll(links: readonly NodeLink[], selection: Selection, deps: RunDeps, signal?: AbortSignal): Promise<Gathered> {
  const gathered: Gathered = {};
  await Promise.all(
    links.map(async (link) => {
      const g = await gatherNode(link, selection.steps, deps.registry, signal);
      gathered[link.node.name] = g;
      if ('error' in g) deps.emit({ type: 'node-failed', node: link.node.name, error: g.error });
    }),
  );
  return gathered;
}

export async function makePlan(req: { project: Project; selection: Selection; options: SelectOptions }, deps: RunDeps): Promise<Plan> {
  const links = req.selection.nodes.map((n) => new NodeLink(n, deps.connect, deps.emit));
  try {
    const gathered = await gatherAll(links, req.selection, deps);
    return buildPlan({ ...req, registry: deps.registry, gathered, now: deps.now() });
  } finally {
    await Promise.all(links.map((l) => l.close()));
  }
}
