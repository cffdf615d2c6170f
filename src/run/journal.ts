/**
 * The run journal: JSON lines in <stateDir>/journal.jsonl, appended as things
 * happen. Each entry is written with a synchronous write(2), so a SIGKILL of
 * the process loses nothing already written; entries that record a change are
 * also fsync'd (a crash of the machine loses nothing done), once per turn of
 * the event loop: the step results written in one turn (hundreds of nodes
 * finishing a step together) share one fsync, started at the end of that turn
 * (setImmediate) on libuv's thread pool, so the event loop goes on meanwhile;
 * close() and a run that ends badly fsync at once. An fsync on the event
 * loop blocked it ~1-2 ms each here, for every node (2000 of them in a 200-host
 * converging run; ~0.2 s of a 1.2 s 20-host one, grouped per turn).
 *
 * What is written: run-start; step-start just before a step's FIRST CHANGE
 * (a step that changes nothing cannot leave anything half-done); step-result
 * for every step that changed, failed, was skipped or interrupted, and for
 * for every step that changed, failed, was skipped or interrupted; run-end
 * with the per-node summary. The journal is written by a subscriber to the
 * run events (journalListener), like the reporters and the run log.
 * The file holds the last run only; the run before is kept as journal.prev.jsonl.
 */
import { closeSync, existsSync, fsync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Emit, NodeSummary, RunOutcome, StepOutcome } from './events.js';

export type JournalEntry =
  | { t: string; type: 'run-start'; runId: string; pid: number; host: string; inventoryDigest: string; playbookDigest: string; nodes: string[]; steps: string[] }
  | { t: string; type: 'step-start'; runId: string; node: string; step: string }
  | {
      t: string;
      type: 'step-result';
      runId: string;
      node: string;
      step: string;
      outcome: StepOutcome;
      paramsDigest: string;
      changed: string[];
      message?: string;
    }
  | { t: string; type: 'run-end'; runId: string; outcome: RunOutcome; summary?: Record<string, NodeSummary> };

type NoTime<E> = E extends unknown ? Omit<E, 't'> : never;
type JournalInput = NoTime<JournalEntry>;

export interface JournalWriter {
  append(e: JournalInput): void;
  close(): void;
}

/** Start a new journal for a run: the previous one becomes journal.prev.jsonl. */
export function startJournal(path: string, now: () => Date): JournalWriter {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path)) renameSync(path, path.replace(/\.jsonl$/, '') + '.prev.jsonl');
  writeFileSync(path, '', { mode: 0o600 });
  return openJournal(path, now);
}

export function openJournal(path: string, now: () => Date): JournalWriter {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a', 0o600);
  let closed = false;
  // a group commit is due at the end of this turn of the event loop
  let due = false;
  // fsyncs running on the thread pool: the descriptor stays open until they are done
  let syncing = 0;
  const commitLater = () => {
    if (!due || closed) return;
    due = false;
    syncing++;
    fsync(fd, () => {
      if (--syncing === 0 && closed) closeSync(fd);
    });
  };
  const commitNow = () => {
    if (!due) return;
    due = false;
    fsyncSync(fd);
  };
  return {
    append(e) {
      if (closed) return;
      writeSync(fd, JSON.stringify({ t: now().toISOString(), ...e }) + '\n');
      if (e.type === 'run-end' && e.outcome !== 'ok') {
        due = true;
        commitNow();
      } else if (e.type === 'step-result' && e.changed.length > 0 && !due) {
        due = true;
        setImmediate(commitLater);
      }
    },
    close() {
      if (closed) return;
      commitNow();
      closed = true;
      if (syncing === 0) closeSync(fd);
    },
  };
}

/** Parse journal text; a torn last line (killed mid-write) is ignored, other bad lines are reported. */
export function parseJournal(text: string): { entries: JournalEntry[]; badLines: number[] } {
  const entries: JournalEntry[] = [];
  const badLines: number[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const e = JSON.parse(line) as JournalEntry;
      if (typeof e === 'object' && e !== null && typeof e.type === 'string' && typeof e.runId === 'string') entries.push(e);
      else badLines.push(i + 1);
    } catch {
      if (i !== lines.length - 1) badLines.push(i + 1);
    }
  });
  return { entries, badLines };
}

/** The journal's entries and the numbers of its unreadable lines (a missing journal is empty). */
export function readJournal(path: string): { entries: JournalEntry[]; badLines: number[] } {
  try {
    return parseJournal(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], badLines: [] };
    throw err;
  }
}

