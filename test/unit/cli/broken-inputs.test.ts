/**
 * The broken-input corpus (issue 12.1): every input here is refused with
 * exit 2 (4 for a plan that cannot be applied), the error names the file,
 * line, column and key where they apply, nothing reads like a crash (no
 * stack trace, "internal error", "undefined", "[object Object]", "NaN"), and
 * no TCP connection is attempted (counted: test/support/cli-inproc.ts).
 *
 * Files: test/fixtures/broken/inventory/*.yaml (run with base/playbook.yaml)
 * and playbook/*.yaml (run with base/inventory.yaml), each the base with one
 * thing broken; the first line says what is expected:
 *   # expect: CODE LINE:COLUMN KEY.PATH     (- for no line/column or no key)
 * and an optional second line `# argv: plan {file}` replaces the command.
 * Tables below: files that cannot carry a comment (empty, UTF-16, NUL),
 * command-line flags, and plan files.
 * HA_CORPUS_RECORD=1 writes what the CLI says now into the `# expect:`
 * lines (then read every change before committing it).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProject } from '../../../src/playbook/resolve.js';
import { buildPlan } from '../../../src/plan/build.js';
import { selectWork } from '../../../src/plan/select.js';
import { sealPlan } from '../../../src/plan/seal.js';
import type { Plan } from '../../../src/plan/types.js';
import { lazyBuiltinRegistry } from '../../../src/steps/registry.js';
import { runCli, type CliRun } from '../../support/cli-inproc.js';

const root = join(import.meta.dirname, '../../fixtures/broken');
const RECORD = process.env['HA_CORPUS_RECORD'] === '1';
const STATE = join(root, 'base/state');

/** What no refusal may look like. */
function noCrash(r: CliRun): void {
  const out = r.stdout + r.stderr;
  expect(out).not.toMatch(/\n\s+at .*(:\d+:\d+\)?|<anonymous>)/); // a stack frame
  expect(out).not.toMatch(/internal error|Maximum call stack|RangeError|TypeError|ReferenceError/);
  expect(out).not.toMatch(/\bundefined\b|\[object Object\]|\bNaN\b/);
  expect(r.connects).toBe(0);
  // nor a state folder (no lock, journal or run log)
  expect(existsSync(STATE)).toBe(false);
}

interface Expect {
  code: number;
  /** Another file than the case's (one the case names). */
  file?: string;
  at?: string;
  key?: string;
  /** Found by plan/apply only (validate reads no secret and creates no state folder). */
  planOnly: boolean;
}

