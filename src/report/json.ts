/** --json: collect the run and print one JSON document at the end. */
import type { Emit, NodeSummary, RunOutcome, StepOutcome } from '../run/events.js';
import type { ShownChange } from '../plan/types.js';

export interface JsonReport {
  runId?: string;
  outcome?: RunOutcome;
  durationMs?: number;
  summary?: Record<string, NodeSummary>;
  messages: { level: string; text: string; node?: string }[];
  steps: { node: string; step: string; outcome: StepOutcome; message?: string; changes: ShownChange[]; durationMs: number }[];
  unreachable: { node: string; error: string }[];
}

export function jsonCollector(): { emit: Emit; report: JsonReport } {
  const report: JsonReport = { messages: [], steps: [], unreachable: [] };
  const emit: Emit = (e) => {
    switch (e.type) {
      case 'run-start':
        report.runId = e.runId;
        return;
      case 'message':
        report.messages.push({ level: e.level, text: e.text, ...(e.node ? { node: e.node } : {}) });
        return;
      case 'node-failed':
        report.unreachable.push({ node: e.node, error: e.error });
        return;
      case 'step-result':
        report.steps.push({ node: e.node, step: e.step, outcome: e.outcome, ...(e.message ? { message: e.message } : {}), changes: e.changes, durationMs: e.durationMs });
        return;
      case 'run-end':
        report.outcome = e.outcome;
        report.durationMs = e.durationMs;
        report.summary = e.summary;
        return;
      case 'node-connected':
      case 'node-reconnect':
      case 'step-start':
      case 'step-progress':
      case 'command':
      case 'command-start':
      case 'step-change-start':
        return;
      default: {
        const never: never = e;
        return never;
      }
    }
  };
  return { emit, report };
}
