/**
 * A/B of two builds of the CLI on the same loopback sshd hosts, runs
 * interleaved (A then B, each: empty roots and state, converging run, then
 * no-change run), medians printed. For an engine change: build the old commit
 * in a git worktree (npm run build there) and pass both bin/ha-provision.js.
 *
 *   npx tsx bench/ab.ts N REPS OLD/bin/ha-provision.js NEW/bin/ha-provision.js
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshdHosts } from './lib/hosts.js';
import { measure } from './lib/proc.js';
import { haInventory, haPlaybook, makeWorkload } from './lib/workload.js';

const [n = '20', reps = '3', binA = '', binB = ''] = process.argv.slice(2);
if (!binA || !binB) throw new Error('usage: npx tsx bench/ab.ts N REPS A/bin/ha-provision.js B/bin/ha-provision.js');
const set = await startSshdHosts(Number(n));
const work = await mkdtemp(join(tmpdir(), 'hapv-ab-'));
const res: Record<string, { conv: number[]; noch: number[] }> = { A: { conv: [], noch: [] }, B: { conv: [], noch: [] } };
try {
  const w = makeWorkload(10, set.hosts[0]!.user, set.group);
  for (const t of ['A', 'B']) {
    await mkdir(join(work, t), { recursive: true });
    await writeFile(join(work, t, 'pb.yaml'), haPlaybook(w));
    await writeFile(join(work, t, 'inv.yaml'), haInventory(set.hosts, { knownHostsPath: set.knownHostsPath, playbook: 'pb.yaml', stateDir: join(work, t, 'state') }));
  }
  for (let r = 0; r < Number(reps); r++) {
    for (const [t, bin] of [
      ['A', binA],
      ['B', binB],
    ] as const) {
      await set.reset(set.hosts);
      await rm(join(work, t, 'state'), { recursive: true, force: true });
      const c = await measure([process.execPath, bin, 'apply', join(work, t, 'inv.yaml'), join(work, t, 'pb.yaml')]);
      const m = await measure([process.execPath, bin, 'apply', join(work, t, 'inv.yaml'), join(work, t, 'pb.yaml')]);
      if (c.exitCode !== 0 || m.exitCode !== 0) throw new Error(`${t} failed: ${c.stdout.slice(-500)} ${m.stdout.slice(-500)}`);
      res[t]!.conv.push(c.wallMs);
      res[t]!.noch.push(m.wallMs);
      console.log(`rep ${r + 1} ${t}: converge ${(c.wallMs / 1000).toFixed(3)} s (cpu ${c.cpuMs} ms), no-change ${(m.wallMs / 1000).toFixed(3)} s (cpu ${m.cpuMs} ms)`);
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]! / 1000;
  for (const t of ['A', 'B']) console.log(`${t}: converge median ${med(res[t]!.conv).toFixed(3)} s, no-change median ${med(res[t]!.noch).toFixed(3)} s`);
} finally {
  await set.stop();
  await rm(work, { recursive: true, force: true });
}
