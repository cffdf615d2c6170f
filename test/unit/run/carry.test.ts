/**
 * A file carried from one node to another THROUGH THE CONTROLLER (contract.ts
 * CarryChange) and probes on another node (Probe.node): two in-memory
 * stand-in nodes (files by path). The content (binary here) reaches the
 * target whole, and no event (so no log, journal or output) holds it.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { gatherNode } from '../../../src/run/gather.js';
import type { RunEvent } from '../../../src/run/events.js';
import { NodeLink } from '../../../src/run/link.js';
import { runStep } from '../../../src/run/step.js';
import { renderPlan } from '../../../src/plan/render.js';
import { showChange } from '../../../src/plan/show.js';
import type { Command, CommandResult, Session } from '../../../src/ssh/types.js';
import { carry, commandProbe, defineStep, on, onIfInRun } from '../../../src/steps/define.js';
import { createRegistry } from '../../../src/steps/registry.js';
import { fakeNode, fakeStep } from '../plan/fake-project.js';

const SECRET = Buffer.from([0, 1, 2, 0xff, 0xfe, ...Buffer.from('-----BEGIN PRIVATE KEY----- s3cr3t-k3y-material')]);

class FileNode implements Session {
  readonly endpoint;
  batches: string[][] = [];
  constructor(
    name: string,
    readonly files: Map<string, Buffer>,
  ) {
    this.endpoint = fakeNode(name).endpoint;
  }
  private run(c: Command): CommandResult {
    const [cmd, ...args] = c.argv;
    const ok = (stdout = '') => ({ exitCode: 0, stdout, stderr: '', durationMs: 0 });
    if (cmd === 'test') return { ...ok(), exitCode: this.files.has(args[1]!) ? 0 : 1 };
    if (cmd === 'base64') {
      const f = this.files.get(args[args.length - 1]!);
      return f ? ok(f.toString('base64')) : { exitCode: 1, stdout: '', stderr: `base64: ${args[args.length - 1]}: No such file or directory`, durationMs: 0 };
    }
    return ok();
  }
  async exec(c: Command): Promise<CommandResult> {
    return this.run(c);
  }
  async execBatch(cmds: readonly Command[]): Promise<CommandResult[]> {
    this.batches.push(cmds.map((c) => c.argv.join(' ')));
    return cmds.map((c) => this.run(c));
  }
  async writeFile(path: string, content: string | Buffer): Promise<void> {
    this.files.set(path, Buffer.isBuffer(content) ? content : Buffer.from(content));
  }
  isAlive(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

/** Copies /src of `from` to /dst here unless /dst exists; reads /src on `from` to say so. */
const copyKind = defineStep({
  kind: 'copy-x',
  params: z.object({ from: z.string() }),
  reads: () => undefined,
  probes: (p) => ({ dst: commandProbe(['test', '-e', '/dst']), src: on(p.from, commandProbe(['test', '-e', '/src'])) }),
  diff: (p, { dst, src }) =>
    dst.exitCode === 0
      ? []
      : [
          carry({
            from: p.from,
            source: '/src',
            path: '/dst',
            mode: '0600',
            owner: 'root',
            group: 'root',
            description: `the key from ${p.from}${src.exitCode === 0 ? '' : ' (known after apply)'}`,
          }),
        ],
});

function twoNodes(withSource = true) {
  const events: RunEvent[] = [];
  const emit = (e: RunEvent) => void events.push(e);
  const arbiter = new FileNode('arbiter', new Map(withSource ? [['/src', SECRET]] : []));
  const bob = new FileNode('bob', new Map());
  const links = new Map([
    ['arbiter', new NodeLink(fakeNode('arbiter'), async () => arbiter, emit)],
    ['bob', new NodeLink(fakeNode('bob'), async () => bob, emit)],
  ]);
  const step = fakeStep('copy', 'copy-x', { from: 'arbiter' }, ['bob']);
  return { events, arbiter, bob, links, step };
}

