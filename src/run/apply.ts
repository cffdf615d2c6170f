/**
 * `apply`: lock, journal, one session per node, facts of every step read in
 * one round trip per node, then the scheduler runs the steps (re-check,
 * change, verify). With a saved plan, the plan is refused when stale. The
 * plan made from the facts read first is checked before anything changes: a
 * refusal no earlier step can lift stops the run there (nothing changed).
 * Everything is told as run events, once: reporters, run log and journal
 * (journalListener) all listen to the same stream.
 */
import { join } from 'node:path';
import { buildPlan, type Gathered } from '../plan/build.js';
import { paramsDigest } from '../plan/digest.js';
import type { Selection, SelectOptions } from '../plan/select.js';
import { staleReasons } from '../plan/stale.js';
import type { Plan, PlanStep } from '../plan/types.js';
import type { Project, ResolvedStep } from '../playbook/resolve.js';
import type { RunDeps } from './context.js';
import type { Emit, NodeSummary, RunOutcome } from './events.js';
import { badLinesMessage, journalListener, lastRun, readJournal, resumeMessage, startJournal } from './journal.js';
import { gateConnect, hasRemote, NodeLink } from './link.js';
import { acquireLock } from './lock.js';
import { gatherAll } from './plan-run.js';
import { schedule } from './scheduler.js';
import { FactCache } from './fact-cache.js';
import { stepProbes } from './gather.js';
import { runStep, type StepContext, type StepRun } from './step.js';
import { runOutcome, summarise } from './summary.js';

export interface ApplyRequest {
  project: Project;
  selection: Selection;
  options: SelectOptions;
  /** apply --plan: apply exactly this plan, refused when stale. */
  plan?: Plan;
  /** Aborting stops starting new steps (Ctrl-C); running steps finish. */
  signal: AbortSignal;
  concurrency?: number;
}

export type ApplyResult =
  | { kind: 'locked'; message: string }
  | { kind: 'stale'; reasons: string[] }
  | { kind: 'refused'; refusals: Refusal[] }
  | { kind: 'done'; runId: string; outcome: RunOutcome; summary: Record<string, NodeSummary> };

/** A step the plan shows refused: no earlier change can lift it. */
export interface Refusal {
  node: string;
  step: string;
  reason: string;
}

/** The plan's refusals (status `refused`: certain, see src/plan/build.ts). */
function planRefusals(plan: Plan): Refusal[] {
  return plan.nodes.flatMap((n) => n.steps.filter((s) => s.status === 'refused').map((s) => ({ node: n.name, step: s.id, reason: s.reason ?? 'refused' })));
}

export function journalPath(stateDir: string): string {
  return join(stateDir, 'journal.jsonl');
}

