/**
 * Renders a BenchResult as Markdown: the main table (wall time min/median/max,
 * ratios from medians, peak memory), the targets (met / not met / not
 * measured) and the "cost as work grows" table.
 */
import type { BenchResult, Cell } from './bench.js';
import type { Phase, ToolName } from './tools/types.js';

export interface Stats {
  min: number;
  median: number;
  max: number;
  n: number;
}

export function stats(values: readonly number[]): Stats | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]!, n: s.length };
}

export function find(r: BenchResult, table: Cell['table'], tool: ToolName, hosts: number, steps: number, phase: Phase): Cell | undefined {
  return r.cells.find((c) => c.table === table && c.tool === tool && c.hosts === hosts && c.steps === steps && c.phase === phase);
}

export const wall = (c: Cell | undefined) => (c && c.error === undefined ? stats(c.samples.map((s) => s.wallMs)) : undefined);
const peak = (c: Cell | undefined, k: 'maxRssKb' | 'treeRssKb' | 'treePssKb') => (c && c.samples.length > 0 ? Math.max(...c.samples.map((s) => s[k])) : undefined);

const sec = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 3 : 1);
const mb = (kb: number | undefined) => (kb === undefined || kb === 0 ? '–' : (kb / 1024).toFixed(0));
const fmtStats = (c: Cell | undefined) => {
  if (!c) return '–';
  if (c.error !== undefined) return 'FAILED';
  const s = wall(c);
  return s ? `${sec(s.min)} / **${sec(s.median)}** / ${sec(s.max)}` : '–';
};
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
const fmtRatio = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(x < 10 ? 2 : 1)}×`);

export type TargetStatus = 'met' | 'not met' | 'not measured';
export interface Target {
  text: string;
  measured: string;
  status: TargetStatus;
}

/** The issue's targets, from the no-change runs' medians (and ha-provision's single-process peak RSS). */
export function targets(r: BenchResult): Target[] {
  const steps = r.options.steps;
  const med = (tool: ToolName, n: number) => wall(find(r, 'main', tool, n, steps, 'nochange'))?.median;
  const out: Target[] = [];
  const speedup = (n: number, want: number) => {
    const x = ratio(med('ansible', n), med('ha-provision', n));
    out.push({
      text: `no-change run, N=${n}: ha-provision ≥ ${want}× faster than Ansible`,
      measured: x === undefined ? '–' : `${x.toFixed(1)}×`,
      status: x === undefined ? 'not measured' : x >= want ? 'met' : 'not met',
    });
  };
  const floor = (n: number) => {
    const x = ratio(med('ha-provision', n), med('floor', n));
    out.push({
      text: `no-change run, N=${n}: ha-provision within 1.5× of the floor`,
      measured: x === undefined ? '–' : `${x.toFixed(2)}×`,
      status: x === undefined ? 'not measured' : x <= 1.5 ? 'met' : 'not met',
    });
  };
  speedup(1, 10);
  speedup(20, 25);
  speedup(200, 25);
  floor(1);
  floor(20);
  const convFloor = (n: number, want: number) => {
    const x = ratio(wall(find(r, 'main', 'ha-provision', n, steps, 'converge'))?.median, wall(find(r, 'main', 'floor', n, steps, 'converge'))?.median);
    out.push({
      text: `converging run, N=${n}: ha-provision within ${want}× of the floor (the floor makes the same changes and re-checks)`,
      measured: x === undefined ? '–' : `${x.toFixed(2)}×`,
      status: x === undefined ? 'not measured' : x <= want ? 'met' : 'not met',
    });
  };
  convFloor(20, 1.5);
  convFloor(200, 1.5);
  const rssTarget = (n: number, mbMax: number) => {
    const rss = [find(r, 'main', 'ha-provision', n, steps, 'nochange'), find(r, 'main', 'ha-provision', n, steps, 'converge')]
      .map((c) => (c?.error === undefined ? peak(c, 'maxRssKb') : undefined))
      .filter((x): x is number => x !== undefined);
    const rssMax = rss.length > 0 ? Math.max(...rss) : undefined;
    out.push({
      text: `N=${n}: one ha-provision process < ${mbMax} MB RSS`,
      measured: rssMax === undefined ? '–' : `${(rssMax / 1024).toFixed(0)} MB`,
      status: rssMax === undefined ? 'not measured' : rssMax < mbMax * 1024 ? 'met' : 'not met',
    });
  };
  rssTarget(200, 300);
  {
    const x = ratio(med('ha-provision', 1000), med('floor', 1000));
    out.push({
      text: 'no-change run, N=1000: ha-provision within 1.3× of the floor',
      measured: x === undefined ? '–' : `${x.toFixed(2)}×`,
      status: x === undefined ? 'not measured' : x <= 1.3 ? 'met' : 'not met',
    });
  }
  convFloor(1000, 1.3);
  rssTarget(1000, 600);
  return out;
}

export function renderMarkdown(r: BenchResult): string {
  const o = r.options;
  const tools = o.tools;
  const has = (t: ToolName) => tools.includes(t);
  const L: string[] = [];
  L.push(`# ha-provision bench: ${r.env.date.slice(0, 10)}, ${r.env.mode} mode`, '');
  L.push(`- Machine: ${r.env.cpus}; kernel ${r.env.kernel}; Node ${r.env.node}; ${r.env.openssh}`);
  for (const [t, v] of Object.entries(r.env.versions)) L.push(`- ${t}: ${v}`);
  L.push(
    `- Started ${r.env.date}; ${o.reps} repetition(s) per cell, tools interleaved; ${o.steps} steps per host; hosts: ${o.mode === 'sshd' ? 'loopback sshd daemons' : 'test-bed containers'}`,
  );
  L.push('');
  if (o.hostCounts.length > 0) {
    L.push('## Wall time (s: min / **median** / max) and peak memory', '');
    const head = ['N', 'run'];
    if (has('ha-provision')) head.push('ha-provision');
    if (has('ansible')) head.push('Ansible');
    if (has('floor')) head.push('floor');
    if (has('ha-provision') && has('ansible')) head.push('Ansible ÷ ha-provision');
    if (has('ha-provision') && has('floor')) head.push('ha-provision ÷ floor');
    if (has('ha-provision')) head.push('ha-provision RSS MB');
    if (has('ansible')) head.push('Ansible tree RSS MB (PSS)');
    if (has('floor')) head.push('floor RSS MB');
    L.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const n of o.hostCounts) {
      for (const phase of ['converge', 'nochange'] as const) {
        const c = (t: ToolName) => find(r, 'main', t, n, o.steps, phase);
        const row = [String(n), phase === 'converge' ? 'converging' : 'no-change'];
        if (has('ha-provision')) row.push(fmtStats(c('ha-provision')));
        const noAnsible = n > (o.ansibleMaxHosts ?? Number.POSITIVE_INFINITY);
        if (has('ansible')) row.push(noAnsible ? `not run (N > ${o.ansibleMaxHosts})` : fmtStats(c('ansible')));
        if (has('floor')) row.push(fmtStats(c('floor')));
        if (has('ha-provision') && has('ansible')) row.push(fmtRatio(ratio(wall(c('ansible'))?.median, wall(c('ha-provision'))?.median)));
        if (has('ha-provision') && has('floor')) row.push(fmtRatio(ratio(wall(c('ha-provision'))?.median, wall(c('floor'))?.median)));
        if (has('ha-provision')) row.push(mb(peak(c('ha-provision'), 'maxRssKb')));
        if (has('ansible')) row.push(`${mb(peak(c('ansible'), 'treeRssKb'))} (${mb(peak(c('ansible'), 'treePssKb'))})`);
        if (has('floor')) row.push(mb(peak(c('floor'), 'maxRssKb')));
        L.push(`| ${row.join(' | ')} |`);
      }
    }
    L.push('');
    const big = o.hostCounts.filter((n) => n > (o.ansibleMaxHosts ?? Number.POSITIVE_INFINITY));
    if (big.length > 0) {
      L.push(
        `Ansible is not run at N=${big.join(', ')} (above ${o.ansibleMaxHosts} hosts, \`--ansible-max\`): one of its runs takes ~11 min at 200 hosts here, about an hour at 1000.`,
        '',
      );
    }
    L.push(
      'Converging run: from empty roots, every step has one change to make on every host; ha-provision re-checks every step after its change (and before it), the floor makes the same changes and runs the same check again after each, in its one exec per host.',
      '',
    );
    L.push("## CPU time of the controller (user + system s, median; the hosts' sshd side not included)", '');
    const cpuHead = ['N', 'run', ...tools.map((t) => (t === 'ansible' ? 'Ansible' : t))];
    L.push(`| ${cpuHead.join(' | ')} |`, `|${cpuHead.map(() => '---').join('|')}|`);
    for (const n of o.hostCounts) {
      for (const phase of ['converge', 'nochange'] as const) {
        const row = [String(n), phase === 'converge' ? 'converging' : 'no-change'];
        for (const t of tools) {
          const c = find(r, 'main', t, n, o.steps, phase);
          const s = c && c.error === undefined ? stats(c.samples.map((x) => x.cpuMs)) : undefined;
          row.push(s ? sec(s.median) : '–');
        }
        L.push(`| ${row.join(' | ')} |`);
      }
    }
    L.push('');
    L.push('## Targets', '', '| target | measured | status |', '|---|---|---|');
    for (const t of targets(r)) L.push(`| ${t.text} | ${t.measured} | ${t.status === 'met' ? '✅ met' : t.status === 'not met' ? '❌ not met' : '– not measured'} |`);
    L.push('');
  }
  const scale = r.cells.filter((c) => c.table === 'scale' && c.tool === 'ha-provision');
  if (scale.length > 0) {
    L.push('## Cost as work grows (no-change run)', '');
    L.push(
      '| hosts | steps | host·steps | ha-provision s (min / **median** / max) | ms per host·step | floor median s | ha-provision ÷ floor | ha-provision RSS MB |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const c of [...scale].sort((a, b) => a.steps - b.steps || a.hosts - b.hosts)) {
      const s = wall(c);
      const f = wall(find(r, 'scale', 'floor', c.hosts, c.steps, 'nochange'));
      L.push(
        `| ${c.hosts} | ${c.steps} | ${c.hosts * c.steps} | ${fmtStats(c)} | ${s ? (s.median / (c.hosts * c.steps)).toFixed(2) : '–'} | ${f ? sec(f.median) : '–'} | ${fmtRatio(ratio(s?.median, f?.median))} | ${mb(peak(c, 'maxRssKb'))} |`,
      );
    }
    L.push('');
  }
  const problems = r.cells.flatMap((c) => {
    const p: string[] = [];
    if (c.error !== undefined) p.push(`- ${c.tool}, N=${c.hosts}, ${c.steps} steps, ${c.phase}: ${c.error.split('\n')[0]}`);
    for (const s of c.samples) {
      if (c.phase === 'nochange' && s.touched.length > 0)
        p.push(`- ${c.tool}, N=${c.hosts}, rep ${s.rep}: the no-change run touched ${s.touched.length} entries (${s.touched.slice(0, 3).join('; ')})`);
      if (c.phase === 'nochange' && s.reportedChanges !== null && s.reportedChanges > 0)
        p.push(`- ${c.tool}, N=${c.hosts}, rep ${s.rep}: the no-change run reported ${s.reportedChanges} changes`);
    }
    return p;
  });
  L.push('## Checks', '');
  if (problems.length === 0)
    L.push("Every converging run left every host as the workload wants; every no-change run changed nothing (roots' snapshots identical, no changes reported).");
  else L.push(...problems);
  L.push('');
  return `${L.join('\n')}\n`;
}
