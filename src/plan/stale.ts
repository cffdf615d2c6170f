/** Is a saved plan still the plan? Pure: compares it with a plan made now. */
import type { Plan } from './types.js';

export function staleReasons(saved: Plan, fresh: Plan): string[] {
  const reasons: string[] = [];
  if (saved.inventoryDigest !== fresh.inventoryDigest) reasons.push(`inventory ${fresh.inventoryPath} changed since the plan was made`);
  if (saved.playbookDigest !== fresh.playbookDigest) reasons.push(`playbook ${fresh.playbookPath} changed since the plan was made`);
  if (JSON.stringify(saved.limit ?? []) !== JSON.stringify(fresh.limit ?? [])) reasons.push(`the plan was made with --limit ${(saved.limit ?? []).join(' ') || '(none)'}`);
  if ((saved.from ?? '') !== (fresh.from ?? '')) reasons.push(`the plan was made with --from ${saved.from ?? '(none)'}`);
  if (reasons.length > 0) return reasons;
  const freshNodes = new Map(fresh.nodes.map((n) => [n.name, n]));
  for (const sn of saved.nodes) {
    const fn = freshNodes.get(sn.name);
    if (!fn) {
      reasons.push(`node ${sn.name} is no longer in the run`);
      continue;
    }
    if (sn.error !== undefined) reasons.push(`node ${sn.name} was unreachable when the plan was made`);
    if (fn.error !== undefined) {
      reasons.push(`node ${sn.name} is unreachable now: ${fn.error}`);
      continue;
    }
    const freshSteps = new Map(fn.steps.map((s) => [s.id, s]));
    for (const ss of sn.steps) {
      const fs = freshSteps.get(ss.id);
      if (!fs) reasons.push(`step ${ss.id} on ${sn.name} is no longer in the run`);
      else if (fs.factsDigest !== ss.factsDigest || fs.changesDigest !== ss.changesDigest) {
        reasons.push(`step ${ss.id} on ${sn.name}: the node changed since the plan was made (now ${fs.status}${fs.status === 'ok' ? ', already right' : ''})`);
      }
    }
    if (fn.steps.length !== sn.steps.length) reasons.push(`node ${sn.name}: the set of steps differs from the plan`);
  }
  if (fresh.nodes.length !== saved.nodes.length) reasons.push('the set of nodes differs from the plan');
  return reasons;
}