export async function runApply(req: ApplyRequest, deps: RunDeps): Promise<ApplyResult> {
  const { project, selection } = req;
  const stateDir = project.settings.stateDir;
  const runId = deps.newRunId();
  const started = deps.now();
  const lock = acquireLock(stateDir, { pid: deps.pid, host: deps.host, startedAt: started.toISOString(), runId });
  if (!lock.ok) return { kind: 'locked', message: lock.message };
  const jpath = journalPath(stateDir);
  const previous = readJournal(jpath);
  const journal = startJournal(jpath, deps.now);
  const toJournal = journalListener(journal, {
    pid: deps.pid,
    host: deps.host,
    inventoryDigest: project.inventoryDigest,
    playbookDigest: project.playbookDigest,
    paramsDigest: (node, step) => paramsDigest(selection.steps.find((s) => s.id === step)?.paramsByNode[node]),
  });
  // the journal first: a change is recorded before anyone is told of it
  const emit: Emit = (e) => {
    toJournal(e);
    deps.emit(e);
  };
  const run: RunDeps = { ...deps, emit };
  const connect = gateConnect(run.connect);
  const links = new Map(selection.nodes.map((n) => [n.name, new NodeLink(n, connect, emit)]));
  try {
    if (lock.tookOver) {
      emit({
        type: 'message',
        level: 'warn',
        text: `took over a stale lock left by pid ${lock.tookOver.pid} (run ${lock.tookOver.runId}, started ${lock.tookOver.startedAt}), which is no longer running`,
      });
    }
    const unreadable = badLinesMessage(jpath, previous.badLines);
    if (unreadable) emit({ type: 'message', level: 'warn', text: unreadable });
    const resume = resumeMessage(lastRun(previous.entries));
    if (resume) emit({ type: 'message', level: 'info', text: resume });

    emit({
      type: 'run-start',
      runId,
      mode: 'apply',
      nodes: selection.nodes.map((n) => n.name),
      steps: selection.steps.map((s) => ({ id: s.id, title: s.title, targets: s.targets })),
    });
    const concurrency = req.concurrency ?? project.settings.concurrency;
    const gathered = await gatherAll([...links.values()], selection, run, concurrency);
    const checked = checkPlan(req, run, gathered);
    if (checked.kind !== 'go') {
      emit({ type: 'run-end', runId, outcome: checked.kind, summary: {}, durationMs: deps.now().getTime() - started.getTime() });
      return checked;
    }
    const res = await schedule({
      nodes: selection.nodes.map((n) => n.name),
      steps: selection.steps,
      strategy: project.settings.strategy,
      concurrency,
      maxFailPercent: project.settings.maxFailPercent,
      signal: req.signal,
      runStep: stepRunner(req, run, links, gathered, checked.planned),
      onSkip: (node, s, outcome, why) => emit({ type: 'step-result', node, step: s.id, outcome, changes: [], message: why, durationMs: 0 }),
      onInternalError: (node, s, err) => {
        const text = `internal error: ${errorText(err)}`;
        emit({ type: 'message', level: 'error', node, text: `step ${s.id}: ${text}`, ...(err instanceof Error && err.stack ? { detail: err.stack } : {}) });
        emit({ type: 'step-result', node, step: s.id, outcome: 'failed', changes: [], message: text, durationMs: 0 });
      },
    });
    const summary = summarise(res.outcomes);
    const outcome = runOutcome(summary, res.interrupted);
    emit({ type: 'run-end', runId, outcome, summary, durationMs: deps.now().getTime() - started.getTime() });
    return { kind: 'done', runId, outcome, summary };
  } finally {
    journal.close();
    await Promise.all([...links.values()].map((l) => l.close()));
    lock.release();
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Before the first change: apply --plan refuses a stale plan; a refusal no
 * earlier step can lift (it would stop the run there) stops the run now.
 */
function checkPlan(
  req: ApplyRequest,
  deps: RunDeps,
  gathered: Gathered,
): { kind: 'stale'; reasons: string[] } | { kind: 'refused'; refusals: Refusal[] } | { kind: 'go'; planned?: Map<string, PlanStep> } {
  const fresh = buildPlan({ project: req.project, selection: req.selection, registry: deps.registry, gathered, options: req.options, now: deps.now() });
  let planned: Map<string, PlanStep> | undefined;
  if (req.plan) {
    const reasons = staleReasons(req.plan, fresh);
    if (reasons.length > 0) return { kind: 'stale', reasons };
    planned = new Map(req.plan.nodes.flatMap((n) => n.steps.map((s) => [`${n.name}\0${s.id}`, s] as const)));
  }
  const refusals = planRefusals(fresh);
  if (refusals.length > 0) {
    for (const r of refusals) deps.emit({ type: 'message', level: 'error', node: r.node, text: `step ${r.step} is refused, and no earlier step can change that: ${r.reason}` });
    return { kind: 'refused', refusals };
  }
  return planned ? { kind: 'go', planned } : { kind: 'go' };
}

/** Runs one step on one node for the scheduler, telling each stage as a run event. */
function stepRunner(
  req: ApplyRequest,
  deps: RunDeps,
  links: ReadonlyMap<string, NodeLink>,
  gathered: Gathered,
  planned: ReadonlyMap<string, PlanStep> | undefined,
): (node: string, s: { id: string }) => Promise<StepRun['outcome']> {
  const { project, selection } = req;
  // Facts read earlier, kept while no change since may have altered them (the kinds'
  // declared reads/writes); after a step that waited, none (see fact-cache.ts).
  const cache = new FactCache(selection.nodes, selection.steps, deps.registry);
  for (const [node, g] of Object.entries(gathered)) {
    if (!('steps' in g)) continue;
    for (const [step, f] of Object.entries(g.steps)) if ('facts' in f) cache.seed(node, step, f.facts, 0);
  }
  const retry = deps.retry ?? { tries: 3, delayMs: 250 };
  const stepsById = new Map(selection.steps.map((s) => [s.id, s]));
  const nodesByName = new Map(selection.nodes.map((n) => [n.name, n]));
  // each node's steps in playbook order: the next one's facts are read with a verification
  const nextStep = new Map<string, ResolvedStep>();
  for (const n of selection.nodes) {
    const mine = selection.steps.filter((s) => s.targets.includes(n.name));
    mine.forEach((s, i) => {
      if (i + 1 < mine.length) nextStep.set(`${n.name}\0${s.id}`, mine[i + 1]!);
    });
  }
  const nextOf = (nodeName: string, stepId: string): StepContext['next'] => {
    const n = nextStep.get(`${nodeName}\0${stepId}`);
    if (!n) return undefined;
    try {
      const probes = stepProbes(deps.registry, n, nodesByName.get(nodeName)!);
      // a step that reads other nodes reads them itself, when it starts
      if (hasRemote(probes)) return undefined;
      return { step: n.id, probes, begin: () => cache.begin(nodeName, n.id) };
    } catch {
      return undefined; // that step reports it cannot build its probes when it runs
    }
  };
  return async (nodeName, s) => {
    const step = stepsById.get(s.id)!;
    const pre = cache.take(nodeName, step.id);
    const next = nextOf(nodeName, step.id);
    const startedAt = deps.now().getTime();
    deps.emit({ type: 'step-start', node: nodeName, step: step.id, title: step.title });
    const plannedStep = planned?.get(`${nodeName}\0${step.id}`);
    const r = await runStep({
      link: links.get(nodeName)!,
      peers: (name) => links.get(name),
      step,
      kind: deps.registry.kind(step.kind),
      ...(pre ? { prefetched: pre.facts, recent: pre.recent } : {}),
      ...(next ? { next } : {}),
      ...(plannedStep ? { planned: plannedStep } : {}),
      timeoutMs: step.timeoutMs ?? project.settings.stepTimeoutMs,
      onFirstChange: () => {
        cache.changed(nodeName, step.id);
        deps.emit({ type: 'step-change-start', node: nodeName, step: step.id });
      },
      onChangesDone: (keep) => cache.changed(nodeName, step.id, keep),
      retry: { ...retry, sleep: deps.sleep },
      onRetry: (attempt, delayMs, error) => deps.emit({ type: 'node-reconnect', node: nodeName, attempt, delayMs, error }),
      onProgress: (description, progress) => {
        cache.waited();
        deps.emit({ type: 'step-progress', node: nodeName, step: step.id, description, ...(progress !== undefined ? { progress } : {}) });
      },
    });
    deps.emit({
      type: 'step-result',
      node: nodeName,
      step: step.id,
      outcome: r.outcome,
      changes: r.changes,
      ...(r.message !== undefined ? { message: r.message } : {}),
      durationMs: deps.now().getTime() - startedAt,
    });
    return r.outcome;
  };
}
