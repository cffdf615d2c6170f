import type { NodeSummary, RunOutcome, StepOutcome } from './events.js';

export function summarise(outcomes: Map<string, Map<string, StepOutcome>>): Record<string, NodeSummary> {
  const out: Record<string, NodeSummary> = {};
  for (const [node, steps] of outcomes) {
    const s: NodeSummary = { ok: 0, changed: 0, failed: 0, skipped: 0 };
    for (const o of steps.values()) {
      switch (o) {
        case 'ok':
          s.ok++;
          break;
        case 'changed':
          s.changed++;
          break;
        case 'failed':
          s.failed++;
          break;
        case 'skipped':
        case 'interrupted':
          s.skipped++;
          break;
      }
    }
    out[node] = s;
  }
  return out;
}

export function runOutcome(summary: Record<string, NodeSummary>, interrupted: boolean): RunOutcome {
  const all = Object.values(summary);
  if (interrupted) return 'interrupted';
  if (all.some((s) => s.failed > 0)) return 'failed';
  if (all.some((s) => s.skipped > 0)) return 'failed';
  if (all.some((s) => s.changed > 0)) return 'changed';
  return 'ok';
}
