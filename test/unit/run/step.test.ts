/**
 * The step runner's decisions (re-check, verify, reconnect without re-running
 * a change blindly). The node is an IN-MEMORY
 * STAND-IN for a Session (a set of existing paths), because a connection
 * dropping exactly between a change and its verification cannot be staged
 * reliably with a real sshd; the real paths are covered in test/engine.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { NodeLink } from '../../../src/run/link.js';
import { runStep, type StepContext } from '../../../src/run/step.js';
import { SshError, type Command, type CommandResult, type Session } from '../../../src/ssh/types.js';
import { commandProbe, defineStep, refuse } from '../../../src/steps/define.js';
import { commandStep } from '../../../src/steps/kinds/command.js';
import { fakeNode, fakeStep } from '../plan/fake-project.js';

class StandInSession implements Session {
  readonly endpoint = fakeNode('bob').endpoint;
  execs: string[] = [];
  probes = 0;
  constructor(
    private readonly paths: Set<string>,
    private readonly dropAfterNextExec: { value: boolean },
  ) {}
  private run(c: Command): CommandResult {
    const [cmd, a, b] = c.argv;
    if (cmd === 'test' && a === '-e') return { exitCode: this.paths.has(b!) ? 0 : 1, stdout: '', stderr: '', durationMs: 0 };
    if (cmd === 'touch') this.paths.add(a!);
    return { exitCode: 0, stdout: '', stderr: '', durationMs: 0 };
  }
  async exec(c: Command): Promise<CommandResult> {
    this.execs.push(c.argv.join(' '));
    const r = this.run(c);
    if (this.dropAfterNextExec.value) {
      this.dropAfterNextExec.value = false;
      throw new SshError('SSH_DISCONNECTED', 'bob: lost the SSH connection (stand-in)');
    }
    return r;
  }
  async execBatch(cmds: readonly Command[]): Promise<CommandResult[]> {
    // a batch may start with a change command (its verification's probes after it, in one round trip)
    const change = cmds.length > 0 && cmds[0]!.argv[0] !== 'test';
    if (change) this.execs.push(cmds[0]!.argv.join(' '));
    else this.probes++;
    const results = cmds.map((c) => this.run(c));
    if (change && this.dropAfterNextExec.value) {
      this.dropAfterNextExec.value = false;
      throw new SshError('SSH_DISCONNECTED', 'bob: lost the SSH connection (stand-in)');
    }
    return results;
  }
  async writeFile(): Promise<void> {}
  isAlive(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

function setup(argv: string[], opts: { drop?: boolean; creates?: string; secrets?: string[] } = {}) {
  const paths = new Set<string>();
  const drop = { value: opts.drop ?? false };
  const sessions: StandInSession[] = [];
  const link = new NodeLink(
    fakeNode('bob', opts.secrets ?? []),
    async () => {
      const s = new StandInSession(paths, drop);
      sessions.push(s);
      return s;
    },
    () => {},
  );
  const params = commandStep.params.parse({ argv, creates: opts.creates ?? '/done' });
  const ctx: StepContext = {
    link,
    step: fakeStep('s', 'command', params as Record<string, unknown>, ['bob']),
    kind: commandStep,
    timeoutMs: 5000,
    retry: { tries: 3, delayMs: 1, sleep: async () => {} },
  };
  return { ctx, paths, sessions, execs: () => sessions.flatMap((s) => s.execs) };
}

describe('runStep', () => {
  it('runs the change, then verifies with the same checks', async () => {
    const { ctx, execs } = setup(['touch', '/done']);
    const r = await runStep(ctx);
    expect(r).toEqual({ outcome: 'changed', changes: [{ kind: 'exec', argv: ['touch', '/done'], description: 'run touch /done' }] });
    expect(execs()).toEqual(['touch /done']);
  });

  it("a command change, its verification and the next step's facts go in ONE round trip", async () => {
    const { ctx, sessions, execs } = setup(['touch', '/done']);
    const stored: unknown[] = [];
    const next = { step: 'n', probes: [{ id: 'creates', argv: ['test', '-e', '/done'] }], begin: () => ({ entry: {}, store: (f: unknown) => void stored.push(f) }) };
    const r = await runStep({ ...ctx, next });
    expect(r.outcome).toBe('changed');
    expect(execs()).toEqual(['touch /done']);
    expect(sessions.reduce((k, s) => k + s.probes, 0)).toBe(1); // the first look only
    expect(stored).toEqual([{ creates: { exitCode: 0, stdout: '', stderr: '' } }]); // read after the change
  });

  it('a node with secrets runs the change on its own, then verifies', async () => {
    const { ctx, sessions, execs } = setup(['touch', '/done'], { secrets: ['s3cret'] });
    const r = await runStep(ctx);
    expect(r.outcome).toBe('changed');
    expect(execs()).toEqual(['touch /done']);
    expect(sessions.reduce((k, s) => k + s.probes, 0)).toBe(2); // first look, verification
  });

  it('prefetched facts read moments ago, after the last change, stand for the re-check', async () => {
    const { ctx, sessions, execs } = setup(['touch', '/done']);
    const r = await runStep({ ...ctx, prefetched: { creates: { exitCode: 1, stdout: '', stderr: '' } }, recent: true });
    expect(r.outcome).toBe('changed');
    expect(execs()).toEqual(['touch /done']);
    expect(sessions.reduce((k, s) => k + s.probes, 0)).toBe(0); // no re-check; verified in the change's round trip
  });

  it('a change whose checks still fail afterwards is an inconsistent result', async () => {
    const { ctx } = setup(['true']);
    const r = await runStep(ctx);
    expect(r.outcome).toBe('failed');
    expect(r.message).toBe('inconsistent result after apply: still run true');
  });

  it('each change command is announced (command-start) before it is sent, then reported with its result', async () => {
    const events: string[] = [];
    const paths = new Set<string>();
    const link = new NodeLink(
      fakeNode('bob'),
      async () => {
        const s = new StandInSession(paths, { value: false });
        const exec = s.exec.bind(s);
        s.exec = async (c) => {
          events.push(`ran ${c.argv.join(' ')}`);
          return exec(c);
        };
        return s;
      },
      (e) => void (e.type === 'command-start' || (e.type === 'command' && e.phase === 'change') ? events.push(`${e.type} ${e.argv.join(' ')}`) : undefined),
    );
    await link.exec({ argv: ['touch', '/done'] }, 's');
    expect(events).toEqual(['command-start touch /done', 'ran touch /done', 'command touch /done']);
  });

  it('already right: nothing runs', async () => {
    const { ctx, paths, execs } = setup(['touch', '/done']);
    paths.add('/done');
    expect((await runStep(ctx)).outcome).toBe('ok');
    expect(execs()).toEqual([]);
  });

  it('prefetched facts are re-checked before changing: a change that became unnecessary is skipped', async () => {
    const { ctx, paths, execs } = setup(['touch', '/done']);
    paths.add('/done');
    const r = await runStep({ ...ctx, prefetched: { creates: { exitCode: 1, stdout: '', stderr: '' } } });
    expect(r.outcome).toBe('ok');
    expect(execs()).toEqual([]);
  });

  it('prefetched facts are re-checked before refusing: what was missing at the start may be there now', async () => {
    const needsX = defineStep({
      kind: 'needs-x',
      params: z.object({}),
      probes: () => ({ x: commandProbe(['test', '-e', '/x']) }),
      diff: (_p, { x }) => (x.exitCode === 0 ? [] : [refuse('/x is missing')]),
    });
    const { ctx, paths, sessions, execs } = setup(['true']);
    paths.add('/x'); // installed by someone else after the facts were gathered
    const step = fakeStep('s', 'needs-x', {}, ['bob']);
    const r = await runStep({ ...ctx, kind: needsX, step, prefetched: { x: { exitCode: 1, stdout: '', stderr: '' } } });
    expect(r).toEqual({ outcome: 'ok', changes: [] });
    expect(sessions.reduce((k, s) => k + s.probes, 0)).toBe(1);
    expect(execs()).toEqual([]);
  });

  it('connection lost right after a change: reconnect, re-probe, and do not run it again', async () => {
    const { ctx, sessions, execs } = setup(['touch', '/done'], { drop: true });
    const retries: number[] = [];
    const r = await runStep({ ...ctx, onRetry: (a) => retries.push(a) });
    expect(execs()).toEqual(['touch /done']); // once
    expect(sessions).toHaveLength(2); // reconnected
    expect(retries).toEqual([1]);
    expect(r.outcome).toBe('changed');
    expect(r.message).toContain('connection lost during the change');
  });
});

describe('NodeLink.probe', () => {
  it('runs a command asked for twice (same argv and elevation) once, in the same batch, and gives each asker its result', async () => {
    const batches: string[][] = [];
    const paths = new Set(['/a']);
    const link = new NodeLink(
      fakeNode('bob'),
      async () => {
        const s = new StandInSession(paths, { value: false });
        const batch = s.execBatch.bind(s);
        s.execBatch = async (cmds) => {
          batches.push(cmds.map((c) => `${c.sudo ? 'sudo ' : ''}${c.argv.join(' ')}`));
          return batch(cmds);
        };
        return s;
      },
      () => {},
    );
    const r = await link.probe(
      [
        { id: 'a1', argv: ['test', '-e', '/a'] },
        { id: 'b', argv: ['test', '-e', '/b'] },
        { id: 'a2', argv: ['test', '-e', '/a'] },
        { id: 'a-sudo', argv: ['test', '-e', '/a'], sudo: true },
      ],
      'probe',
      's',
    );
    expect(batches).toEqual([['test -e /a', 'test -e /b', 'sudo test -e /a']]);
    expect(r.map((x) => x.exitCode)).toEqual([0, 1, 0, 0]);
    // each asker gets its own object
    expect(r[0]).not.toBe(r[2]);
  });
});
