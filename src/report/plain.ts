/** Plain lines (no TTY, CI): one line per step result that matters, then the summary. */
import type { Emit, RunEvent } from '../run/events.js';
import { escapeDeep } from './escape.js';
import { renderSummary } from './summary.js';

export interface PlainOptions {
  write: (s: string) => void;
  /** Also print steps that were already right. */
  verbose?: boolean;
}

export function plainReporter(o: PlainOptions): Emit {
  const lastProgress = new Map<string, string>();
  return (raw: RunEvent) => {
    // commands are not shown: not copied either (most events of a run; their output is the largest part)
    if (raw.type === 'command' || raw.type === 'command-start' || raw.type === 'step-change-start') return;
    const e = escapeDeep(raw); // what nodes say is shown, not obeyed (./escape.ts)
    switch (e.type) {
      case 'run-start':
        o.write(`run ${e.runId}: ${e.steps.length} step(s) on ${e.nodes.length} node(s)\n`);
        return;
      case 'message':
        o.write(`${e.level === 'info' ? '' : `${e.level}: `}${e.node ? `${e.node}: ` : ''}${e.text}\n`);
        return;
      case 'node-connected':
        if (o.verbose) o.write(`${e.node}: connected in ${e.durationMs} ms\n`);
        return;
      case 'node-failed':
        o.write(`${e.node}: UNREACHABLE: ${e.error}\n`);
        return;
      case 'node-reconnect':
        o.write(`${e.node}: connection lost (${e.error}); reconnecting in ${e.delayMs} ms (attempt ${e.attempt + 1})\n`);
        return;
      case 'step-start':
        if (o.verbose) o.write(`${e.node}: ${e.step} ...\n`);
        return;
      case 'step-result': {
        if (e.outcome === 'ok' && !o.verbose && e.message === undefined) return;
        const head = `${e.node}: ${e.step}: ${e.outcome}${e.message ? ` (${e.message})` : ''}`;
        const detail = e.changes.map((c) => `    ${c.kind === 'refuse' ? c.reason : c.description}\n`).join('');
        o.write(`${head}\n${detail}`);
        return;
      }
      case 'step-progress': {
        const key = `${e.node}\0${e.step}`;
        const text = `${e.description}${e.progress !== undefined ? ` (${Math.round(e.progress * 100)}%)` : ''}`;
        if (lastProgress.get(key) === text) return;
        lastProgress.set(key, text);
        o.write(`${e.node}: ${e.step}: waiting: ${text}\n`);
        return;
      }
      case 'run-end':
        if (Object.keys(e.summary).length > 0) o.write(renderSummary(e.summary, e.outcome, e.durationMs));
        return;
      default: {
        const never: never = e;
        return never;
      }
    }
  };
}
