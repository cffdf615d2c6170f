import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildPlan, type Gathered } from '../../../src/plan/build.js';
import { countPlan, renderPlan } from '../../../src/plan/render.js';
import { loadProject } from '../../../src/playbook/resolve.js';
import type { Change } from '../../../src/steps/contract.js';
import { defineStep } from '../../../src/steps/define.js';
import { createRegistry } from '../../../src/steps/registry.js';
import { selectWork } from '../../../src/plan/select.js';
import { staleReasons } from '../../../src/plan/stale.js';
import { builtinRegistry } from '../../../src/steps/builtin.js';
import { fakeNode, fakeProject, fakeStep } from './fake-project.js';

const registry = builtinRegistry();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const absent = { exitCode: 0, stdout: 'absent\n', stderr: '' };
const present = (content: string) => ({ exitCode: 0, stdout: `file 644 root root ${content.length}\n${sha(content)}\n`, stderr: '' });
const parse = (kind: string, p: Record<string, unknown>) => registry.kind(kind).params.parse(p) as Record<string, unknown>;

function setup(secret: string[] = []) {
  const nodes = [fakeNode('bob', secret), fakeNode('alice')];
  const steps = [
    fakeStep('a', 'file', parse('file', { path: '/r/a', content: 'A pw=hunter2\n' }), ['bob', 'alice']),
    fakeStep('b', 'file', parse('file', { path: '/r/b', content: 'B\n' }), ['bob', 'alice']),
    fakeStep('a-line', 'line', parse('line', { path: '/r/a', line: 'x', create: true }), ['bob', 'alice']),
    fakeStep('c', 'command', parse('command', { argv: ['mkdir', '/r/c'], creates: '/r/c' }), ['bob', 'alice']),
    fakeStep('d', 'file', parse('file', { path: '/r/d', content: 'D\n' }), ['bob', 'alice']),
  ];
  const project = fakeProject(nodes, steps);
  const sel = selectWork(project, {});
  if (!sel.ok) throw new Error(sel.message);
  return { project, selection: sel.selection };
}

const facts = (bobA: typeof absent, bobC: number): Gathered => ({
  bob: {
    steps: {
      a: { facts: { file: bobA } },
      b: { facts: { file: present('B\n') } },
      'a-line': { facts: { file: { exitCode: 0, stdout: 'absent\n', stderr: '' } } },
      c: { facts: { creates: { exitCode: bobC, stdout: '', stderr: '' } } },
      d: { facts: { file: absent } },
    },
  },
  alice: { error: 'connect ECONNREFUSED 127.0.0.1:2222' },
});

