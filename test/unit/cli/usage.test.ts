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
