/**
 * Processes started on the hosts' side per host in one run of each tool:
 * the kernel's fork counter (/proc/stat `processes`) read around each run,
 * minus the same counter over an idle moment as long as the run (other work
 * on the machine), divided by the hosts. Loopback sshd hosts only.
 *
 *   npm run build && npx tsx bench/forks.ts [--hosts 20] [--reps 3] [--run converge|nochange]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startSshdHosts } from './lib/hosts.js';
import { floorTool } from './lib/tools/floor.js';
import { haTool } from './lib/tools/ha.js';
import { makeWorkload } from './lib/workload.js';

const forks = () => Number(/^processes (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
const { values } = parseArgs({ options: { hosts: { type: 'string' }, reps: { type: 'string' }, run: { type: 'string' } } });
const hosts = Number(values.hosts ?? 20);
const reps = Number(values.reps ?? 3);
const phase = values.run === 'nochange' ? 'nochange' : 'converge';
const work = await mkdtemp(join(tmpdir(), 'hapv-forks-'));
const set = await startSshdHosts(hosts);
try {
  const tools = [haTool(), floorTool()];
  for (const t of tools) {
    await t.prepare({ workDir: join(work, t.name), knownHostsPath: set.knownHostsPath, hosts: set.hosts, workload: makeWorkload(10, set.hosts[0]!.user, set.group) });
  }
  for (let rep = 1; rep <= reps; rep++) {
    for (const t of tools) {
      if (phase === 'converge') await set.reset(set.hosts);
      else await t.run('converge');
      const t0 = performance.now();
      const a = forks();
      await t.run(phase);
      const b = forks();
      const ms = performance.now() - t0;
      const i0 = forks();
      await sleep(ms);
      const idle = forks() - i0;
      console.log(
        `rep ${rep} ${t.name}: ${b - a} processes in ${(ms / 1000).toFixed(2)} s, ${idle} in as long idle: ${((b - a - idle) / hosts).toFixed(1)} per host (the tool's own process and its children included)`,
      );
    }
  }
} finally {
  await set.stop();
  await rm(work, { recursive: true, force: true });
}
