/** Plan -> text for people. Pure. */
import { escapeTerminal } from '../report/escape.js';
import type { Plan, PlanStatus, ShownChange } from './types.js';

const SIGN: Record<PlanStatus, string> = { ok: '=', change: '~', pending: '?', refused: '!', error: 'x' };

function renderChange(c: ShownChange, indent: string): string[] {
  switch (c.kind) {
    case 'exec':
      return [`${indent}$ ${c.sudo ? 'sudo ' : ''}${c.argv.join(' ')}${c.stdin ? ' <stdin>' : ''}   # ${c.description}`];
    case 'upload':
      return [
        `${indent}${c.description}`,
        ...c.diff
          .replace(/\n$/, '')
          .split('\n')
          .map((l) => `${indent}  ${l}`),
      ];
    case 'carry':
      return [`${indent}carry ${c.from}:${c.source} -> ${c.path} (${c.mode} ${c.owner}:${c.group}, through the controller, content not shown)   # ${c.description}`];
    case 'refuse':
      return [`${indent}refused: ${c.reason}`];
    case 'wait':
      return [`${indent}wait: ${c.description}${c.progress !== undefined ? ` (${Math.round(c.progress * 100)}%)` : ''}`];
  }
}

export function countPlan(plan: Plan): Record<PlanStatus, number> {
  const counts: Record<PlanStatus, number> = { ok: 0, change: 0, pending: 0, refused: 0, error: 0 };
  for (const n of plan.nodes) for (const s of n.steps) counts[s.status]++;
  return counts;
}

export function renderPlan(plan: Plan, opts: { showOk?: boolean } = {}): string {
  const out: string[] = [`Plan for ${plan.inventoryPath} (playbook ${plan.playbookPath})`];
  for (const n of plan.nodes) {
    out.push('', `${n.name}${n.error ? `: UNREACHABLE: ${n.error}` : ''}`);
    let okCount = 0;
    for (const s of n.steps) {
      if (s.status === 'ok' && !opts.showOk) {
        okCount++;
        continue;
      }
      out.push(`  ${SIGN[s.status]} ${s.id} [${s.kind}] ${s.status}${s.reason ? ` (${s.reason})` : ''}`);
      for (const c of s.changes) out.push(...renderChange(c, '      '));
    }
    if (okCount > 0) out.push(`  = ${okCount} step(s) already right`);
  }
  const c = countPlan(plan);
  out.push('', `Plan: ${c.change} to change, ${c.pending} known after apply, ${c.ok} ok, ${c.refused} refused, ${c.error} error(s).`);
  // diffs, descriptions and reasons come from nodes' files and output (or an edited plan file): shown, not obeyed
  return escapeTerminal(out.join('\n')) + '\n';
}
