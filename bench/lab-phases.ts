/**
 * Where an apply run spends its time (issue 17.4), from its run log (pino
 * JSON lines, <state_dir>/logs/<runId>.log): per step, from its first start
 * on any node to its last result, split into the time the nodes spent in the
 * step's change commands (package installs, create-md, mkfs...), the tool's
 * own round trips (probes before, verifications after), and the time waiting
 * for a state to arrive by itself (a sync, a cluster settling: the wait
 * polls) or for the other nodes (the barrier of the linear strategy).
 *
 *   npx tsx bench/lab-phases.ts [RUN_LOG]    (default: the newest run log of the lab, .state/lab/run/logs)
 *
 * Prints a Markdown table. Times are wall-clock seconds on the node that took
 * longest in each step; the steps of a linear run follow one another, so the
 * step column sums to the run.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface Line {
  time: number;
  msg: string;
  node?: string;
  step?: string;
  phase?: 'probe' | 'change' | 'verify';
  durationMs?: number;
}

interface NodeStep {
  start: number;
  end?: number;
  change: number;
  probe: number;
  verify: number;
  polls: number;
  outcome?: string;
}

function newestLog(dir: string): string {
  const logs = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (logs.length === 0) throw new Error(`no run log in ${dir}`);
  return logs[0]!;
}

function read(path: string): Line[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

const sec = (ms: number) => (ms / 1000).toFixed(1);

function table(lines: Line[]): string {
  const steps = new Map<string, Map<string, NodeStep>>();
  const at = (node: string, step: string) => steps.get(step)?.get(node);
  const lastTrip = new Map<string, { durationMs: number; time: number }>();
  let runStart = Infinity;
  let runEnd = 0;
  for (const l of lines) {
    runStart = Math.min(runStart, l.time);
    runEnd = Math.max(runEnd, l.time);
    if (!l.node || !l.step) continue;
    if (l.msg === 'step-start') {
      if (!steps.has(l.step)) steps.set(l.step, new Map());
      steps.get(l.step)!.set(l.node, { start: l.time, change: 0, probe: 0, verify: 0, polls: 0 });
      continue;
    }
    const s = at(l.node, l.step);
    if (!s) continue;
    if (l.msg === 'command' && l.phase) {
      // the commands of one round trip are logged one after another, each with the round
      // trip's time: count it once, in the step logged first (a verification and the next
      // step's probes can share one)
      const d = l.durationMs ?? 0;
      const last = lastTrip.get(l.node);
      const sameTrip = l.phase !== 'change' && last !== undefined && last.durationMs === d && l.time - last.time < 50;
      if (!sameTrip) s[l.phase] += d;
      lastTrip.set(l.node, { durationMs: d, time: l.time });
    } else if (l.msg === 'step-progress') s.polls++;
    else if (l.msg === 'step') {
      s.end = l.time;
      s.outcome = (l as Line & { outcome?: string }).outcome;
    }
  }
  const rows: string[] = [];
  let total = { wall: 0, change: 0, own: 0, wait: 0 };
  for (const [id, nodes] of steps) {
    const first = Math.min(...[...nodes.values()].map((s) => s.start));
    const last = Math.max(...[...nodes.values()].map((s) => s.end ?? s.start));
    // the node that took longest decides the step's time
    const [name, s] = [...nodes].sort(([, a], [, b]) => (b.end ?? b.start) - b.start - ((a.end ?? a.start) - a.start))[0]!;
    const took = (s.end ?? s.start) - s.start;
    const own = s.probe + s.verify;
    const wait = Math.max(0, took - s.change - own);
    const barrier = last - first - took;
    total = { wall: total.wall + (last - first), change: total.change + s.change, own: total.own + own, wait: total.wait + wait + Math.max(0, barrier) };
    rows.push(
      `| ${id} | ${[...nodes.values()].map((x) => x.outcome ?? '?').join('/')} | ${sec(last - first)} | ${name} | ${sec(s.change)} | ${sec(own)} | ${sec(wait)}${s.polls ? ` (${s.polls} polls)` : ''} | ${sec(Math.max(0, barrier))} |`,
    );
  }
  return [
    `Run: ${sec(runEnd - runStart)} s from the first to the last line of the run log (connecting included).`,
    '',
    '| step | outcome per node | step s (first start to last result) | slowest node | its changes s | its probes + verifications s | waiting for the state s | other nodes (barrier) s |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    `| **all steps** | | **${sec(total.wall)}** | | **${sec(total.change)}** | **${sec(total.own)}** | **${sec(total.wait)}** (with barriers) | |`,
    '',
  ].join('\n');
}

const path = process.argv[2] ?? newestLog('.state/lab/run/logs');
process.stdout.write(`Run log: ${path}\n\n${table(read(path))}`);