describe('buildPlan', () => {
  it('marks exactly the steps whose facts an earlier change may affect as pending', () => {
    const { project, selection } = setup();
    const plan = buildPlan({ project, selection, registry, gathered: facts(absent, 1), options: {}, now: new Date(0) });
    const bob = plan.nodes[0]!;
    expect(bob.steps.map((s) => [s.id, s.status])).toEqual([
      ['a', 'change'],
      ['b', 'ok'],
      ['a-line', 'pending'], // reads /r/a, which step a writes
      ['c', 'change'], // reads only /r/c: not affected by file writes
      ['d', 'pending'], // a command ran before: it may have written anything
    ]);
    expect(bob.steps[2]!.reason).toContain('step a changes this node first');
    expect(bob.steps[4]!.reason).toContain('step c changes this node first');
  });

  it('an unreachable node has every step in error, with the reason', () => {
    const { project, selection } = setup();
    const plan = buildPlan({ project, selection, registry, gathered: facts(absent, 1), options: {}, now: new Date(0) });
    expect(plan.nodes[1]!.error).toContain('ECONNREFUSED');
    expect(plan.nodes[1]!.steps.every((s) => s.status === 'error')).toBe(true);
  });

  it('no change when everything is right', () => {
    const { project, selection } = setup();
    const g = facts(present('A pw=hunter2\n'), 0);
    (g.bob as { steps: Record<string, unknown> }).steps['a-line'] = { facts: { file: { exitCode: 0, stdout: 'file 644 root root 2\nx\n', stderr: '' } } };
    (g.bob as { steps: Record<string, unknown> }).steps['d'] = { facts: { file: present('D\n') } };
    const bobOnly = { nodes: selection.nodes.slice(0, 1), steps: selection.steps.map((s) => ({ ...s, targets: ['bob'] })) };
    const plan = buildPlan({ project, selection: bobOnly, registry, gathered: g, options: {}, now: new Date(0) });
    expect(plan.nodes).toHaveLength(1);
    expect(plan.nodes[0]!.steps.every((s) => s.status === 'ok')).toBe(true);
  });

  it('masks node secrets in the plan and its rendering', () => {
    const { project, selection } = setup(['hunter2']);
    const plan = buildPlan({ project, selection, registry, gathered: facts(absent, 1), options: {}, now: new Date(0) });
    const text = JSON.stringify(plan) + renderPlan(plan);
    expect(text).not.toContain('hunter2');
    expect(text).toContain('secret');
  });

  it('a plan compared with itself is fresh; changed facts make it stale', () => {
    const { project, selection } = setup();
    const p1 = buildPlan({ project, selection, registry, gathered: facts(absent, 1), options: {}, now: new Date(0) });
    const bobOnly = { ...selection, nodes: selection.nodes.slice(0, 1), steps: selection.steps.map((s) => ({ ...s, targets: ['bob'] })) };
    const a = buildPlan({ project, selection: bobOnly, registry, gathered: facts(absent, 1), options: {}, now: new Date(0) });
    const b = buildPlan({ project, selection: bobOnly, registry, gathered: facts(absent, 1), options: {}, now: new Date(1) });
    expect(staleReasons(a, b)).toEqual([]);
    const after = buildPlan({ project, selection: bobOnly, registry, gathered: facts(present('A pw=hunter2\n'), 1), options: {}, now: new Date(2) });
    expect(staleReasons(a, after)).toEqual(['step a on bob: the node changed since the plan was made (now ok, already right)']);
    expect(staleReasons(p1, { ...p1, inventoryDigest: 'x' })[0]).toContain('inventory /inv.yaml changed');
  });
});

/** A kind whose params say what it reads, writes and what its diff says (facts are not looked at). */
const fakeKind = defineStep({
  kind: 'fake',
  params: z.object({ result: z.enum(['ok', 'change', 'refuse']), reads: z.array(z.string()).optional(), writes: z.array(z.string()).optional() }),
  reads: (p) => p.reads,
  writes: (p) => p.writes,
  probes: () => ({}),
  diff: (p): Change[] => (p.result === 'ok' ? [] : p.result === 'change' ? [{ kind: 'exec', argv: ['true'], description: 'change' }] : [{ kind: 'refuse', reason: 'no' }]),
});
const fakes = createRegistry([fakeKind]);

/** Plans fake steps ([id, params, targets?, waitFor?]) on bob and alice. */
function fakePlan(steps: [string, { result: string; reads?: string[]; writes?: string[] }, string[]?, string[]?][]) {
  const project = fakeProject(
    [fakeNode('bob'), fakeNode('alice')],
    steps.map(([id, p, targets, waits]) => fakeStep(id, 'fake', p, targets ?? ['bob', 'alice'], waits ?? [])),
  );
  const sel = selectWork(project, {});
  if (!sel.ok) throw new Error(sel.message);
  const gathered: Gathered = Object.fromEntries(['bob', 'alice'].map((n) => [n, { steps: Object.fromEntries(steps.map(([id]) => [id, { facts: {} }])) }]));
  const plan = buildPlan({ project, selection: sel.selection, registry: fakes, gathered, options: {}, now: new Date(0) });
  const status = (node: string, id: string) => plan.nodes.find((n) => n.name === node)!.steps.find((s) => s.id === id)!;
  return { plan, status };
}

