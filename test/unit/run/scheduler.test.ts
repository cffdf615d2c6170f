import { describe, expect, it } from 'vitest';
import { schedule, type SchedStep, type StepRunResult } from '../../../src/run/scheduler.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

function recorder(results: Record<string, StepRunResult | Error> = {}, delays: Record<string, number> = {}) {
  const log: string[] = [];
  const skips: string[] = [];
  const internal: string[] = [];
  return {
    log,
    skips,
    internal,
    runStep: async (node: string, step: SchedStep) => {
      log.push(`start ${node}:${step.id}`);
      await new Promise((r) => setTimeout(r, delays[`${node}:${step.id}`] ?? 1));
      log.push(`end ${node}:${step.id}`);
      const r = results[`${node}:${step.id}`] ?? 'ok';
      if (r instanceof Error) throw r;
      return r;
    },
    onInternalError: (node: string, step: SchedStep, err: unknown) => internal.push(`${node}:${step.id} ${(err as Error).message}`),
    onSkip: (node: string, step: SchedStep, outcome: string, why: string) => skips.push(`${node}:${step.id} ${outcome} ${why}`),
  };
}

const steps = (ids: string[], targets = ['bob', 'alice'], waitFor: Record<string, string[]> = {}): SchedStep[] => ids.map((id) => ({ id, targets, waitFor: waitFor[id] ?? [] }));

