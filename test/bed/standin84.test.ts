/**
 * The DRBD stand-in's 8.4 personality (docker/standin/selftest-84.sh on two
 * fresh bed nodes started with `drbd: '8.4'`): the module says 8.4.11, so
 * the REAL drbdadm runs drbd-utils' own drbdadm-84, which drives the
 * stand-in as drbdsetup-84 and writes v08 meta data with the real drbdmeta:
 * up, Connected + Inconsistent, events2 in 8.4's format, adjust a no-op,
 * initial sync from a forced primary, get-gi after the sync, the data areas
 * equal, disconnect (StandAlone, unconfigured) / connect with a resync,
 * switch-over with the data present, down leaving nothing behind.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';

const run = promisify(execFile);
const selftest = fileURLToPath(new URL('../../docker/standin/selftest-84.sh', import.meta.url));
let bed: Bed;

describe('docker/standin as DRBD 8.4', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: ['bob', 'alice'], diskSize: '256M', drbd: '8.4' });
  });
  afterAll(async () => {
    await bed?.stop();
  });

  it('passes its 8.4 self-test on two fresh bed nodes', async () => {
    const ids = ['bob', 'alice'].map((n) => bed.node(n).containerId);
    const r = await run('bash', [selftest, ...ids], { timeout: 300_000, maxBuffer: 16 << 20 }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    console.log(r.stdout);
    expect(r.stderr, r.stdout).not.toMatch(/FAIL/);
    expect('code' in r ? r.code : 0, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/PASS/);
  }, 360_000);
});
