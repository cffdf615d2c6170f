/**
 * The bench itself: start the hosts once, then for each host count run every
 * tool's converging and no-change runs, repetitions interleaved (rep 1 of each
 * tool, then rep 2, ...) so drift on the machine hits all tools alike.
 * Returns plain data; report.ts renders it.
 */
import { cpus } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { diffSnapshots, startHosts, type HostSet, type Mode, type Snapshot } from './hosts.js';
import { ansibleTool } from './tools/ansible.js';
import { floorTool } from './tools/floor.js';
import { haTool } from './tools/ha.js';
import { ToolFailure, type Phase, type Tool, type ToolName } from './tools/types.js';
import { expectedTree, makeWorkload, sha256, type BenchHost, type Workload } from './workload.js';

const run = promisify(execFile);

export interface BenchOptions {
  mode: Mode;
  hostCounts: number[];
  reps: number;
  tools: ToolName[];
  /** Steps per host in the main table. */
  steps: number;
  /** Host counts above this run without Ansible (about an hour per run at 1000 hosts here). */
  ansibleMaxHosts?: number;
  /** The "cost as work grows" table (ha-provision and floor, no-change runs). */
  scale?: { hostCounts: number[]; stepCounts: number[]; stepsAtHosts: number };
  workDir: string;
  log: (line: string) => void;
  /** Called with the results so far after each host count (the CLI writes them: a killed run keeps what it measured). */
  onProgress?: (partial: BenchResult) => Promise<void>;
}

export interface Sample {
  rep: number;
  wallMs: number;
  maxRssKb: number;
  /** User + system CPU of the tool and the children it waited for (not the sshd side). */
  cpuMs: number;
  treeRssKb: number;
  treePssKb: number;
  reportedChanges: number | null;
  /** Entries of the hosts' roots that the run created, removed or touched (no-change runs: must be empty). */
  touched: string[];
}

export interface Cell {
  table: 'main' | 'scale';
  tool: ToolName;
  hosts: number;
  steps: number;
  phase: Phase;
  samples: Sample[];
  error?: string;
}

export interface Environment {
  date: string;
  mode: Mode;
  cpus: string;
  node: string;
  openssh: string;
  kernel: string;
  versions: Partial<Record<ToolName, string>>;
}

export interface BenchResult {
  options: Omit<BenchOptions, 'log' | 'onProgress'>;
  env: Environment;
  cells: Cell[];
}

export function makeTool(name: ToolName, log: (s: string) => void): Tool {
  switch (name) {
    case 'ha-provision':
      return haTool();
    case 'ansible':
      return ansibleTool(log);
    case 'floor':
      return floorTool();
    default: {
      const never: never = name;
      throw new Error(`unknown tool ${JSON.stringify(never)}`);
    }
  }
}

async function environment(mode: Mode, tools: Tool[]): Promise<Environment> {
  const ssh = await run('ssh', ['-V'])
    .then((r) => (r.stderr || r.stdout).trim())
    .catch(() => 'unknown');
  const kernel = await run('uname', ['-r'])
    .then((r) => r.stdout.trim())
    .catch(() => 'unknown');
  const versions: Partial<Record<ToolName, string>> = {};
  for (const t of tools) versions[t.name] = await t.version();
  const c = cpus();
  return {
    date: new Date().toISOString(),
    mode,
    cpus: `${c.length} x ${c[0]?.model ?? 'unknown'}`,
    node: process.version,
    openssh: ssh,
    kernel,
    versions,
  };
}

/** Problems of one host's root after a converging run (empty: as the workload wants). */
export function checkConverged(w: Workload, snap: Snapshot): string[] {
  const want = expectedTree(w);
  const out: string[] = [];
  for (const [p, e] of want) {
    const got = snap.get(p);
    if (!got) out.push(`missing ${p}`);
    else if (got.type !== e.type) out.push(`${p} is a ${got.type}, expected a ${e.type}`);
    else if (e.type === 'file' && got.sha256 !== sha256(e.content)) out.push(`${p} has the wrong content`);
  }
  for (const p of snap.keys()) if (!want.has(p)) out.push(`unexpected ${p}`);
  return out;
}

interface Job {
  table: 'main' | 'scale';
  hosts: number;
  steps: number;
  tools: Tool[];
  phases: Phase[];
}

