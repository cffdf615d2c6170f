import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildPlan, type Gathered } from '../../../src/plan/build.js';
import { renderPlan } from '../../../src/plan/render.js';
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