/** `# expect: CODE [FILE:]LINE:COL|- KEY|- [plan-only]` */
function parseExpect(line: string): Expect | undefined {
  const m = /^# expect: (\d) (?:(\S+):)?(\d+:\d+|-) (\S+)( plan-only)?$/.exec(line);
  if (!m) return undefined;
  return { code: Number(m[1]), ...(m[2] ? { file: m[2] } : {}), ...(m[3] !== '-' ? { at: m[3] } : {}), ...(m[4] !== '-' ? { key: m[4] } : {}), planOnly: m[5] !== undefined };
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function checkLocated(r: CliRun, caseFile: string, e: Expect): void {
  const out = r.stdout + r.stderr;
  const file = e.file ?? caseFile;
  expect(r.code, out).toBe(e.code);
  if (e.at) {
    // main's format is FILE:L:C: KEY: ..., validate's FILE:L:C KEY: ...
    const re = new RegExp(`${esc(file)}:${esc(e.at)}:? ${e.key ? `${esc(e.key)}: ` : ''}\\S`);
    expect(out, out).toMatch(re);
  } else {
    expect(out).toContain(file);
    if (e.key) expect(out).toContain(`${e.key}:`);
  }
}

/** The first located line an output holds, as an expectation (for HA_CORPUS_RECORD). */
function observed(r: CliRun, file: string): string {
  const out = r.stdout + r.stderr;
  const m = new RegExp(`${esc(file)}:(\\d+:\\d+):? (?:([A-Za-z0-9_.\\[\\]*-]+): )?`).exec(out);
  if (m) return `# expect: ${r.code} ${m[1]} ${m[2] ?? '-'}`;
  const k = /: ([a-z_]+\.[a-z_.]+): /.exec(out);
  return `# expect: ${r.code} - ${k?.[1] ?? '-'}`;
}

beforeAll(() => rmSync(STATE, { recursive: true, force: true }));
afterAll(() => {
  // refused input never created the state folder (no lock, journal or log)
  expect(existsSync(STATE)).toBe(false);
});

const caseFiles = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.yaml'))
    .sort();

describe.each([
  ['inventory', (f: string) => ['plan', f, 'base/playbook.yaml']],
  ['playbook', (f: string) => ['plan', 'base/inventory.yaml', f]],
] as const)('broken %s files', (dir, argvFor) => {
  const files = caseFiles(dir);
  it('has cases', () => expect(files.length).toBeGreaterThanOrEqual(60));
  for (const f of files) {
    it(f, async () => {
      const path = join(root, dir, f);
      const text = readFileSync(path, 'utf8');
      const [first, second] = text.split('\n');
      const rel = `${dir}/${f}`;
      const custom = /^# argv: (.*)$/.exec(second ?? '');
      const argv = custom ? custom[1]!.split(' ').map((a) => (a === '{file}' ? rel : a)) : [...argvFor(rel)];
      const r = await runCli(argv, root);
      noCrash(r);
      if (RECORD) {
        writeFileSync(path, text.replace(/^# expect: .*/, observed(r, rel)));
        return;
      }
      const e = parseExpect(first ?? '');
      expect(e, `${rel}: first line "# expect: CODE LINE:COL KEY"`).toBeDefined();
      checkLocated(r, rel, e!);
      // the same file through validate: the same place
      if (!custom && !e!.planOnly) {
        const v = await runCli(dir === 'inventory' ? ['validate', rel, '--playbook', 'base/playbook.yaml'] : ['validate', 'base/inventory.yaml', '--playbook', rel], root);
        noCrash(v);
        checkLocated(v, rel, e!);
      }
    });
  }
});

describe('files that cannot carry a comment', () => {
  const base = readFileSync(join(root, 'base/inventory.yaml'), 'utf8');
  const bom16le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(base, 'utf16le')]);
  const bom16be = Buffer.from([0xfe, 0xff, ...Buffer.from(base, 'utf16le').swap16()]);
  const cases: [string, Buffer | string, RegExp][] = [
    ['empty.yaml', '', /empty\.yaml:1:1:? expected an inventory .*found an empty file/],
    ['utf16le-bom.yaml', bom16le, /utf16le-bom\.yaml:1:1:? the file looks UTF-16 encoded/],
    ['utf16be-bom.yaml', bom16be, /utf16be-bom\.yaml:1:1:? the file looks UTF-16 encoded/],
    ['utf16le-nobom.yaml', Buffer.from(base, 'utf16le'), /utf16le-nobom\.yaml:1:1:? the file looks UTF-16 encoded/],
    ['nul-byte.yaml', base.replace('cluster: corpus', 'cluster: cor\0pus'), /nul-byte\.yaml:1:1:? the file holds a NUL byte/],
    ['latin1.yaml', Buffer.from(base.replace('cluster: corpus', 'cluster: corpüs'), 'latin1'), /latin1\.yaml:\d+:\d+:? cluster: expected a resource name/],
    ['only-bom.yaml', '\uFEFF', /only-bom\.yaml:1:1:? expected an inventory/],
    ['crlf.yaml', base.replace(/\n/g, '\r\n').replace('cluster: corpus', 'cluster: corpus\r\nbogus: 1'), /crlf\.yaml:\d+:1:? bogus: unknown key "bogus"/],
    ['control-chars.yaml', base.replace('cluster: corpus', 'cluster: "corp\x1b[31mus"'), /control-chars\.yaml:\d+:\d+:? cluster: expected a resource name/],
  ];
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ha-corpus-'));
    for (const [name, content] of cases) writeFileSync(join(dir, name), content);
    cpSync(join(root, 'base'), join(dir, 'base'), { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it.each(cases.map(([n, , re]) => [n, re] as const))('%s', async (name, re) => {
    for (const argv of [
      ['plan', name, 'base/playbook.yaml'],
      ['validate', name],
    ]) {
      const r = await runCli(argv, dir);
      noCrash(r);
      expect(r.code).toBe(2);
      expect(r.stdout + r.stderr).toMatch(re);
    }
  });
  it('the playbook too: a UTF-16 playbook gets the hint', async () => {
    writeFileSync(join(dir, 'pb16.yaml'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(readFileSync(join(root, 'base/playbook.yaml'), 'utf8'), 'utf16le')]));
    const r = await runCli(['plan', 'base/inventory.yaml', 'pb16.yaml'], dir);
    noCrash(r);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pb16\.yaml:1:1:? the file looks UTF-16 encoded/);
  });
});

describe('command-line flags', () => {
  const inv = 'base/inventory.yaml';
  const pb = 'base/playbook.yaml';
  const cases: [string[], RegExp][] = [
    [['plan', inv, pb, '--limit', ''], /--limit needs node names, found ""/],
    [['plan', inv, pb, '--limit', ','], /--limit needs node names, found ","/],
    [['plan', inv, pb, '--limit', ' '], /--limit needs node names/],
    [['plan', inv, pb, '--limit', 'bob,'], /--limit needs node names, found "bob,"/],
    [['plan', inv, pb, '--limit', ',bob'], /--limit needs node names/],
    [['plan', inv, pb, '--limit', 'bob', '--limit', ''], /--limit needs node names/],
    [['plan', inv, pb, '-l', ''], /--limit needs node names/],
    [['plan', inv, pb, '--limit=', ''], /--limit needs node names|too many arguments/],
    [['apply', inv, pb, '--limit', ''], /--limit needs node names/],
    [['apply', inv, pb, '--dry-run', '--limit', ','], /--limit needs node names/],
    [['plan', inv, pb, '--limit', 'carol'], /--limit: unknown node\(s\) carol/],
    [['plan', inv, pb, '--limit', 'Bob'], /--limit: unknown node\(s\) Bob/],
    [['plan', inv, pb, '--from', 'nope'], /--from: unknown step "nope"/],
    [['plan', inv, pb, '--from', ''], /--from needs a value/],
    [['plan', inv, pb, '--concurrency', '0'], /--concurrency must be an integer >= 1, got "0"/],
    [['plan', inv, pb, '--concurrency', '-1'], /--concurrency|option/],
    [['plan', inv, pb, '--concurrency', '1.5'], /--concurrency must be an integer >= 1, got "1.5"/],
    [['plan', inv, pb, '--concurrency', 'many'], /--concurrency must be an integer >= 1, got "many"/],
    [['plan', inv, pb, '--concurrency', ''], /--concurrency must be an integer >= 1, got ""/],
    [['plan'], /plan needs INVENTORY/],
    [['plan', ''], /plan needs INVENTORY/],
    [['plan', inv, pb, 'extra'], /too many arguments/],
    [['plan', inv, '--bogus'], /Unknown option '--bogus'/],
    [['plan', inv, '--dry-run'], /option --dry-run does not apply to "plan"/],
    [['frobnicate', inv], /unknown command "frobnicate"/],
    [['apply'], /apply needs INVENTORY \(or --plan FILE\)/],
    [['apply', '--plan', ''], /--plan needs a value|apply needs INVENTORY/],
    [['apply', inv, '--plan', 'p.json', '--dry-run'], /--plan and --dry-run cannot be used together/],
    [['apply', inv, '-o', 'p.json'], /-o\/--out writes a plan/],
    [['apply', '--plan', 'p.json', '--limit', 'bob'], /--limit\/--from come from the plan file/],
    [['apply', '--plan', 'p.json', '--from', 'hosts'], /--limit\/--from come from the plan file/],
    [['plan', inv, pb, '-o', ''], /-o\/--out needs a value/],
    [['plan', inv, pb, '-o', '/nonexistent-corpus-dir/plan.json'], /-o \/nonexistent-corpus-dir\/plan\.json: the folder \/nonexistent-corpus-dir does not exist/],
    [['plan', inv, pb, '-o', 'base/no-such-dir/plan.json'], /the folder .*no-such-dir does not exist/],
    [['plan', inv, pb, '-o', 'base'], /-o base: is a directory/],
    [['plan', inv, pb, '-o', 'base/inventory.yaml/plan.json'], /is not a directory/],
    [['apply', inv, pb, '--dry-run', '-o', '/nonexistent-corpus-dir/p.json'], /the folder \/nonexistent-corpus-dir does not exist/],
    [['plan', 'no-such-inventory.yaml', pb], /no-such-inventory\.yaml:1:1: cannot read the file: no such file/],
    [['plan', 'base', pb], /base:1:1: cannot read the file: is a directory/],
    [['plan', inv, 'no-such-playbook.yaml'], /no-such-playbook\.yaml:1:1: cannot read the file: no such file/],
    [['validate'], /an inventory file is required/],
    [['validate', inv, '--playbook'], /--playbook needs a file/],
    [['validate', inv, inv], /expected one inventory file, found 2/],
    [['validate', inv, '--bogus'], /unknown option --bogus/],
    [['validate', 'no-such-inventory.yaml'], /no-such-inventory\.yaml:1:1 cannot read the file: no such file/],
    [['schema', 'bogus'], /./],
    [['schema'], /./],
  ];
  it('has cases', () => expect(cases.length).toBeGreaterThanOrEqual(40));
  it.each(cases.map(([argv, re]) => [argv.map((a) => JSON.stringify(a)).join(' '), argv, re] as const))('%s', async (_name, argv, re) => {
    const r = await runCli([...argv], root);
    noCrash(r);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout + r.stderr).toMatch(re);
  });
});

