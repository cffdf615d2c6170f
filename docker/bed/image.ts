/** The bed's node image: built from nothing by docker/image/build.sh, cached by the digest of its inputs. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const buildScript = fileURLToPath(new URL('../image/build.sh', import.meta.url));

/** Returns the image name, building it first when its inputs changed. Throws loudly when it cannot. */
export async function bedImage(): Promise<string> {
  if (process.env.HA_BED_IMAGE) return process.env.HA_BED_IMAGE;
  try {
    const { stdout } = await run('bash', [buildScript], { maxBuffer: 16 << 20, timeout: 15 * 60_000 });
    const image = stdout.trim().split('\n').pop();
    if (!image) throw new Error('build.sh printed no image name');
    return image;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`test bed: cannot build the node image (${buildScript}): ${e.stderr || e.message}`);
  }
}
