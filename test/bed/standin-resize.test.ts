/**
 * The DRBD stand-in's online resize (docker/standin/selftest-resize.sh on
 * two fresh nodes), as DRBD 9.2 does it: the size every node's backing
 * device allows (one node grown alone changes nothing), committed on both
 * from either node, the metadata moved to each device's new end, only the
 * new area resynced from the Primary, refused during a resync, kept across
 * down/up.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';

const run = promisify(execFile);
const selftest = fileURLToPath(new URL('../../docker/standin/selftest-resize.sh', import.meta.url));
let bed: Bed;

describe('docker/standin online resize', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: ['bob', 'alice'], diskSize: '256M' });
  });
  afterAll(async () => {
    await bed?.stop();
  });

  it('grows as DRBD 9.2 does on two fresh bed nodes', async () => {
    const ids = ['bob', 'alice'].map((n) => bed.node(n).containerId);
    const r = await run('bash', [selftest, ...ids], { timeout: 300_000, maxBuffer: 16 << 20 }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    console.log(r.stdout);
    expect(r.stderr, r.stdout).not.toMatch(/FAIL/);
    expect('code' in r ? r.code : 0, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/PASS/);
  }, 360_000);
});
