/**
 * Crash safety with the BUILT CLI (`node bin/ha-provision.js`, bundled by
 * scripts/build.mjs, as `npm run build` does, in beforeAll): SIGKILL in the middle of a run, then a rerun
 * finishes the job and the nodes end exactly as after an uninterrupted run.
 * Ctrl-C (SIGINT) stops between steps with exit code 3 and resumes the same way.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from './fixture.js';

const repo = join(import.meta.dirname, '../..');
const bin = join(repo, 'bin/ha-provision.js');
let beds: Bed[] = [];
afterEach(async () => {
  await Promise.all(beds.map((b) => b.stop()));
  beds = [];
});

beforeAll(() => {
  execFileSync(process.execPath, [join(repo, 'scripts/build.mjs')], { cwd: repo, stdio: 'pipe' });
}, 120_000);

async function bedOf(n: number): Promise<Bed> {
  const b = await startBed(n);
  beds.push(b);
  return b;
}

/** Spawn the built CLI; send `signal` as soon as the journal shows `step` started on some node. */
function runUntil(bed: Bed, step: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; sent: boolean }> {
  const journal = join(bed.stateDir, 'journal.jsonl');
  const before = existsSync(journal) ? readFileSync(journal, 'utf8').length : 0;
  const child = spawn(process.execPath, [bin, 'apply', bed.inventory], { cwd: bed.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let sent = false;
  const timer = setInterval(() => {
    if (sent || !existsSync(journal)) return;
    const text = readFileSync(journal, 'utf8').slice(before);
    if (text.includes(`"type":"step-start"`) && text.includes(`"step":"${step}"`)) {
      sent = true;
      child.kill(signal);
    }
  }, 1);
  return new Promise((resolve) => {
    child.on('close', (code, sig) => {
      clearInterval(timer);
      resolve({ code, signal: sig, stdout, stderr, sent });
    });
  });
}

describe('interrupted runs resume', () => {
  let reference: Record<string, string>;

  beforeAll(async () => {
    const ref = await startBed(2);
    const r = await ref.cli(['apply', ref.inventory]);
    if (r.code !== 0) throw new Error(`reference run failed: ${r.stdout}${r.stderr}`);
    reference = ref.snapshot();
    await ref.stop();
  });

  for (const step of ['base-conf', 'hosts', 'state-file', 'counter']) {
    it(`SIGKILL when step ${step} has started, then rerun: same end state as an uninterrupted run`, async () => {
      const bed = await bedOf(2);
      const killed = await runUntil(bed, step, 'SIGKILL');
      expect(killed.sent).toBe(true);
      expect(killed.signal).toBe('SIGKILL');
      const journal = readFileSync(join(bed.stateDir, 'journal.jsonl'), 'utf8');
      expect(journal).not.toContain('"type":"run-end"');

      const rerun = await bed.cli(['apply', bed.inventory]);
      expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
      expect(rerun.stdout).toMatch(/resuming run \S+ \(started [^)]+\), killed at step \S+ on (bob|alice)/);
      expect(rerun.stdout).toContain('took over a stale lock left by pid');
      expect(bed.snapshot()).toEqual(reference);
      expect(bed.snapshot()['bob:var/lib/app/runs']).toBe('644 x\n');

      const third = await bed.cli(['apply', bed.inventory, '--detailed-exitcode']);
      expect(third.code, third.stdout).toBe(0);
      expect(third.stdout).not.toContain('resuming');
    });
  }

  it('SIGINT stops between steps with exit code 3; a rerun says where it stopped and finishes', async () => {
    const bed = await bedOf(2);
    const r = await runUntil(bed, 'hosts', 'SIGINT');
    expect(r.sent).toBe(true);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toContain('interrupted: run the same command again to resume');
    const journal = readFileSync(join(bed.stateDir, 'journal.jsonl'), 'utf8');
    expect(journal).toContain('"outcome":"interrupted"');
    expect(journal).toContain('"type":"run-end"');
    expect(existsSync(join(bed.stateDir, 'lock'))).toBe(false);

    const rerun = await bed.cli(['apply', bed.inventory]);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/resuming run \S+ .*interrupted at step/);
    expect(bed.snapshot()).toEqual(reference);
  });
});
