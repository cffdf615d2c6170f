/**
 * Runs once before the suite: the Docker engine must answer and the node image
 * must exist (both are made from nothing by docker/testbed.sh, which `npm test`
 * runs first). Beds left by a killed earlier run are removed. If the bed cannot
 * start, the suite fails here, loudly: it never skips.
 */
import { execFileSync } from 'node:child_process';
import { reapOrphans } from '../../docker/bed/reaper.js';
import { bedImage } from '../../docker/bed/image.js';

export async function setup(): Promise<void> {
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
  } catch {
    throw new Error('test bed: no Docker engine answers. Run `bash docker/testbed.sh` (it installs and starts one), or `npm test`, which does.');
  }
  const reaped = await reapOrphans();
  if (reaped.length) console.log(`test bed: removed ${reaped.length} bed(s) left by killed runs: ${reaped.join(', ')}`);
  process.env.HA_BED_IMAGE = await bedImage();
}

export async function teardown(): Promise<void> {
  // Workers have exited by now: anything they left is an orphan.
  await reapOrphans();
}
