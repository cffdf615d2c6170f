/**
 * Issue 12.3's last gaps: the reasons an `apply --plan` is refused for are
 * shown escaped on stderr (a plan file is input: a node name in it can hold
 * an escape sequence), and `apply --json` prints JSON in which C1 controls
 * and bidi overrides are escaped too (safeJson: the same data).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadProject } from '../../../src/playbook/resolve.js';
import { buildPlan } from '../../../src/plan/build.js';
import { selectWork } from '../../../src/plan/select.js';
import { sealPlan } from '../../../src/plan/seal.js';
import type { Plan } from '../../../src/plan/types.js';
import { lazyBuiltinRegistry } from '../../../src/steps/registry.js';
import { runCli } from '../../support/cli-inproc.js';

const root = join(import.meta.dirname, '../../fixtures/broken');
let dir: string;
let plan: Plan;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ha-apply-escape-'));
  const registry = lazyBuiltinRegistry();
  const r = await loadProject({ inventoryPath: join(root, 'base/inventory.yaml'), registry, playbookPath: join(root, 'base/playbook.yaml') });
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  const sel = selectWork(r.project, {});
  if (!sel.ok) throw new Error(sel.message);
  const gathered = Object.fromEntries(sel.selection.nodes.map((n) => [n.name, { error: 'not contacted (test)' }]));
  plan = sealPlan(buildPlan({ project: r.project, selection: sel.selection, registry, gathered, options: {}, now: new Date(0) }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a node name with escape sequences in a plan file: escaped in the reason lines, in the JSON too', async () => {
  const p = structuredClone(plan);
  p.nodes.push({ name: 'carol\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e', steps: [] });
  writeFileSync(join(dir, 'hostile.json'), JSON.stringify(sealPlan(p)));
  const r = await runCli(['apply', '--plan', 'hostile.json'], dir);
  expect(r.code, r.stderr).toBe(4);
  expect(r.stderr).toContain('the plan names node(s) the inventory does not have: carol\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e');
  // eslint-disable-next-line no-control-regex
  expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
  expect(r.connects).toBe(0);

  const j = await runCli(['apply', '--plan', 'hostile.json', '--json'], dir);
  expect(j.code).toBe(4);
  // eslint-disable-next-line no-control-regex
  expect(j.stdout + j.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
  const doc = JSON.parse(j.stdout) as { outcome: string; reasons: string[] };
  expect(doc.outcome).toBe('stale');
  // the same data: JSON's own escapes give the name back as it was
  expect(doc.reasons.join('\n')).toContain('carol\x1b]0;pwned\x07\x1b[2J\u009b31m\u202e');
});
