/**
 * The DRBD stand-in's online resize (docker/standin/selftest-resize.sh on
 * two fresh nodes), as DRBD 9.2 does it: the size every node's backing
 * device allows (one node grown alone changes nothing), committed on both
 * from either node, the metadata moved to each device's new end, only the
 * new area resynced from the Primary, refused during a resync, kept across
 * down/up.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { expectSelftestPasses } from './selftest.js';

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
    await expectSelftestPasses('selftest-resize.sh', ids, { timeoutMs: 300_000, print: true });
  }, 360_000);
});
