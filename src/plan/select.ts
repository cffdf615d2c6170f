/** Which nodes and steps a run covers (--limit, --from). */
import type { Project, ResolvedNode, ResolvedStep } from '../playbook/resolve.js';

export interface Selection {
  nodes: ResolvedNode[];
  steps: ResolvedStep[];
}

export interface SelectOptions {
  limit?: readonly string[];
  from?: string;
}

export type SelectResult = { ok: true; selection: Selection } | { ok: false; message: string };

export function selectWork(project: Project, opts: SelectOptions): SelectResult {
  const known = new Set(project.nodes.map((n) => n.name));
  const unknown = (opts.limit ?? []).filter((n) => !known.has(n));
  if (unknown.length > 0) return { ok: false, message: `--limit: unknown node(s) ${unknown.join(', ')} (inventory has: ${[...known].join(', ')})` };
  const limit = opts.limit && opts.limit.length > 0 ? new Set(opts.limit) : undefined;
  let start = 0;
  if (opts.from !== undefined) {
    start = project.steps.findIndex((s) => s.id === opts.from);
    if (start < 0) return { ok: false, message: `--from: unknown step "${opts.from}" (playbook has: ${project.steps.map((s) => s.id).join(', ')})` };
  }
  // every node masks every secret of the project (cluster secrets such as DRBD shared secrets too)
  const nodes = project.nodes.filter((n) => !limit || limit.has(n.name)).map((n) => ({ ...n, secrets: [...new Set([...n.secrets, ...project.secrets])] }));
  const names = new Set(nodes.map((n) => n.name));
  const steps = project.steps
    .slice(start)
    .map((s) => ({ ...s, targets: s.targets.filter((t) => names.has(t)) }))
    .filter((s) => s.targets.length > 0);
  return { ok: true, selection: { nodes, steps } };
}

/** The StepNode view of a ResolvedNode (no credentials). */
export function stepNode(n: ResolvedNode) {
  return { name: n.name, roles: n.roles, groups: n.groups, networks: n.networks, vars: n.vars, secrets: n.secrets };
}
