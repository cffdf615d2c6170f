/** Typed run events. The core emits these and never prints; reporters, the log and the journal listen. */
import type { ShownChange } from '../plan/types.js';

/** Final state of one step on one node in a run. */
export type StepOutcome = 'ok' | 'changed' | 'failed' | 'skipped' | 'interrupted';

export interface NodeSummary {
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
}

/** stale: apply --plan found the plan stale; refused: the plan held a refusal no earlier step can lift. Both: nothing changed. */
export type RunOutcome = 'ok' | 'changed' | 'failed' | 'interrupted' | 'stale' | 'refused';

export type RunEvent =
  | { type: 'run-start'; runId: string; mode: 'plan' | 'apply'; nodes: string[]; steps: { id: string; title: string; targets: string[] }[] }
  /** detail: for the run log only (an internal error's stack). */
  | { type: 'message'; level: 'info' | 'warn' | 'error'; text: string; node?: string; detail?: string }
  | { type: 'node-connected'; node: string; durationMs: number }
  | { type: 'node-failed'; node: string; error: string }
  | { type: 'node-reconnect'; node: string; attempt: number; delayMs: number; error: string }
  | { type: 'step-start'; node: string; step: string; title: string }
  /** The step is about to make its first change on the node (the journal records it: a run killed after it may have left the step half-done). */
  | { type: 'step-change-start'; node: string; step: string }
  | { type: 'step-progress'; node: string; step: string; description: string; progress?: number }
  | { type: 'step-result'; node: string; step: string; outcome: StepOutcome; changes: ShownChange[]; message?: string; durationMs: number }
  | {
      type: 'command';
      node: string;
      step?: string;
      phase: 'probe' | 'change' | 'verify';
      /** Masked. */
      argv: string[];
      exitCode: number;
      durationMs: number;
      /** Masked, truncated. */
      stdout: string;
      stderr: string;
    }
  /**
   * A change command is about to be sent (argv masked). The run log records it
   * before the command runs, so a run killed while it runs still shows it.
   */
  | { type: 'command-start'; node: string; step?: string; argv: string[] }
  | { type: 'run-end'; runId: string; outcome: RunOutcome; summary: Record<string, NodeSummary>; durationMs: number };

export type Emit = (e: RunEvent) => void;

/** Fan events out to subscribers; a failing subscriber does not stop the run. */
export function fanOut(subscribers: readonly Emit[], onError: (err: unknown) => void = () => {}): Emit {
  return (e) => {
    for (const s of subscribers) {
      try {
        s(e);
      } catch (err) {
        onError(err);
      }
    }
  };
}