describe('buildPlan: a refusal no earlier change can lift', () => {
  it('stays refused when the earlier changes write nothing it reads', () => {
    const { plan, status } = fakePlan([
      ['hosts', { result: 'change', reads: ['/etc/hosts'], writes: ['/etc/hosts'] }],
      ['packages', { result: 'change', reads: ['pkgdb:'], writes: ['pkgdb:', '/', 'unit:', 'drbd:', 'cluster:'] }],
      ['disk', { result: 'refuse', reads: ['dev:/dev/vdb'], writes: ['dev:/dev/vdb'] }, ['bob']],
    ]);
    expect(status('bob', 'disk').status).toBe('refused');
    expect(status('bob', 'disk').reason).toBe('no');
    expect(renderPlan(plan)).toContain('1 refused');
  });

  it('is pending when an earlier change on the node may write what it reads', () => {
    const { status } = fakePlan([
      ['partition', { result: 'change', reads: ['dev:/dev/vdb'], writes: ['dev:/dev/vdb'] }],
      ['mkfs', { result: 'refuse', reads: ['dev:/dev/vdb1'], writes: ['dev:/dev/vdb1'] }],
    ]);
    expect(status('bob', 'mkfs').status).toBe('pending');
    expect(status('bob', 'mkfs').reason).toBe('known after apply: step partition changes this node first; now: no');
  });

  it('is pending after a kind that declares nothing (it may write anything, on any node)', () => {
    const { status } = fakePlan([
      ['command', { result: 'change' }, ['alice']],
      ['disk', { result: 'refuse', reads: ['dev:/dev/vdb'] }, ['bob']],
    ]);
    expect(status('bob', 'disk').status).toBe('pending');
    expect(status('bob', 'disk').reason).toContain('step command changes alice first');
  });

  it("a step's own run on another node is not earlier (it runs alongside)", () => {
    const { status } = fakePlan([['cmd', { result: 'change', reads: ['/c'] }]]); // writes: anything
    expect([status('bob', 'cmd').status, status('alice', 'cmd').status]).toEqual(['change', 'change']);
  });

  it('across nodes only shared names carry over: drbd:, cib:, cluster:', () => {
    const { status } = fakePlan([
      ['file', { result: 'change', reads: ['/etc/x'], writes: ['/etc/x'] }, ['alice']],
      ['up', { result: 'change', reads: ['drbd:r0'], writes: ['drbd:r0'] }, ['alice']],
      ['read-file', { result: 'refuse', reads: ['/etc/x'], writes: [] }, ['bob']],
      ['sync', { result: 'refuse', reads: ['drbd:r0'], writes: ['drbd:r0'] }, ['bob']],
      ['other-res', { result: 'change', reads: ['drbd:r1'] }, ['alice']],
    ]);
    expect(status('bob', 'read-file').status).toBe('refused'); // alice's /etc/x is not bob's
    expect(status('bob', 'sync').status).toBe('pending');
    expect(status('bob', 'sync').reason).toContain('step up changes alice first');
    expect(status('alice', 'other-res').status).toBe('change'); // another resource
  });

  it('stays refused after a step that stops the node, unless that step may write what it reads; other steps there are pending', () => {
    const { status } = fakePlan([
      ['first', { result: 'refuse', reads: ['/a'], writes: ['/a'] }, ['bob']],
      ['independent', { result: 'refuse', reads: ['/b'], writes: ['/b'] }, ['bob']],
      ['dependent', { result: 'refuse', reads: ['/a/x'] }, ['bob']],
      ['ok-later', { result: 'ok', reads: ['/c'] }, ['bob']],
    ]);
    expect(status('bob', 'first').status).toBe('refused');
    expect(status('bob', 'independent').status).toBe('refused');
    expect(status('bob', 'dependent').status).toBe('pending');
    expect(status('bob', 'dependent').reason).toContain('step first stops this node first');
    expect(status('bob', 'ok-later').status).toBe('pending');
  });

  it('a waited-for step that changes, but nothing this step reads, does not make it pending', () => {
    const { status } = fakePlan([
      ['packages', { result: 'change', reads: ['pkgdb:'], writes: ['pkgdb:', '/'] }],
      ['partition', { result: 'change', reads: ['dev:/dev/vdb'], writes: ['dev:/dev/vdb'] }, ['bob', 'alice'], ['packages']],
      ['config', { result: 'change', reads: ['/etc/x'] }, ['bob'], ['packages']],
    ]);
    expect(status('bob', 'partition').status).toBe('change');
    expect(status('bob', 'config').status).toBe('pending'); // packages writes files
  });

  it('a step waiting for one refused on another node is pending (it will not run), unless refused itself', () => {
    const { status } = fakePlan([
      ['md', { result: 'refuse', reads: ['drbd:r0'], writes: ['drbd:r0'] }, ['alice']],
      ['waits', { result: 'change', reads: ['/x'], writes: ['/x'] }, ['bob'], ['md']],
      ['waits-refused', { result: 'refuse', reads: ['/y'] }, ['bob'], ['md']],
    ]);
    expect(status('bob', 'waits').status).toBe('pending');
    expect(status('bob', 'waits').reason).toBe('known after apply: waits for step md, which is refused on alice');
    expect(status('bob', 'waits-refused').status).toBe('refused');
  });
});

