import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type JournalEntry, badLinesMessage, journalListener, lastRun, openJournal, parseJournal, readJournal, resumeMessage, startJournal } from '../../../src/run/journal.js';
import { acquireLock } from '../../../src/run/lock.js';

const t = () => new Date('2026-01-01T00:00:00Z');

describe('journal', () => {
  it('appends lines and reads them back; a torn last line is ignored', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-j-'));
    const path = join(dir, 'journal.jsonl');
    const j = openJournal(path, t);
    j.append({ type: 'run-start', runId: 'r1', pid: 1, host: 'h', inventoryDigest: 'i', playbookDigest: 'p', nodes: ['bob'], steps: ['a', 'b'] });
    j.append({ type: 'step-start', runId: 'r1', node: 'bob', step: 'a' });
    j.append({ type: 'step-result', runId: 'r1', node: 'bob', step: 'a', outcome: 'changed', paramsDigest: 'pd', changed: ['write /x'] });
    j.append({ type: 'step-start', runId: 'r1', node: 'bob', step: 'b' });
    j.close();
    writeFileSync(path, readFileSync(path, 'utf8') + '{"t":"2026-01-01T00:00:00Z","type":"step-re');
    const { entries, badLines } = readJournal(path);
    expect(badLines).toEqual([]);
    expect(entries.map((e) => e.type)).toEqual(['run-start', 'step-start', 'step-result', 'step-start']);
    const run = lastRun(entries)!;
    expect(run).toMatchObject({ runId: 'r1', ended: false, inFlight: [{ node: 'bob', step: 'b' }] });
    expect(resumeMessage(run)).toBe('resuming run r1 (started 2026-01-01T00:00:00.000Z), killed at step b on bob: steps already done are recognised by their checks');
  });

  it('a new run starts a fresh journal; the one before is kept as journal.prev.jsonl', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-j-'));
    const path = join(dir, 'journal.jsonl');
    const j1 = startJournal(path, t);
    j1.append({ type: 'run-start', runId: 'r1', pid: 1, host: 'h', inventoryDigest: 'i', playbookDigest: 'p', nodes: ['bob'], steps: ['a', 'b'] });
    j1.append({ type: 'step-result', runId: 'r1', node: 'bob', step: 'b', outcome: 'changed', paramsDigest: 'pb', changed: ['y'] });
    j1.append({ type: 'run-end', runId: 'r1', outcome: 'changed' });
    j1.close();
    const j2 = startJournal(path, t);
    j2.append({ type: 'run-start', runId: 'r2', pid: 1, host: 'h', inventoryDigest: 'i', playbookDigest: 'p', nodes: ['bob'], steps: ['a', 'b'] });
    j2.close();
    expect(readJournal(path).entries.map((e) => `${e.runId}:${e.type}`)).toEqual(['r2:run-start']);
    expect(readJournal(join(dir, 'journal.prev.jsonl')).entries).toHaveLength(3);
  });

  it('unreadable lines are counted and named when the journal is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-j-'));
    const path = join(dir, 'journal.jsonl');
    writeFileSync(path, '{"type":"run-start","runId":"r","t":"z"}\nnot json\n\n[1]\n{"type":"run-end","runId":"r","outcome":"ok","t":"z"}\n{"torn');
    const { entries, badLines } = readJournal(path);
    expect(entries).toHaveLength(2);
    expect(badLines).toEqual([2, 4]);
    expect(badLinesMessage(path, badLines)).toBe(`journal ${path}: 2 unreadable lines ignored (lines 2, 4)`);
    expect(badLinesMessage(path, [7])).toBe(`journal ${path}: 1 unreadable line ignored (line 7)`);
    expect(badLinesMessage(path, [])).toBeUndefined();
    expect(readJournal(join(dir, 'none.jsonl'))).toEqual({ entries: [], badLines: [] });
  });

  it('listens to run events and writes what a rerun needs, as it always did', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-j-'));
    const path = join(dir, 'journal.jsonl');
    const j = startJournal(path, t);
    const emit = journalListener(j, { pid: 7, host: 'h', inventoryDigest: 'i', playbookDigest: 'p', paramsDigest: (node, step) => `${node}/${step}` });
    const change = { kind: 'exec' as const, description: 'touch /x', argv: ['touch', '/x'] };
    emit({ type: 'message', level: 'info', text: 'hello' });
    emit({
      type: 'run-start',
      runId: 'r1',
      mode: 'apply',
      nodes: ['bob', 'alice'],
      steps: [
        { id: 'a', title: 'A', targets: ['bob', 'alice'] },
        { id: 'b', title: 'B', targets: ['bob'] },
      ],
    });
    emit({ type: 'node-connected', node: 'bob', durationMs: 3 });
    emit({ type: 'step-start', node: 'bob', step: 'a', title: 'A' });
    emit({ type: 'step-change-start', node: 'bob', step: 'a' });
    emit({ type: 'step-result', node: 'bob', step: 'a', outcome: 'changed', changes: [change], durationMs: 5 });
    emit({ type: 'step-result', node: 'alice', step: 'a', outcome: 'ok', changes: [], durationMs: 5 });
    emit({ type: 'step-result', node: 'alice', step: 'b', outcome: 'failed', changes: [], message: 'no', durationMs: 5 });
    emit({ type: 'step-result', node: 'bob', step: 'b', outcome: 'skipped', changes: [], message: 'why', durationMs: 0 });
    emit({ type: 'run-end', runId: 'r1', outcome: 'failed', summary: { bob: { ok: 0, changed: 1, failed: 0, skipped: 1 } }, durationMs: 9 });
    emit({ type: 'run-end', runId: 'r1', outcome: 'stale', summary: {}, durationMs: 9 });
    j.close();
    const T = '2026-01-01T00:00:00.000Z';
    expect(
      readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { t: T, type: 'run-start', runId: 'r1', pid: 7, host: 'h', inventoryDigest: 'i', playbookDigest: 'p', nodes: ['bob', 'alice'], steps: ['a', 'b'] },
      { t: T, type: 'step-start', runId: 'r1', node: 'bob', step: 'a' },
      { t: T, type: 'step-result', runId: 'r1', node: 'bob', step: 'a', outcome: 'changed', paramsDigest: 'bob/a', changed: ['touch /x'] },
      { t: T, type: 'step-result', runId: 'r1', node: 'alice', step: 'b', outcome: 'failed', paramsDigest: 'alice/b', changed: [], message: 'no' },
      { t: T, type: 'step-result', runId: 'r1', node: 'bob', step: 'b', outcome: 'skipped', paramsDigest: '', changed: [], message: 'why' },
      { t: T, type: 'run-end', runId: 'r1', outcome: 'failed', summary: { bob: { ok: 0, changed: 1, failed: 0, skipped: 1 } } },
      { t: T, type: 'run-end', runId: 'r1', outcome: 'stale' },
    ]);
  });

  it('reports bad lines in the middle', () => {
    const { entries, badLines } = parseJournal('{"type":"run-end","runId":"x","outcome":"ok","t":"z"}\nnot json\n{"type":"run-start","runId":"y","t":"z"}\n');
    expect(badLines).toEqual([2]);
    expect(entries).toHaveLength(2);
  });

  it('a cleanly finished run needs no resume message; an interrupted one does', () => {
    const base: JournalEntry[] = [{ t: 'T', type: 'run-start', runId: 'r', pid: 1, host: 'h', inventoryDigest: '', playbookDigest: '', nodes: [], steps: [] }];
    expect(resumeMessage(lastRun([...base, { t: 'T', type: 'run-end', runId: 'r', outcome: 'changed' }]))).toBeUndefined();
    expect(
      resumeMessage(
        lastRun([
          ...base,
          { t: 'T', type: 'step-result', runId: 'r', node: 'alice', step: 's3', outcome: 'interrupted', paramsDigest: '', changed: [] },
          { t: 'T', type: 'run-end', runId: 'r', outcome: 'interrupted' },
        ]),
      ),
    ).toContain('interrupted at step s3 on alice');
  });
});

