/**
 * Runs one of docker/standin's self-test scripts against bed containers and
 * checks its verdict: no FAIL on stderr, exit 0, and its pass line on stdout.
 * Shared by the stand-in's bed tests (standin, standin84, standin-resize,
 * standin-fencing-peers).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';

const run = promisify(execFile);

export async function expectSelftestPasses(script: string, containerIds: readonly string[], opts: { timeoutMs: number; pass?: RegExp; print?: boolean }): Promise<void> {
  const path = fileURLToPath(new URL(`../../docker/standin/${script}`, import.meta.url));
  const r = await run('bash', [path, ...containerIds], { timeout: opts.timeoutMs, maxBuffer: 16 << 20 }).catch((e: { code: number; stdout: string; stderr: string }) => e);
  if (opts.print) console.log(r.stdout);
  expect(r.stderr, r.stdout).not.toMatch(/FAIL/);
  expect('code' in r ? r.code : 0, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(opts.pass ?? /PASS/);
}
