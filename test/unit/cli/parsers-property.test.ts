/**
 * Property-based (fast-check, issue 12.1): random and mutated inventories
 * and playbooks never crash the parsers. Every outcome is a valid result or
 * errors that each name the file, a line and column inside it, and say
 * something readable (no "undefined", no "[object Object]").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InputError } from '../../../src/inventory/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { loadProject } from '../../../src/playbook/resolve.js';
import { lazyBuiltinRegistry } from '../../../src/steps/registry.js';

const root = join(import.meta.dirname, '../../fixtures/broken/base');
const baseInventory = readFileSync(join(root, 'inventory.yaml'), 'utf8');
const basePlaybook = readFileSync(join(root, 'playbook.yaml'), 'utf8');

function located(errors: readonly InputError[], files: Record<string, string>): void {
  expect(errors.length).toBeGreaterThan(0);
  for (const e of errors) {
    const text = files[e.file];
    expect(text, `error names a file we gave: ${e.file}`).toBeDefined();
    const lines = text!.split(/\r\n|\r|\n/).length;
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.line).toBeLessThanOrEqual(lines + 1);
    expect(e.column).toBeGreaterThanOrEqual(1);
    expect(typeof e.message).toBe('string');
    expect(e.message.length).toBeGreaterThan(0);
    expect(`${e.path} ${e.message}`).not.toMatch(/\bundefined\b|\[object Object\]|\bNaN\b/);
  }
}

/** Text edits a person (or a bad merge) makes: delete, duplicate, insert YAML punctuation, retype, re-indent. */
const PIECES = [
  '',
  ' ',
  '\t',
  '\n',
  ':',
  ': ',
  '- ',
  '[',
  ']',
  '{',
  '}',
  ',',
  '&a ',
  '*a',
  '!ref ',
  '!concat ',
  '"',
  "'",
  '#',
  '|',
  '>',
  '?',
  '---',
  '...',
  '~',
  'null',
  '0',
  '-1',
  '1e9',
  'true',
  '\u0000',
  '\uFEFF',
  '\u00e9',
  '\u001b[31m',
  'x'.repeat(300),
];

const mutation = (len: number) =>
  fc.oneof(
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(len), text: fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 8 })) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(len), n: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant('dupLine' as const), line: fc.nat(80) }),
    fc.record({ kind: fc.constant('dropLine' as const), line: fc.nat(80) }),
    fc.record({ kind: fc.constant('indent' as const), line: fc.nat(80), by: fc.integer({ min: -4, max: 4 }) }),
  );

type Mutation =
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'delete'; at: number; n: number }
  | { kind: 'dupLine' | 'dropLine'; line: number }
  | { kind: 'indent'; line: number; by: number };

function mutate(text: string, ms: readonly Mutation[]): string {
  let t = text;
  for (const m of ms) {
    const lines = t.split('\n');
    switch (m.kind) {
      case 'insert': {
        const at = Math.min(m.at, t.length);
        t = t.slice(0, at) + m.text + t.slice(at);
        break;
      }
      case 'delete': {
        const at = Math.min(m.at, t.length);
        t = t.slice(0, at) + t.slice(at + m.n);
        break;
      }
      case 'dupLine':
      case 'dropLine': {
        const i = m.line % Math.max(1, lines.length);
        if (m.kind === 'dupLine') lines.splice(i, 0, lines[i] ?? '');
        else lines.splice(i, 1);
        t = lines.join('\n');
        break;
      }
      case 'indent': {
        const i = m.line % Math.max(1, lines.length);
        const l = lines[i] ?? '';
        lines[i] = m.by >= 0 ? ' '.repeat(m.by) + l : l.replace(new RegExp(`^ {0,${-m.by}}`), '');
        t = lines.join('\n');
        break;
      }
    }
  }
  return t;
}

const registry = lazyBuiltinRegistry();
const read = (files: Record<string, string>) => async (p: string) => {
  const t = files[p];
  if (t === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  return t;
};

async function project(inv: string, pb: string) {
  const files = { 'inv.yaml': inv, 'pb.yaml': pb };
  const r = await loadProject({
    inventoryPath: 'inv.yaml',
    playbookPath: 'pb.yaml',
    registry,
    readFile: read(files),
    env: {},
    secrets: 'skip',
    homeDir: '/home/test',
    cwd: root,
  } as Parameters<typeof loadProject>[0]);
  if (!r.ok) located(r.errors, files);
  return r;
}

const RUNS = Number(process.env['HA_PROPERTY_RUNS'] ?? 150);

describe('parsers never crash (fast-check)', () => {
  it('the base project is valid', async () => {
    expect((await project(baseInventory, basePlaybook)).ok).toBe(true);
  });

  it('mutated inventories: valid or located errors', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation(baseInventory.length), { minLength: 1, maxLength: 6 }), async (ms) => {
        await project(mutate(baseInventory, ms), basePlaybook);
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it('mutated playbooks: valid or located errors', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation(basePlaybook.length), { minLength: 1, maxLength: 6 }), async (ms) => {
        await project(baseInventory, mutate(basePlaybook, ms));
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it('random YAML-ish text as an inventory or a playbook', async () => {
    const yamlish = fc
      .array(fc.oneof(fc.constantFrom(...PIECES, 'cluster', 'nodes', 'steps', 'id', 'kind', 'with', 'bob', '127.0.0.1', '  '), fc.string({ maxLength: 5 })), { maxLength: 60 })
      .map((a) => a.join(''));
    await fc.assert(
      fc.asyncProperty(yamlish, async (text) => {
        const files = { 'x.yaml': text };
        const inv = await loadInventory({ path: 'x.yaml', readFile: read(files), secrets: 'skip', homeDir: '/home/test' });
        if (!inv.ok) located(inv.errors, files);
        await project(baseInventory, text).catch((e: unknown) => {
          throw new Error(`the playbook parser threw: ${String(e)}`);
        });
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it('random values put where the inventory expects a port, a name, an address, a list', async () => {
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.constantFrom('*a', '&a x', '!ref self.name', '[*a, *a]', '{', '"\\u0000"', '~', '.nan', '0x1F', '1_000', '-.inf', '2001:db8::1', '!!binary aGk='),
    );
    const slots = ['port: 2201', 'cluster: corpus', 'address: 10.0.0.25', 'roles: [primary]', 'concurrency: 2', 'minor: 0', 'cidr_netmask: 24'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...slots), value, async (slot, v) => {
        const key = slot.split(':')[0]!;
        await project(baseInventory.replace(slot, `${key}: ${v}`), basePlaybook);
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});