/** A warning naming how many lines of the journal could not be read and where; undefined when all could. */
export function badLinesMessage(path: string, badLines: readonly number[]): string | undefined {
  if (badLines.length === 0) return undefined;
  const shown = badLines.length > 10 ? `${badLines.slice(0, 10).join(', ')}, ...` : badLines.join(', ');
  return `journal ${path}: ${badLines.length} unreadable line${badLines.length === 1 ? '' : 's'} ignored (line${badLines.length === 1 ? '' : 's'} ${shown})`;
}

/** What a journal entry holds beyond the run events. */
export interface JournalContext {
  pid: number;
  host: string;
  inventoryDigest: string;
  playbookDigest: string;
  /** Digest of a step's params on a node. */
  paramsDigest(node: string, step: string): string;
}

/**
 * The journal as a run-event subscriber: run-start, step-change-start (just
 * before a step's first change), the step-results that matter to a rerun
 * (anything but a plain ok), run-end.
 */
export function journalListener(journal: JournalWriter, ctx: JournalContext): Emit {
  let runId = '';
  return (e) => {
    switch (e.type) {
      case 'run-start':
        runId = e.runId;
        journal.append({
          type: 'run-start',
          runId: e.runId,
          pid: ctx.pid,
          host: ctx.host,
          inventoryDigest: ctx.inventoryDigest,
          playbookDigest: ctx.playbookDigest,
          nodes: e.nodes,
          steps: e.steps.map((s) => s.id),
        });
        return;
      case 'step-change-start':
        journal.append({ type: 'step-start', runId, node: e.node, step: e.step });
        return;
      case 'step-result': {
        if (e.outcome === 'ok' && e.changes.length === 0) return;
        // a step that did not run (skipped, interrupted) has no params digest
        const ran = e.outcome === 'ok' || e.outcome === 'changed' || e.outcome === 'failed';
        journal.append({
          type: 'step-result',
          runId,
          node: e.node,
          step: e.step,
          outcome: e.outcome,
          paramsDigest: ran ? ctx.paramsDigest(e.node, e.step) : '',
          changed: e.changes.map((c) => (c.kind === 'refuse' ? c.reason : c.description)),
          ...(e.message !== undefined ? { message: e.message } : {}),
        });
        return;
      }
      case 'run-end':
        journal.append({
          type: 'run-end',
          runId: e.runId,
          outcome: e.outcome,
          ...(e.outcome === 'stale' || e.outcome === 'refused' ? {} : { summary: e.summary }),
        });
        return;
      default:
        return;
    }
  };
}

export interface LastRun {
  runId: string;
  startedAt: string;
  /** False when the process died before writing run-end. */
  ended: boolean;
  outcome?: RunOutcome;
  /** Steps started but without a result (the process died or was killed there). */
  inFlight: { node: string; step: string }[];
  /** Steps that failed or were interrupted. */
  stopped: { node: string; step: string; outcome: StepOutcome }[];
}

/** The last run in the journal, if any. */
export function lastRun(entries: readonly JournalEntry[]): LastRun | undefined {
  let start = -1;
  for (let i = entries.length - 1; i >= 0; i--) {
    if (entries[i]!.type === 'run-start') {
      start = i;
      break;
    }
  }
  if (start < 0) return undefined;
  const first = entries[start]!;
  const run: LastRun = { runId: first.runId, startedAt: first.t, ended: false, inFlight: [], stopped: [] };
  const open = new Map<string, { node: string; step: string }>();
  for (const e of entries.slice(start + 1)) {
    if (e.runId !== run.runId) continue;
    switch (e.type) {
      case 'step-start':
        open.set(`${e.node}\0${e.step}`, { node: e.node, step: e.step });
        break;
      case 'step-result':
        open.delete(`${e.node}\0${e.step}`);
        if (e.outcome === 'failed' || e.outcome === 'interrupted') run.stopped.push({ node: e.node, step: e.step, outcome: e.outcome });
        break;
      case 'run-end':
        run.ended = true;
        run.outcome = e.outcome;
        break;
      case 'run-start':
        break;
    }
  }
  run.inFlight = [...open.values()];
  return run;
}

/** A sentence for the user when the last run did not finish cleanly; undefined otherwise. */
export function resumeMessage(run: LastRun | undefined): string | undefined {
  if (!run) return undefined;
  if (run.ended && run.outcome !== 'failed' && run.outcome !== 'interrupted') return undefined;
  const where = [...run.inFlight, ...run.stopped.filter((s) => !run.inFlight.some((f) => f.node === s.node && f.step === s.step))]
    .map((s) => `step ${s.step} on ${s.node}`)
    .join(', ');
  const how = run.ended ? (run.outcome === 'interrupted' ? 'interrupted' : 'failed') : 'killed';
  return `resuming run ${run.runId} (started ${run.startedAt}), ${how}${where ? ` at ${where}` : ''}: steps already done are recognised by their checks`;
}
