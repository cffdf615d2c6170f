/**
 * Data-driven: each folder of test/fixtures/inventory/projects/ holds an
 * inventory.yaml naming playbook.yaml, and either expected.errors (the exact
 * error lines) or expected.json (the resolved steps).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatInputError } from '../../../src/inventory/errors.js';
import { loadProject } from '../../../src/playbook/resolve.js';
import { testRegistry } from './test-registry.js';

const root = join(import.meta.dirname, '../../fixtures/inventory/projects');
const cases = readdirSync(root).sort();

const load = (dir: string) =>
  loadProject({
    inventoryPath: 'inventory.yaml',
    registry: testRegistry(),
    env: { R0_SECRET: 'r0-secret' },
    homeDir: '/home/test',
    readFile: (p) => readFile(join(root, dir, p), 'utf8'),
  });

describe('playbook x inventory', () => {
  it('has cases', () => expect(cases.length).toBeGreaterThanOrEqual(4));
  for (const dir of cases) {
    it(dir, async () => {
      const r = await load(dir);
      const errorsFile = join(root, dir, 'expected.errors');
      if (existsSync(errorsFile)) {
        const expected = readFileSync(errorsFile, 'utf8').trimEnd().split('\n');
        expect(r.ok ? [] : r.errors.map(formatInputError)).toEqual(expected);
      } else {
        if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
        const expected: unknown = JSON.parse(readFileSync(join(root, dir, 'expected.json'), 'utf8'));
        expect(r.project.steps).toEqual(expected);
      }
    });
  }
});

describe('the resolved project', () => {
  it('carries digests, settings and secrets', async () => {
    const r = await load('ok-refs');
    if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
    const p = r.project;
    expect(p.inventoryDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(p.playbookDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(p.inventoryDigest).not.toBe(p.playbookDigest);
    expect(p.secrets).toEqual(['r0-secret']);
    expect(p.nodes.every((n) => n.secrets.includes('r0-secret'))).toBe(true);
    expect(p.settings.strategy).toBe('linear');
    expect(p.steps[1]!.source).toEqual({ file: 'playbook.yaml', line: 9, column: 5 });
  });

  it('a playbook given explicitly wins over the one the inventory names', async () => {
    const r = await loadProject({
      inventoryPath: 'inventory.yaml',
      playbookPath: 'other.yaml',
      registry: testRegistry(),
      readFile: async (p) => {
        if (p === 'inventory.yaml') return readFile(join(root, 'ok-refs', p), 'utf8');
        if (p === 'other.yaml') return 'name: other\nsteps:\n  - {id: only, kind: note, with: {text: !ref self.name}}\n';
        throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      },
      env: { R0_SECRET: 'x' },
    });
    if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
    expect(r.project.steps.map((s) => [s.id, s.paramsByNode])).toEqual([['only', { bob: { text: 'bob' }, alice: { text: 'alice' }, arbiter: { text: 'arbiter' } }]]);
  });

  it('an inventory without a playbook, and no playbook given, is an error', async () => {
    const r = await loadProject({
      inventoryPath: 'inv.yaml',
      registry: testRegistry(),
      readFile: async () => 'cluster: c\nssh: {user: root, auth: {agent: true}}\nnodes:\n  bob: {ssh: {host: 127.0.0.1}}\n',
    });
    expect(r.ok ? [] : r.errors.map(formatInputError)).toEqual(['inv.yaml:1:1 expected "playbook: <path>" in the inventory (or a playbook given on the command line), found none']);
  });

  it('asks for no password until both files are valid, then asks once', async () => {
    const files: Record<string, string> = {
      'inv.yaml':
        'cluster: c\nplaybook: pb.yaml\nssh: {user: root, auth: {password: {prompt: true}}}\nnodes:\n  bob: {ssh: {host: 127.0.0.1, port: 2201}}\n  alice: {ssh: {host: 127.0.0.1, port: 2202}}\n',
      'pb.yaml': 'name: p\nsteps:\n  - {id: a, kind: note, with: {txt: hi}}\n',
    };
    const asked: string[] = [];
    const opts = {
      inventoryPath: 'inv.yaml',
      registry: testRegistry(),
      readFile: async (p: string) => files[p]!,
      prompt: async (q: string) => (asked.push(q), 'pw'),
    };
    const bad = await loadProject(opts);
    expect(bad.ok ? [] : bad.errors.map(formatInputError)).toEqual([
      'pb.yaml:3:25 steps[0].with.text: missing required key "text"',
      'pb.yaml:3:32 steps[0].with.txt: unknown key "txt" (did you mean "text"?)',
    ]);
    expect(asked).toEqual([]);
    files['pb.yaml'] = 'name: p\nsteps:\n  - {id: a, kind: note, with: {text: hi}}\n';
    const good = await loadProject(opts);
    expect(good.ok).toBe(true);
    expect(asked).toEqual(['SSH password (ssh.auth.password in inv.yaml): ']);
    if (good.ok)
      expect(good.project.nodes.map((n) => [n.endpoint.auth, n.secrets])).toEqual([
        [{ kind: 'password', password: 'pw' }, ['pw']],
        [{ kind: 'password', password: 'pw' }, ['pw']],
      ]);
  });

  it('reads each file once when the inventory has no secret to read; twice (validate, then read secrets) when it has', async () => {
    const files: Record<string, string> = {
      'plain.yaml': 'cluster: c\nplaybook: pb.yaml\nssh: {user: root, auth: {agent: true}}\nnodes:\n  bob: {ssh: {host: 127.0.0.1}}\n',
      'secret.yaml': 'cluster: c\nplaybook: pb.yaml\nssh: {user: root, auth: {password: {env: PW}}}\nnodes:\n  bob: {ssh: {host: 127.0.0.1}}\n',
      'pb.yaml': 'name: p\nsteps:\n  - {id: a, kind: note, with: {text: hi}}\n',
    };
    for (const [inventoryPath, reads] of [
      ['plain.yaml', 2],
      ['secret.yaml', 4],
    ] as const) {
      const read: string[] = [];
      const r = await loadProject({ inventoryPath, registry: testRegistry(), env: { PW: 'pw-1' }, readFile: async (p) => (read.push(p), files[p]!) });
      if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
      expect(read.length).toBe(reads);
      expect(r.project.secrets).toEqual(inventoryPath === 'secret.yaml' ? ['pw-1'] : []);
    }
  });
});