/** A project planned offline from gathered facts captured earlier (test/fixtures/plan/*). */
async function planOffline(load: { inventoryPath: string; playbookPath?: string; env: Record<string, string> }, gatheredPath: string) {
  const registry = builtinRegistry();
  const r = await loadProject({ ...load, registry });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const sel = selectWork(r.project, {});
  if (!sel.ok) throw new Error(sel.message);
  const gathered = JSON.parse(readFileSync(gatheredPath, 'utf8')) as Gathered;
  const plan = buildPlan({ project: r.project, selection: sel.selection, registry, gathered, options: {}, now: new Date(0) });
  const by = (status: string) => plan.nodes.flatMap((n) => n.steps.filter((s) => s.status === status).map((s) => `${n.name}/${s.id}`));
  const step = (node: string, id: string) => plan.nodes.find((n) => n.name === node)!.steps.find((s) => s.id === id)!;
  return { plan, by, step, counts: countPlan(plan) };
}

describe('buildPlan: the shipped playbooks on fresh lab nodes (facts captured on the test bed)', () => {
  const dir = fileURLToPath(new URL('../../fixtures/plan/fresh-lab/', import.meta.url));
  const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

  const planFor = (playbook: string, gatheredFile: string, factsDir = dir) =>
    planOffline(
      { inventoryPath: join(dir, 'inventory.yaml'), playbookPath: join(ROOT, 'playbooks', playbook), env: { FRESH_LAB_AUTHKEY: 'k'.repeat(256) } },
      join(factsDir, gatheredFile),
    );

  it('storage.yaml: only what packages can alter is known after apply; the partitions are planned', async () => {
    const { by, counts } = await planFor('storage.yaml', 'gathered-storage.json');
    expect(counts).toEqual({ ok: 2, change: 6, pending: 22, refused: 0, error: 0 }); // before the reads/writes of every kind: 26 pending
    expect(by('change').sort()).toEqual(['alice/hosts', 'alice/packages', 'alice/partitions', 'bob/hosts', 'bob/packages', 'bob/partitions']);
  });

  it('kopano-drbd.yaml: the same (its command runs after the storage steps)', async () => {
    const { by, counts } = await planFor('kopano-drbd.yaml', 'gathered-kopano-drbd.json');
    expect(counts).toEqual({ ok: 2, change: 6, pending: 35, refused: 0, error: 0 }); // before the reads/writes of every kind: 36 pending (then 23 steps); corosync-start and sync-kopano-start add 3 pairs
    expect(by('change')).toContain('bob/partitions');
  });

  it('an ext4 filesystem on the data disk is refused in the plan, not pending', async () => {
    for (const [playbook, file] of [
      ['storage.yaml', 'gathered-storage-ext4.json'],
      ['kopano-drbd.yaml', 'gathered-kopano-drbd-ext4.json'],
    ] as const) {
      const { plan, by } = await planFor(playbook, file);
      expect(by('refused'), playbook).toEqual(['bob/partitions']);
      const s = plan.nodes[0]!.steps.find((x) => x.id === 'partitions')!;
      expect(s.reason).toBe('/dev/vdb holds a ext4 signature at offset 0x438, not the wanted table; set wipe: true to erase it');
      expect(by('change')).toContain('alice/partitions');
      expect(renderPlan(plan)).toMatch(/, 1 refused, 0 error\(s\)\.\n$/);
    }
  });

  // RHEL 9 nodes: facts derived from the captures above in RHEL's formats (fixtures/plan/rhel9/derive.mjs says what and why)
  const rhel9 = fileURLToPath(new URL('../../fixtures/plan/rhel9/', import.meta.url));

  it('storage.yaml on RHEL 9 nodes: dnf installs the Red Hat names (DRBD 9 from ELRepo, no crmsh), the rest plans as on Debian', async () => {
    const { plan, by, counts } = await planFor('storage.yaml', 'gathered-storage.json', rhel9);
    expect(counts).toEqual({ ok: 2, change: 6, pending: 22, refused: 0, error: 0 });
    expect(by('change').sort()).toEqual(['alice/hosts', 'alice/packages', 'alice/partitions', 'bob/hosts', 'bob/packages', 'bob/partitions']);
    for (const n of plan.nodes) {
      const pk = n.steps.find((s) => s.id === 'packages')!;
      expect(pk.changes).toEqual([
        {
          kind: 'exec',
          argv: ['dnf', 'install', '-y', '--setopt=install_weak_deps=False', '--', 'pacemaker', 'corosync', 'resource-agents', 'pacemaker-cli', 'drbd9x-utils', 'kmod-drbd9x'],
          description: 'install pacemaker, corosync, resource-agents, pacemaker-cli, drbd9x-utils, kmod-drbd9x (dnf)',
        },
      ]);
    }
  });

  it("kopano-drbd.yaml on RHEL 9 nodes: refused in the plan (its Apache layout is Debian's), naming the family to add", async () => {
    const { plan, by } = await planFor('kopano-drbd.yaml', 'gathered-kopano-drbd.json', rhel9);
    expect(by('refused')).toEqual(['bob/packages', 'alice/packages']);
    expect(plan.nodes[0]!.steps.find((s) => s.id === 'packages')!.reason).toBe(
      'this step names packages for debian-family nodes only, and this node is redhat-family (dnf): add a "redhat" list to it',
    );
    expect(renderPlan(plan)).toMatch(/, 2 refused, 0 error\(s\)\.\n$/);
  });
});

