/**
 * runApply with an in-memory stand-in for the SSH session: the journal is
 * written from the run events (one emit per event), an error thrown inside
 * the run (a bug, not a failing step) is reported as an internal error with
 * its stack for the run log, and a journal with unreadable lines says so.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectWork } from '../../../src/plan/select.js';
import { journalPath, runApply } from '../../../src/run/apply.js';
import type { Emit, RunEvent } from '../../../src/run/events.js';
import type { Command, CommandResult, Session } from '../../../src/ssh/types.js';
import { commandStep } from '../../../src/steps/kinds/command.js';
import { createRegistry } from '../../../src/steps/registry.js';
import { fakeNode, fakeProject, fakeStep } from '../plan/fake-project.js';

class StandInSession implements Session {
  readonly endpoint = fakeNode('bob').endpoint;
  constructor(private readonly paths: Set<string>) {}
  private run(c: Command): CommandResult {
    const [cmd, a, b] = c.argv;
    if (cmd === 'test' && a === '-e') return { exitCode: this.paths.has(b!) ? 0 : 1, stdout: '', stderr: '', durationMs: 0 };
    if (cmd === 'touch') this.paths.add(a!);
    return { exitCode: 0, stdout: '', stderr: '', durationMs: 0 };
  }
  async exec(c: Command): Promise<CommandResult> {
    return this.run(c);
  }
  async execBatch(cmds: readonly Command[]): Promise<CommandResult[]> {
    return cmds.map((c) => this.run(c));
  }
  async writeFile(): Promise<void> {}
  isAlive(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

async function apply(stateDir: string, emit: Emit) {
  const params = (argv: string[], creates: string) => commandStep.params.parse({ argv, creates }) as Record<string, unknown>;
  const project = fakeProject(
    [fakeNode('bob')],
    [fakeStep('one', 'command', params(['touch', '/one'], '/one'), ['bob']), fakeStep('two', 'command', params(['touch', '/two'], '/two'), ['bob'])],
  );
  project.settings.stateDir = stateDir;
  const sel = selectWork(project, {});
  if (!sel.ok) throw new Error(sel.message);
  const paths = new Set<string>();
  return runApply(
    { project, selection: sel.selection, options: {}, signal: new AbortController().signal },
    {
      registry: createRegistry([commandStep]),
      connect: async () => new StandInSession(paths),
      emit,
      now: () => new Date('2026-01-01T00:00:00Z'),
      sleep: async () => {},
      newRunId: () => 'r1',
      host: 'h',
      pid: 42,
    },
  );
}

const journalLines = (stateDir: string) =>
  readFileSync(journalPath(stateDir), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; step?: string; outcome?: string; message?: string });

describe('runApply', () => {
  it('each event is emitted once; the journal, listening, records the changes', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'hapv-apply-'));
    const events: RunEvent[] = [];
    const r = await apply(stateDir, (e) => events.push(e));
    expect(r).toMatchObject({ kind: 'done', outcome: 'changed' });
    expect(events.filter((e) => e.type === 'run-start')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'step-result').map((e) => e.type === 'step-result' && `${e.step}:${e.outcome}`)).toEqual(['one:changed', 'two:changed']);
    expect(journalLines(stateDir).map((e) => `${e.type}${e.step ? `:${e.step}` : ''}${e.outcome ? `:${e.outcome}` : ''}`)).toEqual([
      'run-start',
      'step-start:one',
      'step-result:one:changed',
      'step-start:two',
      'step-result:two:changed',
      'run-end:changed',
    ]);
  });

  it('a throw inside the run is an internal error: said so, with its stack for the run log, and journalled as failed', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'hapv-apply-'));
    const events: RunEvent[] = [];
    let thrown = false;
    const r = await apply(stateDir, (e) => {
      if (e.type === 'step-start' && e.step === 'one' && !thrown) {
        thrown = true;
        throw new Error('a subscriber broke');
      }
      events.push(e);
    });
    expect(r).toMatchObject({ kind: 'done', outcome: 'failed' });
    const msg = events.find((e) => e.type === 'message' && e.level === 'error');
    expect(msg).toMatchObject({ node: 'bob', text: 'step one: internal error: a subscriber broke' });
    expect(msg?.type === 'message' && msg.detail).toContain('a subscriber broke\n    at ');
    expect(events.filter((e) => e.type === 'step-result').map((e) => e.type === 'step-result' && `${e.step}:${e.outcome}:${e.message}`)).toEqual([
      'one:failed:internal error: a subscriber broke',
      'two:skipped:node failed at an earlier step',
    ]);
    expect(journalLines(stateDir).find((e) => e.step === 'one')).toMatchObject({ type: 'step-result', outcome: 'failed', message: 'internal error: a subscriber broke' });
  });

  it('a journal with unreadable lines says how many and where', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'hapv-apply-'));
    writeFileSync(journalPath(stateDir), '{"t":"T","type":"run-start","runId":"r0"}\ngarbage\n{"t":"T","type":"run-end","runId":"r0","outcome":"ok"}\n');
    const events: RunEvent[] = [];
    await apply(stateDir, (e) => events.push(e));
    expect(events).toContainEqual({ type: 'message', level: 'warn', text: `journal ${journalPath(stateDir)}: 1 unreadable line ignored (line 2)` });
  });
});
