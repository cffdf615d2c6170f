/**
 * The lock under races (issue 12.6): many processes start at once on one
 * state folder; exactly one holds the lock, and no process ever reads an
 * empty or partly written lock file.
 */
import { spawn } from 'node:child_process';
import { buildSync } from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLock } from '../../../src/run/lock.js';

const dir = mkdtempSync(join(tmpdir(), 'ha-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The children are plain `node` processes importing src/run/lock.ts bundled once by esbuild:
// a TypeScript loader per child (tsx starts its own esbuild service) cost ~1 CPU-s each.
const lockModule = join(dir, 'lock.mjs');
buildSync({ entryPoints: [join(import.meta.dirname, '../../../src/run/lock.ts')], bundle: true, platform: 'node', format: 'esm', outfile: lockModule, logLevel: 'error' });
/** A synchronous sleep until `t` (ms since epoch) that burns no CPU: the children wait for one common instant. */
const SLEEP_UNTIL = 'const sleepUntil = (t) => { const ms = t - Date.now(); if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };';

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
    const script = join(dir, 'race.mjs');
    // each child waits for the same instant, tries once, and holds what it got for a moment
    writeFileSync(
      script,
      `import { acquireLock } from ${JSON.stringify(lockModule)};
${SLEEP_UNTIL}
const at = Number(process.argv[2]);
sleepUntil(at);
const r = acquireLock(${JSON.stringify(state)}, { pid: process.pid, host: 'h', startedAt: 't', runId: 'child-' + process.pid });
console.log(JSON.stringify(r.ok ? { ok: true } : { ok: false, message: r.message }));
// hold it until every process has tried (the test writes the file "done")
const done = ${JSON.stringify(join(dir, 'done'))};
const { existsSync } = await import('node:fs');
const wait = setInterval(() => { if (existsSync(done)) { clearInterval(wait); if (r.ok) r.release(); } }, 50);
`,
    );
    const at = Date.now() + 3000;
    const children = Array.from({ length: 16 }, () => spawn(process.execPath, [script, String(at)], { stdio: ['ignore', 'pipe', 'inherit'] }));
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

describe('taking over a stale lock', () => {
  /** The pid of a process that has exited. */
  const deadPid = () =>
    new Promise<number>((res) => {
      const c = spawn(process.execPath, ['-e', '']);
      c.on('exit', () => res(c.pid!));
    });

  it('12 processes find the same stale lock and take it over at the same instant: exactly one holds it', async () => {
    const state = join(dir, 'stale-race');
    mkdirSync(state, { recursive: true });
    const dead = await deadPid();
    writeFileSync(join(state, 'lock'), JSON.stringify({ pid: dead, host: 'h', startedAt: 't', runId: 'dead-run' }) + '\n');
    const script = join(dir, 'stale-race.mjs');
    // Forced race: every child reads the stale lock, then waits (the pause hook) until
    // one common instant, after every child has read it, before taking it over.
    writeFileSync(
      script,
      `import { acquireLock } from ${JSON.stringify(lockModule)};
import { existsSync } from 'node:fs';
${SLEEP_UNTIL}
const [at, go] = [Number(process.argv[2]), Number(process.argv[3])];
sleepUntil(at);
const r = acquireLock(${JSON.stringify(state)}, { pid: process.pid, host: 'h', startedAt: 't', runId: 'child-' + process.pid }, {
  pause: () => sleepUntil(go),
});
console.log(JSON.stringify(r.ok ? { ok: true, tookOver: r.tookOver?.runId } : { ok: false, message: r.message }));
const done = ${JSON.stringify(join(dir, 'stale-done'))};
const wait = setInterval(() => { if (existsSync(done)) { clearInterval(wait); if (r.ok) r.release(); } }, 50);
`,
    );
    const at = Date.now() + 4000;
    const children = Array.from({ length: 12 }, () => spawn(process.execPath, [script, String(at), String(at + 500)], { stdio: ['ignore', 'pipe', 'inherit'] }));
    const results = await Promise.all(
      children.map(
        (c) =>
          new Promise<{ ok: boolean; tookOver?: string; message?: string }>((res, rej) => {
            let out = '';
            c.stdout!.on('data', (d: Buffer) => {
              out += d.toString();
              if (out.includes('\n')) res(JSON.parse(out.trim()) as { ok: boolean; message?: string });
            });
            c.on('exit', (code) => rej(new Error(`child exited (${code}) before answering: ${out}`)));
          }),
      ),
    );
    const holder = JSON.parse(readFileSync(join(state, 'lock'), 'utf8')) as { runId: string };
    writeFileSync(join(dir, 'stale-done'), '');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))));
    const winners = results.filter((r) => r.ok);
    expect(winners, JSON.stringify(results)).toHaveLength(1);
    expect(winners[0]!.tookOver).toBe('dead-run');
    // the lock file names the winner, and every other process was refused naming a live holder
    expect(holder.runId).toMatch(/^child-\d+$/);
    for (const r of results.filter((x) => !x.ok)) expect(r.message).toMatch(/another run holds the lock on this inventory: pid \d+ on h, run child-\d+/);
    expect(existsSync(join(state, 'lock.takeover'))).toBe(false);
  }, 90_000);

  it('a takeover marker left by a dead process: refused, never removed behind a live takeover', () => {
    const state = join(dir, 'stale-marker');
    mkdirSync(state, { recursive: true });
    writeFileSync(join(state, 'lock'), JSON.stringify({ pid: 1, host: 'h', startedAt: 't', runId: 'dead-run' }) + '\n');
    writeFileSync(join(state, 'lock.takeover'), JSON.stringify({ pid: 2, host: 'h', startedAt: 't', runId: 'dead-taker' }) + '\n');
    const r = acquireLock(state, { pid: 3, host: 'h', startedAt: 't', runId: 'me' }, { isAlive: () => false });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/lock\.takeover was left by a run that died while taking over a stale lock \(pid 2 on h, run dead-taker.*remove it/);
    // a live taker: wait for it, then (gone) take over
    writeFileSync(join(state, 'lock.takeover'), JSON.stringify({ pid: 2, host: 'h', startedAt: 't', runId: 'live-taker' }) + '\n');
    let calls = 0;
    const r2 = acquireLock(
      state,
      { pid: 3, host: 'h', startedAt: 't', runId: 'me' },
      {
        isAlive: (pid) => {
          if (pid === 2 && ++calls === 3) rmSync(join(state, 'lock.takeover')); // the live taker finishes
          return pid === 2;
        },
      },
    );
    expect(r2.ok).toBe(true);
    if (r2.ok) expect(r2.tookOver?.runId).toBe('dead-run');
  });
});
