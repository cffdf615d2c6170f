/**
 * Scheduling: which step runs on which node when. Knows nothing about SSH.
 *
 * Every node walks its steps in playbook order; a step starts on a node only
 * after its barriers: each `waitFor` step finished on all its targets, and,
 * with strategy `linear`, the previous step finished on all of its targets
 * (nodes move step by step together). A node that fails stops; the others go
 * on until more than maxFailPercent of the nodes failed. A waited-for step
 * that failed or was skipped on any target blocks the waiting step (skipped).
 * When `signal` aborts (Ctrl-C), no new step starts; running steps finish.
 */
import PQueue from 'p-queue';
import type { StepOutcome } from './events.js';

export interface SchedStep {
  id: string;
  targets: readonly string[];
  waitFor: readonly string[];
}

export type StepRunResult = 'ok' | 'changed' | 'failed';

export interface ScheduleOptions {
  nodes: readonly string[];
  steps: readonly SchedStep[];
  strategy: 'linear' | 'free';
  concurrency: number;
  maxFailPercent: number;
  signal: AbortSignal;
  /** Runs one step on one node. A throw is an internal error: the step counts as 'failed' and onInternalError is told. */
  runStep(node: string, step: SchedStep): Promise<StepRunResult>;
  /** A runStep that threw (a bug, not a step that failed): told with the error, so that it is never silent. */
  onInternalError(node: string, step: SchedStep, err: unknown): void;
  /** Told about every step that does not run, and why. */
  onSkip?(node: string, step: SchedStep, outcome: 'skipped' | 'interrupted', why: string): void;
}

export interface ScheduleResult {
  outcomes: Map<string, Map<string, StepOutcome>>;
  failedNodes: string[];
  interrupted: boolean;
  /** max_fail_percent exceeded. */
  aborted: boolean;
}

interface Barrier {
  left: number;
  broken: boolean;
  done: Promise<void>;
  resolve: () => void;
}

export async function schedule(o: ScheduleOptions): Promise<ScheduleResult> {
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1) throw new Error(`concurrency must be an integer >= 1, got ${o.concurrency}`);
  const queue = new PQueue({ concurrency: o.concurrency });
  const outcomes = new Map(o.nodes.map((n) => [n, new Map<string, StepOutcome>()]));
  const barriers = new Map<string, Barrier>();
  for (const s of o.steps) {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const b: Barrier = { left: s.targets.length, broken: false, done, resolve };
    if (b.left === 0) resolve();
    barriers.set(s.id, b);
  }
  const failed = new Set<string>();
  const blockedNodes = new Map<string, string>(); // node -> why it stopped without failing
  let aborted = false;
  let interrupted = false;

  const finish = (node: string, step: SchedStep, outcome: StepOutcome) => {
    outcomes.get(node)!.set(step.id, outcome);
    const b = barriers.get(step.id)!;
    if (outcome === 'failed' || outcome === 'skipped' || outcome === 'interrupted') b.broken = true;
    if (--b.left === 0) b.resolve();
  };
  const stopReason = (node: string): { outcome: 'skipped' | 'interrupted'; why: string } | undefined => {
    if (failed.has(node)) return { outcome: 'skipped', why: 'node failed at an earlier step' };
    const blockedWhy = blockedNodes.get(node);
    if (blockedWhy !== undefined) return { outcome: 'skipped', why: blockedWhy };
    if (o.signal.aborted) {
      interrupted = true;
      return { outcome: 'interrupted', why: 'run interrupted' };
    }
    if (aborted) return { outcome: 'skipped', why: `more than ${o.maxFailPercent}% of nodes failed` };
    return undefined;
  };

  const walk = async (node: string) => {
    for (let i = 0; i < o.steps.length; i++) {
      const step = o.steps[i]!;
      if (!step.targets.includes(node)) continue;
      const waits = step.waitFor.filter((w) => barriers.has(w));
      if (o.strategy === 'linear' && i > 0) await barriers.get(o.steps[i - 1]!.id)!.done;
      await Promise.all(waits.map((w) => barriers.get(w)!.done));
      const pre = stopReason(node);
      if (pre) {
        o.onSkip?.(node, step, pre.outcome, pre.why);
        finish(node, step, pre.outcome);
        continue;
      }
      const blocked = waits.find((w) => barriers.get(w)!.broken);
      if (blocked !== undefined) {
        const why = `waits for step ${blocked}, which did not finish on all its nodes`;
        o.onSkip?.(node, step, 'skipped', why);
        finish(node, step, 'skipped');
        blockedNodes.set(node, `blocked: ${why}`);
        continue;
      }
      const result = await queue.add(async (): Promise<StepOutcome> => {
        const late = stopReason(node);
        if (late) {
          o.onSkip?.(node, step, late.outcome, late.why);
          return late.outcome;
        }
        try {
          return await o.runStep(node, step);
        } catch (err) {
          o.onInternalError(node, step, err);
          return 'failed';
        }
      });
      const outcome: StepOutcome = result ?? 'failed';
      finish(node, step, outcome);
      if (outcome === 'failed') {
        failed.add(node);
        if ((failed.size / o.nodes.length) * 100 > o.maxFailPercent) aborted = true;
      }
    }
  };
  await Promise.all(o.nodes.map(walk));
  await queue.onIdle();
  // Ctrl-C with work left undone (a step that failed after it, e.g. cut short by a second Ctrl-C,
  // or one never started) is an interrupted run: the user stopped it, and a rerun resumes it
  const undone = [...outcomes.values()].some((m) => [...m.values()].some((x) => x !== 'ok' && x !== 'changed'));
  return { outcomes, failedNodes: o.nodes.filter((n) => failed.has(n)), interrupted: interrupted || (o.signal.aborted && undone), aborted };
}
