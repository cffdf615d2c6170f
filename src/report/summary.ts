/** The final per-node summary: pure text. */
import type { NodeSummary, RunOutcome } from '../run/events.js';

export function renderSummary(summary: Record<string, NodeSummary>, outcome: RunOutcome, durationMs: number): string {
  const names = Object.keys(summary);
  const w = Math.max(4, ...names.map((n) => n.length));
  const lines = [`${'node'.padEnd(w)}  ok  changed  failed  skipped`];
  for (const n of names) {
    const s = summary[n]!;
    lines.push(`${n.padEnd(w)}  ${String(s.ok).padStart(2)}  ${String(s.changed).padStart(7)}  ${String(s.failed).padStart(6)}  ${String(s.skipped).padStart(7)}`);
  }
  lines.push(`${outcome} in ${(durationMs / 1000).toFixed(2)} s`);
  return lines.join('\n') + '\n';
}
