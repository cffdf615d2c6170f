/**
 * The bed's stand-ins (docker/standin: udev partition nodes, the DRBD 9 kernel
 * side under real drbd-utils) pass their own self-test on two fresh nodes:
 * partitions, create-md, up, Connected/Inconsistent, primary --force, sync
 * with the bytes compared, mkfs and mount, Secondary refusing I/O, peer
 * stop/start reconnecting, switch-over with the data present, down leaving
 * nothing behind.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { expectSelftestPasses } from './selftest.js';

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
    await expectSelftestPasses('selftest.sh', [bob, alice], { timeoutMs: 420_000, pass: /all checks passed|PASS/i });
  }, 480_000);
});
