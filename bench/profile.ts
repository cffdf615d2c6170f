/**
 * Where ha-provision's no-change (or converging) run spends its time:
 *
 *   npm run build && npx tsx bench/profile.ts [--hosts 20] [--steps 10] [--reps 3] [--run nochange|converge] [--top 10]
 *
 * Starts N loopback sshd daemons, converges once, then runs the no-change run
 * `reps` times under `node --cpu-prof` (--run converge: empties the roots and
 * the state directory before each, and profiles the converging run). Prints, per run, the wall time split
 * at the events of ha-provision's own run log (process start -> run-start ->
 * last node-connected -> run-end -> exit) and the CPU profile's self time
 * by package (node_modules/<pkg>, src/<dir>, node internals, GC, idle); frames
 * of the bundle (dist/cli.cjs) are placed through its source map.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSshdHosts } from './lib/hosts.js';
import { HA_BIN, HA_MAIN, haTool } from './lib/tools/ha.js';
import { makeWorkload } from './lib/workload.js';

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export function bucket(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native/builtin)';
  if (url.startsWith('node:')) return 'node: internals';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /(?:^|\/)(src|dist)\/([^/]+)/.exec(url);
  if (src) return `ha-provision ${src[1]}/${src[2]}`;
  return url;
}

/** The original file of a frame in the bundle (its source map), else the frame's own url. */
function sourceOf(frame: ProfileNode['callFrame']): string {
  if (!frame.url.endsWith('/dist/cli.cjs')) return frame.url;
  try {
    bundleMap ??= new SourceMap(JSON.parse(readFileSync(`${HA_MAIN}.map`, 'utf8')) as never);
    const e = bundleMap.findEntry(frame.lineNumber, frame.columnNumber);
    return 'originalSource' in e ? e.originalSource : frame.url;
  } catch {
    return frame.url;
  }
}
let bundleMap: SourceMap | undefined;

/** Self time (ms) per function (name and package), biggest first. */
export function selfTimeByFunction(p: CpuProfile): [string, number][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const n = byId.get(id);
    const b = n ? `${n.callFrame.functionName || '(anonymous)'} [${bucket(sourceOf(n.callFrame), n.callFrame.functionName)}]` : '?';
    totals.set(b, (totals.get(b) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/**
 * Where the self time of native frames (writeBuffer, ...) is spent from: each
 * sample of a frame without a script is given to its nearest caller that has
 * one (name and package), biggest first.
 */
export function nativeTimeByCaller(p: CpuProfile): [string, number][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const totals = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const n = byId.get(id);
    if (!n || n.callFrame.url !== '' || n.callFrame.functionName.startsWith('(')) return;
    let up = parent.get(id);
    while (up !== undefined && byId.get(up)!.callFrame.url === '') up = parent.get(up);
    const c = up === undefined ? undefined : byId.get(up)!;
    const where = c ? `${c.callFrame.functionName || '(anonymous)'} [${bucket(sourceOf(c.callFrame), c.callFrame.functionName)}]` : '?';
    const b = `${n.callFrame.functionName} <- ${where}`;
    totals.set(b, (totals.get(b) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** Self time (ms) per bucket, biggest first. */
export function selfTimeByBucket(p: CpuProfile): [string, number][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const n = byId.get(id);
    const b = n ? bucket(sourceOf(n.callFrame), n.callFrame.functionName) : '?';
    totals.set(b, (totals.get(b) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals].sort((a, b) => b[1] - a[1]);
}

const { values } = parseArgs({ options: { hosts: { type: 'string' }, steps: { type: 'string' }, reps: { type: 'string' }, run: { type: 'string' }, top: { type: 'string' } } });
const topN = Number(values.top ?? 10);
const converge = values.run === 'converge';
if (values.run !== undefined && values.run !== 'converge' && values.run !== 'nochange') throw new Error('--run: nochange or converge');
const hosts = Number(values.hosts ?? 20);
const steps = Number(values.steps ?? 10);
const reps = Number(values.reps ?? 3);

const work = await mkdtemp(join(tmpdir(), 'hapv-profile-'));
const set = await startSshdHosts(hosts);
try {
  const tool = haTool();
  await tool.prepare({ workDir: work, knownHostsPath: set.knownHostsPath, hosts: set.hosts, workload: makeWorkload(steps, set.hosts[0]!.user, set.group) });
  await tool.run('converge');
  for (let rep = 1; rep <= reps; rep++) {
    if (converge) {
      await set.reset(set.hosts);
      await rm(join(work, 'ha', 'state'), { recursive: true, force: true });
    }
    const profDir = join(work, `prof-${rep}`);
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, HA_BIN, 'apply', join(work, 'ha', 'inventory.yaml'), join(work, 'ha', 'playbook.yaml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    const t1 = Date.now();
    if (code !== 0) throw new Error(`ha-provision exited ${code}: ${out}`);
    const logDir = join(work, 'ha', 'state', 'logs');
    const newest = (await readdir(logDir)).sort().pop()!;
    const events = (await readFile(join(logDir, newest), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { time: number; type?: string; msg?: string });
    const at = (type: string) => events.filter((e) => e.type === type || e.msg === type).map((e) => e.time);
    const runStart = at('run-start')[0] ?? NaN;
    const connected = Math.max(...at('node-connected'));
    const runEnd = at('run-end')[0] ?? NaN;
    const probes = events.filter((e) => e.msg === 'command').length;
    // per phase of the remote commands: how many, and the sum of their durations
    const phases = new Map<string, { n: number; ms: number }>();
    for (const e of events as { msg?: string; phase?: string; durationMs?: number }[]) {
      if (e.msg !== 'command') continue;
      const p = phases.get(e.phase ?? '?') ?? { n: 0, ms: 0 };
      p.n++;
      p.ms += e.durationMs ?? 0;
      phases.set(e.phase ?? '?', p);
    }
    console.log(
      `rep ${rep}: wall ${t1 - t0} ms = start-up/load/validate ${runStart - t0} | connect ${connected - runStart} | steps ${runEnd - connected} | exit ${t1 - runEnd} ms; ${probes} commands logged (${[...phases].map(([k, v]) => `${k} ${v.n}, ${(v.ms / v.n).toFixed(1)} ms each`).join('; ')})`,
    );
    const prof = JSON.parse(await readFile(join(profDir, (await readdir(profDir))[0]!), 'utf8')) as CpuProfile;
    const top = selfTimeByBucket(prof).slice(0, 12);
    console.log(`  CPU profile (${((prof.endTime - prof.startTime) / 1000).toFixed(0)} ms), self time by package:`);
    for (const [b, ms] of top) console.log(`    ${ms.toFixed(0).padStart(6)} ms  ${b}`);
    console.log('  self time by function:');
    for (const [f, ms] of selfTimeByFunction(prof).slice(0, topN)) console.log(`    ${ms.toFixed(0).padStart(6)} ms  ${f}`);
    console.log('  native frames by their nearest caller with a script:');
    for (const [f, ms] of nativeTimeByCaller(prof).slice(0, topN)) console.log(`    ${ms.toFixed(0).padStart(6)} ms  ${f}`);
  }
} finally {
  await set.stop();
  await rm(work, { recursive: true, force: true });
}