describe('carry: a file from another node through the controller', () => {
  it('arrives whole (binary), and no event holds its content', async () => {
    const { events, arbiter, bob, links, step } = twoNodes();
    const r = await runStep({
      link: links.get('bob')!,
      peers: (n) => links.get(n),
      step,
      kind: copyKind,
      timeoutMs: 5000,
      retry: { tries: 1, delayMs: 1, sleep: async () => {} },
    });
    expect(r.outcome, r.message).toBe('changed');
    expect(bob.files.get('/dst')).toEqual(SECRET);
    // the remote probe ran on the arbiter, the local one on bob
    expect(arbiter.batches.flat()).toEqual(['test -e /src', 'test -e /src']);
    expect(bob.batches.flat()).toEqual(['test -e /dst', 'test -e /dst']);
    const told = JSON.stringify(events);
    expect(told).not.toContain(SECRET.toString('base64'));
    expect(told).not.toContain('s3cr3t');
    const read = events.find((e) => e.type === 'command' && e.argv[0] === 'base64');
    expect(read).toMatchObject({ node: 'arbiter', step: 'copy', phase: 'change', stdout: `(${SECRET.length} bytes read for a carry, not shown)` });
    expect(r.changes).toEqual([{ kind: 'carry', from: 'arbiter', source: '/src', path: '/dst', mode: '0600', owner: 'root', group: 'root', description: 'the key from arbiter' }]);
  });

  it('a source that cannot be read fails the step, saying why', async () => {
    const { bob, links, step } = twoNodes(false);
    const r = await runStep({ link: links.get('bob')!, peers: (n) => links.get(n), step, kind: copyKind, timeoutMs: 5000, retry: { tries: 1, delayMs: 1, sleep: async () => {} } });
    expect(r.outcome).toBe('failed');
    expect(r.message).toContain('reading /src on arbiter failed (exit 1)');
    expect(bob.files.has('/dst')).toBe(false);
  });

  it('a node that is not in the run (--limit) is an error naming it', async () => {
    const { links, step } = twoNodes();
    const r = await runStep({ link: links.get('bob')!, step, kind: copyKind, timeoutMs: 5000, retry: { tries: 1, delayMs: 1, sleep: async () => {} } });
    expect(r.outcome).toBe('failed');
    expect(r.message).toContain('needs node arbiter, which is not in this run');
  });

  it('a plan shows where from and where to, never what', () => {
    const shown = showChange(carry({ from: 'arbiter', source: '/src', path: '/dst', mode: '0600', owner: 'root', group: 'root', description: 'the key' }), []);
    expect(shown).toEqual({ kind: 'carry', from: 'arbiter', source: '/src', path: '/dst', mode: '0600', owner: 'root', group: 'root', description: 'the key' });
    const text = renderPlan({
      format: 'ha-provision/plan',
      version: 1,
      createdAt: '',
      inventoryPath: '/i.yaml',
      playbookPath: '/p.yaml',
      inventoryDigest: '',
      playbookDigest: '',
      nodes: [{ name: 'bob', steps: [{ id: 'copy', kind: 'copy-x', title: 'copy', status: 'pending', factsDigest: '', changesDigest: '', changes: [shown] }] }],
    });
    expect(text).toContain('carry arbiter:/src -> /dst (0600 root:root, through the controller, content not shown)   # the key');
  });
});

describe('gatherNode with a step that reads another node', () => {
  it("reads the node's own probes in one round trip and the other node's on its link", async () => {
    const { arbiter, bob, links, step } = twoNodes();
    const local = fakeStep('local', 'local-x', {}, ['bob']);
    const localKind = defineStep({ kind: 'local-x', params: z.object({}), probes: () => ({ x: commandProbe(['test', '-e', '/x']) }), diff: () => [] });
    const registry = createRegistry([copyKind, localKind]);
    const g = await gatherNode(links.get('bob')!, (n) => links.get(n), [step, local], registry);
    expect(g).toEqual({
      steps: {
        copy: { facts: { dst: { exitCode: 1, stdout: '', stderr: '' }, src: { exitCode: 0, stdout: '', stderr: '' } } },
        local: { facts: { x: { exitCode: 1, stdout: '', stderr: '' } } },
      },
    });
    expect(arbiter.batches).toEqual([['test -e /src']]);
    expect(bob.batches).toEqual(expect.arrayContaining([['test -e /x'], ['test -e /dst']]));
  });

  it('a step whose other node is not in the run is in error; the node and its other steps are not', async () => {
    const { links, step } = twoNodes();
    const local = fakeStep('local', 'local-x', {}, ['bob']);
    const localKind = defineStep({ kind: 'local-x', params: z.object({}), probes: () => ({ x: commandProbe(['test', '-e', '/x']) }), diff: () => [] });
    const g = await gatherNode(links.get('bob')!, () => undefined, [step, local], createRegistry([copyKind, localKind]));
    expect(g).toMatchObject({ steps: { copy: { error: expect.stringContaining('needs node arbiter') }, local: { facts: {} } } });
  });

  it('an optional probe (onIfInRun) on a node not in the run is not run: the step sees undefined and decides without it', async () => {
    const { links } = twoNodes();
    const seen: unknown[] = [];
    const checkKind = defineStep({
      kind: 'check-x',
      params: z.object({ other: z.string() }),
      reads: () => undefined,
      probes: (p) => ({ mine: commandProbe(['test', '-e', '/x']), theirs: onIfInRun(p.other, commandProbe(['test', '-e', '/src'])) }),
      diff: (_p, { theirs }) => (seen.push(theirs), []),
    });
    const step = fakeStep('check', 'check-x', { other: 'arbiter' }, ['bob']);
    const alone = await gatherNode(links.get('bob')!, () => undefined, [step], createRegistry([checkKind]));
    expect(alone).toEqual({
      steps: { check: { facts: { mine: { exitCode: 1, stdout: '', stderr: '' }, theirs: { exitCode: -1, stdout: '', stderr: 'node not in this run (--limit)' } } } },
    });
    const r = await runStep({ link: links.get('bob')!, peers: () => undefined, step, kind: checkKind, timeoutMs: 5000, retry: { tries: 1, delayMs: 1, sleep: async () => {} } });
    expect(r.outcome, r.message).toBe('ok');
    // with the other node in the run, it is read there
    const both = await gatherNode(links.get('bob')!, (n) => links.get(n), [step], createRegistry([checkKind]));
    expect(both).toMatchObject({ steps: { check: { facts: { theirs: { exitCode: 0 } } } } });
    expect(seen[0]).toBeUndefined();
  });
});
