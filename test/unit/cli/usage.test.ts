/** CLI surface: usage errors and invalid input give exit code 2 and say what is wrong; nothing is contacted. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { parseCli, UsageError } from '../../../src/cli/args.js';

async function run(args: string[], cwd = tmpdir()) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env: {}, cwd });
  return { code, stdout, stderr };
}

describe('cli', () => {
  it('--help lists commands and exit codes', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ha-provision apply --plan plan.json');
    expect(r.stdout).toContain('4 plan stale, 5 locked by another run');
  });

  it.each([
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['plan'], 'plan needs INVENTORY'],
    [['apply', 'inv.yaml', '--plan', 'p.json', '--dry-run'], '--plan and --dry-run cannot be used together'],
    [['apply', 'inv.yaml', '--concurrency', '0'], '--concurrency must be an integer >= 1, got "0"'],
    [['apply', 'inv.yaml', '-o', 'x.json'], '-o/--out writes a plan'],
    [['plan', 'inv.yaml', '--bogus'], "Unknown option '--bogus'"],
  ])('usage error %j -> exit 2', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('an invalid inventory is reported with file, line and key; exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-cli-'));
    writeFileSync(join(dir, 'inv.yaml'), 'cluster: c\nnodes:\n  bob:\n    ssh: {host: 127.0.0.1, prot: 22}\n');
    const r = await run(['plan', 'inv.yaml'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/inv\.yaml:4:\d+: nodes\.bob\.ssh/);
    expect(r.stderr).toContain('nothing was contacted');
  });

  it('a file that is not a plan is refused with exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-cli-'));
    writeFileSync(join(dir, 'p.json'), '{"format":"something-else"}');
    const r = await run(['apply', '--plan', 'p.json'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not an ha-provision plan');
  });

  it('--limit takes repeated and comma-separated names', () => {
    const c = parseCli(['apply', 'i.yaml', '--limit', 'bob,alice', '-l', 'carol']);
    expect(c.cmd === 'apply' && c.run.limit).toEqual(['bob', 'alice', 'carol']);
    expect(() => parseCli(['validate', 'x', '--dry-run'])).toThrow(UsageError);
  });
});

describe('validate arguments (node:util parseArgs tokens)', () => {
  it.each([
    [['validate'], 'an inventory file is required'],
    [['validate', 'a.yaml', 'b.yaml'], 'expected one inventory file, found 2'],
    [['validate', 'a.yaml', '--playbook'], '--playbook needs a file'],
    [['validate', 'a.yaml', '-p'], '-p needs a file'],
    [['validate', 'a.yaml', '--bogus'], 'unknown option --bogus'],
    [['validate', 'a.yaml', '--bogus=1'], 'unknown option --bogus=1'],
    [['validate', 'a.yaml', '--json=yes'], 'unknown option --json=yes'],
    [['validate', 'a.yaml', '--toString'], 'unknown option --toString'],
  ])('%j -> exit 2: %s', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`ha-provision validate: ${message}\nusage: ha-provision validate <inventory.yaml> [--playbook <file>] [--check-secrets] [--json]\n`);
  });

  it('takes --playbook FILE, --playbook=FILE, -p FILE, and a file named like an option after --', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-cli-'));
    writeFileSync(join(dir, 'inv.yaml'), 'cluster: c\nssh: {user: root, auth: {agent: true}}\nnodes:\n  bob: {ssh: {host: 127.0.0.1}}\n');
    writeFileSync(join(dir, '-pb.yaml'), 'name: p\nsteps:\n  - id: f\n    kind: file\n    with: {path: /etc/x, content: "x\\n"}\n');
    for (const args of [
      ['--playbook', '-pb.yaml', 'inv.yaml'],
      ['inv.yaml', '--playbook=-pb.yaml'],
      ['-p', '-pb.yaml', '--json', 'inv.yaml'],
    ]) {
      const r = await run(['validate', ...args], dir);
      expect(
        r.stderr.split('\n').filter((l) => l && !l.startsWith('warning: ')),
        args.join(' '),
      ).toEqual([]);
      expect(r.code, args.join(' ')).toBe(0);
    }
    const r = await run(['validate', '--', '-pb.yaml'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('unknown option');
    expect(r.stderr).toContain('-pb.yaml');
  });
});