describe('lock', () => {
  const me = { pid: 1000, host: 'h1', startedAt: 'T1', runId: 'r1' };
  it('refuses a second run, naming the first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-l-'));
    const a = acquireLock(dir, me, { isAlive: () => true });
    expect(a.ok).toBe(true);
    const b = acquireLock(dir, { ...me, pid: 2000, runId: 'r2' }, { isAlive: () => true });
    expect(b.ok).toBe(false);
    if (!b.ok) expect(b.message).toContain('pid 1000 on h1, run r1, started T1');
    if (a.ok) a.release();
    expect(acquireLock(dir, { ...me, runId: 'r3' }, { isAlive: () => true }).ok).toBe(true);
  });
  it('takes over the lock of a dead pid on the same host', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-l-'));
    acquireLock(dir, me, { isAlive: () => true });
    const b = acquireLock(dir, { ...me, pid: 2000, runId: 'r2' }, { isAlive: (pid) => pid !== 1000 });
    expect(b.ok).toBe(true);
    if (b.ok) expect(b.tookOver?.pid).toBe(1000);
  });
  it('does not take over a lock held on another host', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-l-'));
    acquireLock(dir, { ...me, host: 'other' }, { isAlive: () => true });
    expect(acquireLock(dir, { ...me, runId: 'r2' }, { isAlive: () => false }).ok).toBe(false);
  });
});
