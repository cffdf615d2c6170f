/**
 * `npx tsx bench/run.ts [--hosts 1,5,20,200] [--reps 5] [--no-ansible] [--mode sshd|bed]
 *                       [--scale] [--steps 10] [--tools a,b] [--out DIR] [--work DIR]`
 * Writes DIR/<date>-<mode>.md and .json and prints the Markdown.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runBench, type BenchOptions, type BenchResult } from './bench.js';
import type { Mode } from './hosts.js';
import { renderMarkdown } from './report.js';
import { REPO } from './tools/floor.js';
import { TOOL_NAMES, type ToolName } from './tools/types.js';

export const USAGE = `usage: npx tsx bench/run.ts [options]
  --hosts 1,5,20,200   host counts of the main table (default 1,5,20,200; bed mode: 1,2)
  --reps 5             repetitions of each run (default 5)
  --steps 10           steps per host in the main table (default 10)
  --no-ansible         leave Ansible out
  --ansible-max N      leave Ansible out above N hosts (default 200: ~11 min per run at 200, ~1 h at 1000)
  --tools LIST         tools to run (default ha-provision,ansible,floor)
  --mode sshd|bed      loopback sshd daemons (default) or test-bed containers
  --scale              also the "cost as work grows" table (no-change time against hosts and steps)
  --scale-hosts LIST   default 1,5,20,50,200      --scale-steps LIST  default 10,50,200
  --scale-steps-at N   host count for the steps series (default 20)
  --only-scale         skip the main table
  --out DIR            results directory (default bench/results)
  --work DIR           generated inventories/playbooks (default bench/work)`;

function ints(flag: string, v: string): number[] {
  const out = v.split(',').map((x) => Number(x.trim()));
  if (out.length === 0 || out.some((x) => !Number.isInteger(x) || x < 1))
    throw new Error(`${flag}: expected a comma-separated list of positive integers, got ${JSON.stringify(v)}`);
  return out;
}

export function parseCli(argv: string[], log: (s: string) => void): { opts: BenchOptions; outDir: string } | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      hosts: { type: 'string' },
      reps: { type: 'string' },
      steps: { type: 'string' },
      'no-ansible': { type: 'boolean' },
      'ansible-max': { type: 'string' },
      tools: { type: 'string' },
      mode: { type: 'string' },
      scale: { type: 'boolean' },
      'scale-hosts': { type: 'string' },
      'scale-steps': { type: 'string' },
      'scale-steps-at': { type: 'string' },
      'only-scale': { type: 'boolean' },
      out: { type: 'string' },
      work: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const mode = (values.mode ?? 'sshd') as Mode;
  if (mode !== 'sshd' && mode !== 'bed') throw new Error(`--mode: expected "sshd" or "bed", got ${JSON.stringify(values.mode)}`);
  let tools = (values.tools ?? TOOL_NAMES.join(',')).split(',').map((t) => t.trim()) as ToolName[];
  for (const t of tools) if (!TOOL_NAMES.includes(t)) throw new Error(`--tools: unknown tool ${JSON.stringify(t)} (expected ${TOOL_NAMES.join(', ')})`);
  if (values['no-ansible']) tools = tools.filter((t) => t !== 'ansible');
  const reps = ints('--reps', values.reps ?? '5')[0]!;
  const steps = ints('--steps', values.steps ?? '10')[0]!;
  const hostCounts = values['only-scale'] ? [] : ints('--hosts', values.hosts ?? (mode === 'bed' ? '1,2' : '1,5,20,200'));
  const scale =
    values.scale || values['only-scale']
      ? {
          hostCounts: ints('--scale-hosts', values['scale-hosts'] ?? '1,5,20,50,200'),
          stepCounts: ints('--scale-steps', values['scale-steps'] ?? '10,50,200'),
          stepsAtHosts: ints('--scale-steps-at', values['scale-steps-at'] ?? '20')[0]!,
        }
      : undefined;
  const opts: BenchOptions = {
    mode,
    hostCounts,
    reps,
    tools,
    steps,
    ansibleMaxHosts: ints('--ansible-max', values['ansible-max'] ?? '200')[0]!,
    workDir: values.work ?? join(REPO, 'bench', 'work'),
    log,
    ...(scale ? { scale } : {}),
  };
  return { opts, outDir: values.out ?? join(REPO, 'bench', 'results') };
}

export interface CliOutcome {
  result: BenchResult;
  markdown: string;
  markdownPath: string;
  jsonPath: string;
}

export async function main(argv: string[], log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<CliOutcome | undefined> {
  const parsed = parseCli(argv, log);
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return undefined;
  }
  const { opts, outDir } = parsed;
  await mkdir(opts.workDir, { recursive: true });
  await mkdir(outDir, { recursive: true });
  const paths = (r: BenchResult) => {
    const stamp = r.env.date.slice(0, 16).replace(':', '');
    const base = join(outDir, `${stamp}-${opts.mode}${opts.scale && opts.hostCounts.length === 0 ? '-scale' : ''}`);
    return { markdownPath: `${base}.md`, jsonPath: `${base}.json` };
  };
  const write = async (r: BenchResult) => {
    const p = paths(r);
    const markdown = renderMarkdown(r);
    await writeFile(p.markdownPath, markdown);
    await writeFile(p.jsonPath, `${JSON.stringify(r, null, 1)}\n`);
    return { markdown, ...p };
  };
  const result = await runBench({ ...opts, onProgress: async (partial) => void (await write(partial)) });
  return { result, ...(await write(result)) };
}