async function runJob(job: Job, set: HostSet, o: BenchOptions, cells: Cell[]): Promise<void> {
  const hosts: BenchHost[] = set.hosts.slice(0, job.hosts);
  const workload = makeWorkload(job.steps, hosts[0]?.user ?? 'root', set.group);
  const cellOf = new Map<string, Cell>();
  for (const t of job.tools) {
    await t.prepare({ workDir: o.workDir, knownHostsPath: set.knownHostsPath, hosts, workload });
    for (const phase of job.phases) {
      const c: Cell = { table: job.table, tool: t.name, hosts: job.hosts, steps: job.steps, phase, samples: [] };
      cells.push(c);
      cellOf.set(`${t.name}/${phase}`, c);
    }
  }
  const failed = new Set<ToolName>();
  const fail = (t: Tool, err: unknown) => {
    const msg = err instanceof ToolFailure ? `${err.message}\n${err.output}` : err instanceof Error ? err.message : String(err);
    for (const phase of job.phases) {
      const c = cellOf.get(`${t.name}/${phase}`);
      if (c && c.error === undefined) c.error = msg;
    }
    failed.add(t.name);
    o.log(`  ${t.name}: FAILED: ${msg.split('\n')[0]}`);
  };
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const t of job.tools) {
      if (failed.has(t.name)) continue;
      // Each tool's turn starts from bare roots and converges them itself.
      await set.reset(hosts);
      try {
        const conv = await t.run('converge');
        const after = await set.snapshot(hosts);
        const wrong = after.flatMap((s, i) => checkConverged(workload, s).map((p) => `${hosts[i]!.name}: ${p}`));
        if (wrong.length > 0) throw new Error(`${t.name} converging run left the hosts wrong: ${wrong.slice(0, 5).join('; ')}${wrong.length > 5 ? ` (+${wrong.length - 5})` : ''}`);
        if (job.phases.includes('converge')) cellOf.get(`${t.name}/converge`)!.samples.push(sample(rep, conv, []));
        const nochange = await t.run('nochange');
        const again = await set.snapshot(hosts);
        const touched = again.flatMap((s, i) => diffSnapshots(after[i]!, s).map((d) => `${hosts[i]!.name}: ${d}`));
        cellOf.get(`${t.name}/nochange`)!.samples.push(sample(rep, nochange, touched));
        o.log(
          `  N=${job.hosts} steps=${job.steps} rep ${rep} ${t.name}: converge ${(conv.measured.wallMs / 1000).toFixed(3)} s, ` +
            `no-change ${(nochange.measured.wallMs / 1000).toFixed(3)} s (changes reported ${nochange.reportedChanges ?? '?'}, touched ${touched.length})`,
        );
      } catch (err) {
        fail(t, err);
      }
    }
  }
}

function sample(
  rep: number,
  r: { measured: { wallMs: number; maxRssKb: number; cpuMs: number; treeRssKb: number; treePssKb: number }; reportedChanges: number | null },
  touched: string[],
): Sample {
  const m = r.measured;
  return { rep, wallMs: m.wallMs, maxRssKb: m.maxRssKb, cpuMs: m.cpuMs, treeRssKb: m.treeRssKb, treePssKb: m.treePssKb, reportedChanges: r.reportedChanges, touched };
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  if (o.hostCounts.length === 0 && !o.scale) throw new Error('nothing to run: no host counts');
  const tools = o.tools.map((n) => makeTool(n, o.log));
  const env = await environment(o.mode, tools);
  const maxHosts = Math.max(...o.hostCounts, ...(o.scale ? [...o.scale.hostCounts, o.scale.stepsAtHosts] : []));
  o.log(`starting ${maxHosts} ${o.mode === 'sshd' ? 'loopback sshd daemons' : 'test-bed containers'}`);
  const set = await startHosts(o.mode, maxHosts);
  const cells: Cell[] = [];
  const { log: _log, onProgress, ...options } = o;
  const progress = async () => {
    if (onProgress) await onProgress({ options, env, cells });
  };
  try {
    for (const n of o.hostCounts) {
      o.log(`N=${n}, ${o.steps} steps, ${o.reps} repetitions`);
      const jobTools = n > (o.ansibleMaxHosts ?? Number.POSITIVE_INFINITY) ? tools.filter((t) => t.name !== 'ansible') : tools;
      if (jobTools.length < tools.length) o.log(`  Ansible left out at N=${n} (> ${o.ansibleMaxHosts} hosts)`);
      await runJob({ table: 'main', hosts: n, steps: o.steps, tools: jobTools, phases: ['converge', 'nochange'] }, set, o, cells);
      await progress();
    }
    if (o.scale) {
      const scaleTools = tools.filter((t) => t.name !== 'ansible');
      const jobs = [
        ...o.scale.hostCounts.map((h) => ({ hosts: h, steps: 10 })),
        ...o.scale.stepCounts.filter((s) => s !== 10 || !o.scale!.hostCounts.includes(o.scale!.stepsAtHosts)).map((s) => ({ hosts: o.scale!.stepsAtHosts, steps: s })),
      ];
      for (const j of jobs) {
        o.log(`scale: N=${j.hosts}, ${j.steps} steps`);
        await runJob({ table: 'scale', ...j, tools: scaleTools, phases: ['nochange'] }, set, o, cells);
        await progress();
      }
    }
  } finally {
    await set.stop();
  }
  return { options, env, cells };
}
