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
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';

const run = promisify(execFile);
const selftest = fileURLToPath(new URL('../../docker/standin/selftest-fencing-peers.sh', import.meta.url));
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
    const r = await run('bash', [selftest, ...ids], { timeout: 420_000, maxBuffer: 16 << 20 }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    console.log(r.stdout);
    expect(r.stderr, r.stdout).not.toMatch(/FAIL/);
    expect('code' in r ? r.code : 0, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/PASS/);
  }, 480_000);
});
