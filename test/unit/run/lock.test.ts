/**
 * The lock under races (issue 12.6): many processes start at once on one
 * state folder; exactly one holds the lock, and no process ever reads an
 * empty or partly written lock file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLock } from '../../../src/run/lock.js';

const dir = mkdtempSync(join(tmpdir(), 'ha-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lockModule = join(import.meta.dirname, '../../../src/run/lock.ts');
const tsx = join(import.meta.dirname, '../../../node_modules/.bin/tsx');

describe('acquireLock', () => {
  it('the lock file holds who runs from the moment it exists', () => {
    const state = join(dir, 'one');
    const r = acquireLock(state, { pid: process.pid, host: 'h', startedAt: 't', runId: 'r1' });
    expect(r.ok).toBe(true);
    expect(JSON.parse(readFileSync(join(state, 'lock'), 'utf8'))).toMatchObject({ runId: 'r1' });
    const second = acquireLock(state, { pid: process.pid, host: 'h', startedAt: 't', runId: 'r2' });
    expect(second.ok).toBe(false);
    if (!second.ok) expect(second.message).toContain('run r1');
    if (r.ok) r.release();
    expect(acquireLock(state, { pid: process.pid, host: 'h', startedAt: 't', runId: 'r3' }).ok).toBe(true);
  });

  it('16 processes started at once: exactly one holds it, none sees an unreadable lock', async () => {
    const state = join(dir, 'race');
    const script = join(dir, 'race.mts');
    // each child waits for the same instant, tries once, and holds what it got for a moment
    writeFileSync(
      script,
      `import { acquireLock } from ${JSON.stringify(lockModule)};
const at = Number(process.argv[2]);
while (Date.now() < at) {}
const r = acquireLock(${JSON.stringify(state)}, { pid: process.pid, host: 'h', startedAt: 't', runId: 'child-' + process.pid });
console.log(JSON.stringify(r.ok ? { ok: true } : { ok: false, message: r.message }));
// hold it until every process has tried (the test writes the file "done")
const done = ${JSON.stringify(join(dir, 'done'))};
const { existsSync } = await import('node:fs');
const wait = setInterval(() => { if (existsSync(done)) { clearInterval(wait); if (r.ok) r.release(); } }, 50);
`,
    );
    const at = Date.now() + 3000;
    const children = Array.from({ length: 16 }, () => spawn(tsx, [script, String(at)], { stdio: ['ignore', 'pipe', 'inherit'] }));
    const results = await Promise.all(
      children.map(
        (c) =>
          new Promise<{ ok: boolean; message?: string }>((res, rej) => {
            let out = '';
            c.stdout!.on('data', (d: Buffer) => {
              out += d.toString();
              if (out.includes('\n')) res(JSON.parse(out.trim()) as { ok: boolean; message?: string });
            });
            c.on('exit', (code) => rej(new Error(`child exited (${code}) before answering: ${out}`)));
          }),
      ),
    );
    writeFileSync(join(dir, 'done'), '');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const r of results.filter((x) => !x.ok)) expect(r.message).toMatch(/another run holds the lock on this inventory: pid \d+/);
  }, 90_000);
});
