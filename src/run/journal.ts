/**
 * The run journal: JSON lines in <stateDir>/journal.jsonl, appended as things
 * happen. Each entry is written with a synchronous write(2), so a SIGKILL of
 * the process loses nothing already written; entries that record a change are
 * also fsync'd (a crash of the machine loses nothing done).
 *
 * What is written: run-start; step-start just before a step's FIRST CHANGE
 * (a step that changes nothing cannot leave anything half-done); step-result
 * for every step that changed, failed, was skipped or interrupted, and for
 * kinds whose effect cannot be re-read; run-end with the per-node summary.
 * The file holds the last run only (plus, carried over, the results of kinds
 * whose effect cannot be re-read); the run before is kept as journal.prev.jsonl.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { NodeSummary, RunOutcome, StepOutcome } from './events.js';

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
      /** The kind's effect cannot be re-read: this record is how a rerun knows it is done. */
      unverifiable?: boolean;
    }
  | { t: string; type: 'run-end'; runId: string; outcome: RunOutcome; summary?: Record<string, NodeSummary> };

type NoTime<E> = E extends unknown ? Omit<E, 't'> : never;
export type JournalInput = NoTime<JournalEntry>;

export interface JournalWriter {
  append(e: JournalInput): void;
  close(): void;
}

/**
 * Start a new journal for a run: the previous one becomes journal.prev.jsonl;
 * the new one starts with the carried-over results of unverifiable kinds.
 */
export function startJournal(path: string, previous: readonly JournalEntry[], now: () => Date): JournalWriter {
  mkdirSync(dirname(path), { recursive: true });
  const seen = new Set<string>();
  const carry = previous.filter((e) => {
    if (e.type !== 'step-result' || !e.unverifiable || (e.outcome !== 'ok' && e.outcome !== 'changed')) return false;
    const key = `${e.node}\0${e.step}\0${e.paramsDigest}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (existsSync(path)) renameSync(path, path.replace(/\.jsonl$/, '') + '.prev.jsonl');
  writeFileSync(path, carry.map((e) => JSON.stringify(e) + '\n').join(''), { mode: 0o600 });
  return openJournal(path, now);
}

export function openJournal(path: string, now: () => Date): JournalWriter {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a', 0o600);
  let closed = false;
  return {
    append(e) {
      if (closed) return;
      writeSync(fd, JSON.stringify({ t: now().toISOString(), ...e }) + '\n');
      if ((e.type === 'step-result' && e.changed.length > 0) || (e.type === 'run-end' && e.outcome !== 'ok')) fsyncSync(fd);
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
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

export function readJournal(path: string): JournalEntry[] {
  try {
    return parseJournal(readFileSync(path, 'utf8')).entries;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
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

/** Whether a step finished (ok/changed) on a node with these params in any journalled run. */
export function doneInJournal(entries: readonly JournalEntry[], node: string, step: string, paramsDigest: string): boolean {
  return entries.some(
    (e) => e.type === 'step-result' && e.node === node && e.step === step && e.paramsDigest === paramsDigest && (e.outcome === 'ok' || e.outcome === 'changed'),
  );
}
