/**
 * Runs one measured command: wall time from spawn to exit (monotonic clock),
 * the peak RSS of the largest single process (`/usr/bin/time -v`, "Maximum
 * resident set size", from the kernel's rusage), and the peak of the sum of
 * RSS (and PSS, every 20th sample: reading smaps_rollup costs more) over the whole process tree, sampled from /proc every ~50 ms.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export const TIME = '/usr/bin/time';

export interface Measured {
  exitCode: number;
  wallMs: number;
  /** Largest single process's max RSS (KiB), from /usr/bin/time -v. */
  maxRssKb: number;
  /** User + system CPU time (ms) of the command and every child it waited for, from /usr/bin/time -v. */
  cpuMs: number;
  /** Peak of the sum of RSS over the process tree (KiB), sampled. 0 if never sampled. */
  treeRssKb: number;
  /** Peak of the sum of PSS over the process tree (KiB), sampled every 20th tick (~1 s). */
  treePssKb: number;
  samples: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Sampling period for the tree's RSS; default 50 ms. */
  sampleMs?: number;
  timeoutMs?: number;
}

async function children(pid: number): Promise<number[]> {
  const tasks = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  // children of the main thread only; Node/Python spawn from the main thread
  return tasks.split(/\s+/).filter(Boolean).map(Number);
}

async function tree(root: number): Promise<number[]> {
  const out: number[] = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const kids of await Promise.all(frontier.map(children))) next.push(...kids);
    out.push(...next);
    frontier = next;
  }
  return out; // descendants, not the root (the root is /usr/bin/time)
}

async function rssKb(pid: number): Promise<number> {
  const statm = await readFile(`/proc/${pid}/statm`, 'utf8').catch(() => '');
  const pages = Number(statm.split(' ')[1] ?? 0);
  return Number.isFinite(pages) ? pages * 4 : 0;
}

async function pssKb(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const m = /^Pss:\s+(\d+) kB/m.exec(s);
  return m ? Number(m[1]) : 0;
}

export function parseTimeV(stderr: string): { maxRssKb: number; cpuMs: number } {
  const num = (re: RegExp) => Number(re.exec(stderr)?.[1] ?? 0);
  return {
    maxRssKb: num(/Maximum resident set size \(kbytes\): (\d+)/),
    cpuMs: Math.round((num(/User time \(seconds\): ([0-9.]+)/) + num(/System time \(seconds\): ([0-9.]+)/)) * 1000),
  };
}

/** Removes /usr/bin/time's report from the command's own stderr. */
function stripTimeReport(stderr: string): string {
  const at = stderr.lastIndexOf('\tCommand being timed:');
  return at < 0 ? stderr : stderr.slice(0, at);
}

export function assertTimeAvailable(): void {
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing (it measures peak RSS): apt-get install -y time`);
}

export async function measure(argv: readonly string[], opts: RunOptions = {}): Promise<Measured> {
  assertTimeAvailable();
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('measure: empty argv');
  const period = opts.sampleMs ?? 50;
  const started = performance.now();
  const child = spawn(TIME, ['-v', cmd, ...args], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let treeRss = 0;
  let treePss = 0;
  let samples = 0;
  let done = false;
  const sampler = (async () => {
    const pid = child.pid;
    if (pid === undefined) return;
    for (let tick = 0; !done; tick++) {
      const pids = await tree(pid);
      if (pids.length > 0) {
        const rss = (await Promise.all(pids.map(rssKb))).reduce((a, b) => a + b, 0);
        treeRss = Math.max(treeRss, rss);
        if (tick % 20 === 0)
          treePss = Math.max(
            treePss,
            (await Promise.all(pids.map(pssKb))).reduce((a, b) => a + b, 0),
          );
        samples++;
      }
      await new Promise((r) => setTimeout(r, period));
    }
  })();
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  // Wall time ends at exit; output is then drained (a daemonised child such as
  // an ssh ControlPersist master must not hold the measurement open).
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
  });
  const wallMs = performance.now() - started;
  await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
  done = true;
  if (timer) clearTimeout(timer);
  await sampler;
  return { exitCode, wallMs, ...parseTimeV(stderr), treeRssKb: treeRss, treePssKb: treePss, samples, stdout, stderr: stripTimeReport(stderr) };
}