describe('schedule', () => {
  it('linear: no node starts step k+1 before all finished step k', async () => {
    const r = recorder({}, { 'bob:a': 20 });
    await schedule({ nodes: ['bob', 'alice'], steps: steps(['a', 'b']), strategy: 'linear', concurrency: 5, maxFailPercent: 0, signal: new AbortController().signal, ...r });
    expect(r.log.indexOf('start alice:b')).toBeGreaterThan(r.log.indexOf('end bob:a'));
  });

  it('free: a fast node runs ahead', async () => {
    const r = recorder({}, { 'bob:a': 300 });
    await schedule({ nodes: ['bob', 'alice'], steps: steps(['a', 'b']), strategy: 'free', concurrency: 5, maxFailPercent: 0, signal: new AbortController().signal, ...r });
    expect(r.log.indexOf('end alice:b')).toBeLessThan(r.log.indexOf('end bob:a'));
  });

  it('free: waitFor is a barrier over all targets of the awaited step', async () => {
    const r = recorder({}, { 'bob:a': 100 });
    await schedule({
      nodes: ['bob', 'alice'],
      steps: steps(['a', 'b'], ['bob', 'alice'], { b: ['a'] }),
      strategy: 'free',
      concurrency: 5,
      maxFailPercent: 0,
      signal: new AbortController().signal,
      ...r,
    });
    expect(r.log.indexOf('start alice:b')).toBeGreaterThan(r.log.indexOf('end bob:a'));
  });

  it('a failed node stops; others go on within max_fail_percent', async () => {
    const r = recorder({ 'bob:a': 'failed' });
    const res = await schedule({
      nodes: ['bob', 'alice', 'carol'],
      steps: steps(['a', 'b'], ['bob', 'alice', 'carol']),
      strategy: 'linear',
      concurrency: 5,
      maxFailPercent: 50,
      signal: new AbortController().signal,
      ...r,
    });
    expect(res.failedNodes).toEqual(['bob']);
    expect(res.outcomes.get('bob')!.get('b')).toBe('skipped');
    expect(res.outcomes.get('alice')!.get('b')).toBe('ok');
    expect(res.aborted).toBe(false);
  });

  it('exceeding max_fail_percent stops starting steps everywhere', async () => {
    const r = recorder({ 'bob:a': 'failed' });
    const res = await schedule({
      nodes: ['bob', 'alice'],
      steps: steps(['a', 'b']),
      strategy: 'linear',
      concurrency: 5,
      maxFailPercent: 0,
      signal: new AbortController().signal,
      ...r,
    });
    expect(res.aborted).toBe(true);
    expect(res.outcomes.get('alice')!.get('b')).toBe('skipped');
    expect(r.log).not.toContain('start alice:b');
  });

  it('a waitFor on a step that failed somewhere blocks the waiting step', async () => {
    const r = recorder({ 'bob:a': 'failed' });
    const res = await schedule({
      nodes: ['bob', 'alice'],
      steps: steps(['a', 'b', 'c'], ['bob', 'alice'], { c: ['a'] }),
      strategy: 'free',
      concurrency: 5,
      maxFailPercent: 100,
      signal: new AbortController().signal,
      ...r,
    });
    expect(res.outcomes.get('alice')!.get('b')).toBe('ok');
    expect(res.outcomes.get('alice')!.get('c')).toBe('skipped');
    expect(r.skips.some((s) => s.startsWith('alice:c skipped waits for step a'))).toBe(true);
  });

  it('abort: running steps finish, no new step starts, outcome interrupted', async () => {
    const ac = new AbortController();
    const r = recorder({}, { 'bob:a': 20, 'alice:a': 20 });
    const p = schedule({ nodes: ['bob', 'alice'], steps: steps(['a', 'b']), strategy: 'linear', concurrency: 5, maxFailPercent: 0, signal: ac.signal, ...r });
    await tick();
    ac.abort();
    const res = await p;
    expect(res.interrupted).toBe(true);
    expect(r.log).toContain('end bob:a');
    expect(res.outcomes.get('bob')!.get('a')).toBe('ok');
    expect(res.outcomes.get('bob')!.get('b')).toBe('interrupted');
    expect(r.log).not.toContain('start bob:b');
  });

  it('abort: a running step that fails after it (a second Ctrl-C) leaves an interrupted run, not a failed one', async () => {
    const ac = new AbortController();
    const r = recorder({ 'bob:b': 'failed' }, { 'bob:b': 20 });
    const p = schedule({ nodes: ['bob'], steps: steps(['a', 'b'], ['bob']), strategy: 'linear', concurrency: 5, maxFailPercent: 0, signal: ac.signal, ...r });
    while (!r.log.includes('start bob:b')) await tick();
    ac.abort();
    const res = await p;
    expect(res.outcomes.get('bob')!.get('b')).toBe('failed');
    expect(res.interrupted).toBe(true);
  });

  it('abort after the last step finished: not interrupted (nothing was left)', async () => {
    const ac = new AbortController();
    const r = recorder({}, { 'bob:a': 20 });
    const p = schedule({ nodes: ['bob'], steps: steps(['a'], ['bob']), strategy: 'linear', concurrency: 5, maxFailPercent: 0, signal: ac.signal, ...r });
    while (!r.log.includes('start bob:a')) await tick();
    ac.abort();
    const res = await p;
    expect(res.outcomes.get('bob')!.get('a')).toBe('ok');
    expect(res.interrupted).toBe(false);
  });

  it('respects the concurrency limit', async () => {
    let running = 0;
    let peak = 0;
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
    await schedule({
      nodes,
      steps: [{ id: 'a', targets: nodes, waitFor: [] }],
      strategy: 'free',
      concurrency: 2,
      maxFailPercent: 0,
      signal: new AbortController().signal,
      runStep: async () => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return 'ok';
      },
      onInternalError: () => {},
    });
    expect(peak).toBe(2);
  });

  it('steps a node is not targeted by are not run on it', async () => {
    const r = recorder();
    const res = await schedule({
      nodes: ['bob', 'alice'],
      steps: [
        { id: 'a', targets: ['bob'], waitFor: [] },
        { id: 'b', targets: ['alice'], waitFor: [] },
      ],
      strategy: 'linear',
      concurrency: 5,
      maxFailPercent: 0,
      signal: new AbortController().signal,
      ...r,
    });
    expect(r.log.filter((l) => l.startsWith('start'))).toEqual(['start bob:a', 'start alice:b']);
    expect([...res.outcomes.get('bob')!.keys()]).toEqual(['a']);
  });

  it('a runStep that throws is an internal error: told to onInternalError, the step failed, the node stops', async () => {
    const r = recorder({ 'bob:a': new Error('boom') });
    const res = await schedule({
      nodes: ['bob', 'alice'],
      steps: steps(['a', 'b']),
      strategy: 'free',
      concurrency: 5,
      maxFailPercent: 100,
      signal: new AbortController().signal,
      ...r,
    });
    expect(r.internal).toEqual(['bob:a boom']);
    expect(res.outcomes.get('bob')!.get('a')).toBe('failed');
    expect(res.outcomes.get('bob')!.get('b')).toBe('skipped');
    expect(res.failedNodes).toEqual(['bob']);
    expect(res.outcomes.get('alice')!.get('b')).toBe('ok');
  });
});
