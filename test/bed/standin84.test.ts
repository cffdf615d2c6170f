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
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { expectSelftestPasses } from './selftest.js';

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
    await expectSelftestPasses('selftest-84.sh', ids, { timeoutMs: 300_000, print: true });
  }, 360_000);
});
