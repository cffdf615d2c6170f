/**
 * The bed's stand-ins (docker/standin: udev partition nodes, the DRBD 9 kernel
 * side under real drbd-utils) pass their own self-test on two fresh nodes:
 * partitions, create-md, up, Connected/Inconsistent, primary --force, sync
 * with the bytes compared, mkfs and mount, Secondary refusing I/O, peer
 * stop/start reconnecting, switch-over with the data present, down leaving
 * nothing behind.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';

const run = promisify(execFile);
const selftest = fileURLToPath(new URL('../../docker/standin/selftest.sh', import.meta.url));
let bed: Bed;

describe('docker/standin self-test', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: ['bob', 'alice'], diskSize: '512M' });
  });
  afterAll(async () => {
    await bed?.stop();
  });

  it('passes on two fresh bed nodes', async () => {
    const [bob, alice] = [bed.node('bob').containerId, bed.node('alice').containerId];
    const r = await run('bash', [selftest, bob, alice], { timeout: 420_000, maxBuffer: 16 << 20 }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(r.stderr, r.stdout).not.toMatch(/FAIL/);
    expect('code' in r ? r.code : 0, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/all checks passed|PASS/i);
  }, 480_000);
});