// SBD cannot run on the test bed (no watchdog in its kernel): its plan is proven on facts captured with sbd on a loop disk
// (test/fixtures/plan/sbd: make-gathered.mjs says which facts are captured and which derived)
describe('buildPlan: SBD fencing, offline (fixtures/plan/sbd)', () => {
  const dir = fileURLToPath(new URL('../../fixtures/plan/sbd/', import.meta.url));

  const planFor = (gatheredFile: string) => planOffline({ inventoryPath: join(dir, 'inventory.yaml'), env: {} }, join(dir, gatheredFile));

  it('fresh nodes: the packages are installed, everything after them is known after apply', async () => {
    const { by, counts } = await planFor('gathered-fresh.json');
    expect(by('change').sort()).toEqual(['alice/packages', 'bob/packages']);
    expect(counts).toMatchObject({ change: 2, refused: 0, error: 0 });
    expect(by('pending')).toEqual(expect.arrayContaining(['bob/sbd-disk', 'bob/sbd-config', 'alice/sbd-config', 'bob/pacemaker-fencing']));
  });

  it("the test bed's nodes (no watchdog): the header is planned, the configuration refused, and Pacemaker without sbd refused", async () => {
    const { step, by, plan } = await planFor('gathered-no-watchdog.json');
    expect(step('bob', 'sbd-disk').changes).toEqual([
      { kind: 'exec', argv: ['sbd', '-d', '/dev/vdb', '-1', '5', '-4', '10', 'create'], description: 'write the SBD header (watchdog 5s, msgwait 10s) on /dev/vdb', stdin: true },
    ]);
    for (const n of ['bob', 'alice']) {
      expect(step(n, 'sbd-config').status).toBe('refused');
      expect(step(n, 'sbd-config').reason).toMatch(/^\/dev\/watchdog is not a watchdog device on this node \(it has none\): sbd would not start, and corosync requires it/);
    }
    expect(by('refused')).toEqual(expect.arrayContaining(['bob/sbd-config', 'alice/sbd-config']));
    expect(renderPlan(plan)).toContain('sbd -d /dev/vdb -1 5 -4 10 create');
    // crm-configure reads the whole cluster: known after the header is written, and refused as things stand now
    expect(step('bob', 'pacemaker-fencing').status).toBe('pending');
    expect(step('bob', 'pacemaker-fencing').reason).toContain('now: the inventory fences with SBD, and Pacemaker runs without sbd (have-watchdog=false)');
  });

  it('a node with a watchdog, its disk and configuration done, its cluster under sbd: only the fence_sbd device is planned', async () => {
    const { step, by } = await planFor('gathered-ready.json');
    expect(by('change')).toEqual(['bob/pacemaker-fencing']);
    expect(step('bob', 'sbd-disk').status).toBe('ok');
    expect(step('bob', 'sbd-config').status).toBe('ok');
    const crm = step('bob', 'pacemaker-fencing');
    const upload = crm.changes!.find((c) => c.kind === 'upload')!;
    expect(upload.kind === 'upload' && upload.diff).toContain('+primitive fence_sbd stonith:fence_sbd \\\n+\tparams devices=/dev/vdb pcmk_delay_max=5s');
  });
});
