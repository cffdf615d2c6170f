/**
 * The DRBD stand-in's resource-level fencing with several peers
 * (docker/standin/selftest-fencing-peers.sh on three fresh nodes): DRBD 9
 * fences per connection. One resource in a connection-mesh of three,
 * `fencing resource-and-stonith`, a test handler: one peer lost -> one
 * fence-peer for that connection (UP_TO_DATE_NODES names the peer still
 * connected), I/O frozen until it returns, the other connection untouched,
 * unfence-peer for that connection only after its resync; both peers lost
 * -> two handlers, I/O frozen until both have outdated their peer.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { expectSelftestPasses } from './selftest.js';

let bed: Bed;

describe('docker/standin fencing with several peers', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: ['ams', 'fra', 'par'], diskSize: '256M' });
  });
  afterAll(async () => {
    await bed?.stop();
  });

  it('fences per connection on three fresh bed nodes', async () => {
    const ids = ['ams', 'fra', 'par'].map((n) => bed.node(n).containerId);
    await expectSelftestPasses('selftest-fencing-peers.sh', ids, { timeoutMs: 420_000, print: true });
  }, 480_000);
});
