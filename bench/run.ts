/**
 * ha-provision against Ansible and a bare ssh2 floor, on the same hosts, in
 * the same invocation. See bench/README.md.
 *
 *   npm run build && npx tsx bench/run.ts [--hosts 1,5,20,200] [--reps 5] [--no-ansible] [--mode sshd|bed] [--scale]
 */
import { main, USAGE } from './lib/cli.js';

try {
  const out = await main(process.argv.slice(2));
  if (out) {
    process.stdout.write(out.markdown);
    process.stderr.write(`\nwritten: ${out.markdownPath}\n         ${out.jsonPath}\n`);
    const failed = out.result.cells.some((c) => c.error !== undefined);
    process.exitCode = failed ? 1 : 0;
  }
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
  process.exitCode = 2;
}