describe('plan files', () => {
  let dir: string;
  let plan: Plan;
  const invPath = join(root, 'base/inventory.yaml');
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ha-corpus-plan-'));
    const registry = lazyBuiltinRegistry();
    const r = await loadProject({ inventoryPath: invPath, registry, playbookPath: join(root, 'base/playbook.yaml') });
    if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
    const sel = selectWork(r.project, {});
    if (!sel.ok) throw new Error(sel.message);
    // facts as if read: every step of every node "ok" with no facts (pure: nothing connects)
    const gathered = Object.fromEntries(sel.selection.nodes.map((n) => [n.name, { error: 'not contacted (test)' }]));
    plan = sealPlan(buildPlan({ project: r.project, selection: sel.selection, registry, gathered, options: {}, now: new Date(0) }));
    mkdirSync(join(dir, 'folder.json'));
    writeFileSync(
      join(dir, 'other.yaml'),
      readFileSync(invPath, 'utf8')
        .replace('cluster: corpus', 'cluster: other')
        .replace('state_dir: state', `state_dir: ${STATE}`)
        .replace('../base/known_hosts', join(root, 'base/known_hosts')),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const edit =
    (f: (p: Plan) => unknown, reseal = false) =>
    (): string => {
      const p = structuredClone(plan) as Plan;
      const out = (f(p) as Plan | undefined) ?? p;
      return JSON.stringify(reseal ? sealPlan(out) : out, null, 2);
    };
  const raw = (s: string | Buffer) => (): string | Buffer => s;
  const cases: [string, () => string | Buffer, number, RegExp][] = [
    ['empty', raw(''), 2, /empty\.json:1:1: not JSON \(the text ends early\)/],
    ['not-json', raw('plan: yes\n'), 2, /not-json\.json:1:1: not JSON/],
    ['truncated', () => JSON.stringify(plan, null, 2).slice(0, 200), 2, /truncated\.json:\d+:\d+: not JSON/],
    ['trailing-garbage', () => JSON.stringify(plan) + '}', 2, /trailing-garbage\.json:1:\d+: not JSON/],
    ['json-array', raw('[]'), 2, /json-array\.json:1:1: .*expected object/],
    ['json-null', raw('null'), 2, /json-null\.json:1:1: .*expected object/],
    ['json-string', raw('"plan"'), 2, /json-string\.json:1:1: .*expected object/],
    ['wrong-format', edit((p) => ({ ...p, format: 'terraform/plan' })), 2, /wrong-format\.json:\d+:\d+: format: /],
    ['wrong-version', edit((p) => ({ ...p, version: 2 })), 2, /wrong-version\.json:\d+:\d+: version: /],
    ['nodes-not-list', edit((p) => ({ ...p, nodes: {} })), 2, /nodes-not-list\.json:\d+:\d+: nodes: /],
    ['bad-status', edit((p) => void (p.nodes[0]!.steps[0]!.status = 'done' as never)), 2, /bad-status\.json:\d+:\d+: nodes\[0\]\.steps\[0\]\.status: /],
    ['missing-digests', edit((p) => ({ ...p, inventoryDigest: undefined })), 2, /missing-digests\.json:\d+:\d+: inventoryDigest: /],
    ['utf16', () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(plan), 'utf16le')]), 2, /utf16\.json:1:1: the file looks UTF-16 encoded/],
    ['nul', () => JSON.stringify(plan).replace('"ha-provision/plan"', '"ha-provision/plan\u0000"'), 2, /nul\.json:1:1: the file holds a NUL byte/],
    ['no-such-plan', () => '', 2, /cannot read the plan .*missing\.json: no such file or directory/],
    ['folder', () => '', 2, /cannot read the plan folder\.json: is a directory/],
    // exit 4: intact JSON, but not this project's plan, or edited
    ['no-digest', edit((p) => ({ ...p, digest: undefined })), 4, /the plan has no digest/],
    ['edited-reason', edit((p) => void (p.nodes[0]!.steps[0]!.reason = 'all fine, go ahead')), 4, /edited after it was made/],
    ['edited-status', edit((p) => void (p.nodes[0]!.steps[0]!.status = 'ok')), 4, /edited after it was made/],
    ['edited-node-error', edit((p) => void delete p.nodes[0]!.error), 4, /edited after it was made/],
    ['edited-createdAt', edit((p) => void (p.createdAt = '2030-01-01T00:00:00Z')), 4, /edited after it was made/],
    ['edited-extra-key', edit((p) => ({ ...p, note: 'hello' })), 4, /edited after it was made/],
    [
      'edited-changes-resealed',
      edit((p) => void p.nodes[0]!.steps[0]!.changes.push({ kind: 'exec', argv: ['rm', '-rf', '/'], description: 'tidy' }), true),
      4,
      /the changes shown were edited/,
    ],
    ['other-inventory', edit(() => undefined), 4, /made from another inventory \(.*base\/inventory\.yaml\), not .*other\.yaml/],
    ['inventory-changed', edit((p) => ({ ...p, inventoryDigest: '0'.repeat(64) }), true), 4, /inventory .* changed since the plan was made/],
    ['playbook-changed', edit((p) => ({ ...p, playbookDigest: '0'.repeat(64) }), true), 4, /playbook .* changed since the plan was made/],
    ['unknown-node', edit((p) => void p.nodes.push({ name: 'carol', steps: [] }), true), 4, /names node\(s\) the inventory does not have: carol/],
    ['unknown-limit', edit((p) => ({ ...p, limit: ['carol'], nodes: [] }), true), 4, /names node\(s\) the inventory does not have: carol/],
    ['renamed-node', edit((p) => void (p.nodes[1]!.name = 'mallory'), true), 4, /does not have: mallory/],
    ['duplicate-node', edit((p) => void p.nodes.push(structuredClone(p.nodes[0]!)), true), 4, /lists node\(s\) twice: bob/],
    ['unknown-from', edit((p) => ({ ...p, from: 'nope' }), true), 4, /--from step "nope", which the playbook does not have/],
    ['missing-node', edit((p) => void p.nodes.pop(), true), 4, /the set of nodes differs from the plan \(not in the plan: alice\)/],
    ['missing-step', edit((p) => void p.nodes[0]!.steps.pop(), true), 4, /node bob: the steps differ from the plan/],
    ['limit-mismatch', edit((p) => ({ ...p, limit: ['bob'] }), true), 4, /not in this run: alice/],
  ];
  it('has cases', () => expect(cases.length).toBeGreaterThanOrEqual(30));
  it.each(cases)('%s', async (name, content, code, re) => {
    const file = name === 'no-such-plan' ? 'missing.json' : name === 'folder' ? 'folder.json' : `${name}.json`;
    if (name !== 'no-such-plan' && name !== 'folder') writeFileSync(join(dir, file), content());
    rmSync(STATE, { recursive: true, force: true });
    // other-inventory: this plan applied to another (valid) inventory
    const r = await runCli(name === 'other-inventory' ? ['apply', 'other.yaml', '--plan', file] : ['apply', '--plan', file], dir);
    noCrash(r);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stdout + r.stderr).toMatch(re);
    // refused before the lock, the journal and the run log
    expect(existsSync(STATE)).toBe(false);
  });
  it('the intact plan passes every check that needs no connection (then connects, here refused by the test)', async () => {
    writeFileSync(join(dir, 'intact.json'), JSON.stringify(plan));
    const sock = process.env['SSH_AUTH_SOCK'];
    process.env['SSH_AUTH_SOCK'] = join(dir, 'no-agent'); // the agent is asked after the connection
    try {
      const r = await runCli(['apply', '--plan', 'intact.json'], dir);
      expect(r.connects, r.stdout + r.stderr).toBeGreaterThan(0);
    } finally {
      if (sock === undefined) delete process.env['SSH_AUTH_SOCK'];
      else process.env['SSH_AUTH_SOCK'] = sock;
      rmSync(STATE, { recursive: true, force: true });
    }
  });
});
