/**
 * The bench must not rot: its whole code path (CLI flags, loopback sshd hosts,
 * generated inventory/playbook, ha-provision's compiled CLI, the ssh2 floor,
 * snapshots, the Markdown table) runs here with N=2, one repetition, no
 * Ansible. Needs `npm run build` first (npm test does it).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../bench/lib/cli.js';
import { find } from '../../bench/lib/report.js';

describe('bench smoke (sshd mode, N=2, 1 repetition, no Ansible)', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs end to end and writes a table with both runs of both tools', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hapv-bench-smoke-'));
    const lines: string[] = [];
    const out = await main(['--hosts', '2', '--reps', '1', '--no-ansible', '--mode', 'sshd', '--out', join(dir, 'results'), '--work', join(dir, 'work')], (l) => lines.push(l));
    expect(out, 'main returned nothing (help?)').toBeDefined();
    const { result, markdown, markdownPath, jsonPath } = out!;

    // Every cell ran, without error, with real numbers.
    for (const tool of ['ha-provision', 'floor'] as const) {
      for (const phase of ['converge', 'nochange'] as const) {
        const cell = find(result, 'main', tool, 2, 10, phase);
        expect(cell, `${tool} ${phase}`).toBeDefined();
        expect(cell!.error, `${tool} ${phase} failed:\n${lines.join('\n')}`).toBeUndefined();
        expect(cell!.samples).toHaveLength(1);
        const s = cell!.samples[0]!;
        expect(s.wallMs).toBeGreaterThan(0);
        expect(s.maxRssKb).toBeGreaterThan(10 * 1024); // a Node process is tens of MB
      }
    }
    // ha-provision's converging run changed all 2 x 10 steps; its no-change run reported none and touched nothing.
    const conv = find(result, 'main', 'ha-provision', 2, 10, 'converge')!.samples[0]!;
    expect(conv.reportedChanges).toBe(20);
    const noop = find(result, 'main', 'ha-provision', 2, 10, 'nochange')!.samples[0]!;
    expect(noop.reportedChanges).toBe(0);
    expect(noop.touched).toEqual([]);
    expect(find(result, 'main', 'floor', 2, 10, 'nochange')!.samples[0]!.reportedChanges).toBe(0);

    // The Markdown table: one row per run kind, medians > 0, ratio present; the file is what was returned.
    expect(await readFile(markdownPath, 'utf8')).toBe(markdown);
    expect(JSON.parse(await readFile(jsonPath, 'utf8')).cells).toHaveLength(4);
    const section = (title: string) => markdown.split('\n## ').find((sec) => sec.startsWith(title)) ?? '';
    const rows = section('Wall time')
      .split('\n')
      .filter((l) => /^\| 2 \| (converging|no-change) \|/.test(l));
    expect(rows.map((r) => r.split('|')[2]!.trim())).toEqual(['converging', 'no-change']);
    for (const row of rows) {
      const medians = [...row.matchAll(/\*\*([0-9.]+)\*\*/g)].map((m) => Number(m[1]));
      expect(medians, row).toHaveLength(2); // ha-provision and floor
      for (const m of medians) expect(m, row).toBeGreaterThan(0);
      expect(row).toMatch(/\| [0-9.]+× \|/); // ha-provision ÷ floor
    }
    const cpuRows = section('CPU time')
      .split('\n')
      .filter((l) => /^\| 2 \| (converging|no-change) \|/.test(l));
    expect(cpuRows).toHaveLength(2);
    for (const row of cpuRows) for (const v of row.split('|').slice(3, 5)) expect(Number(v.trim()), row).toBeGreaterThan(0);
    expect(markdown).toContain('| no-change run, N=1: ha-provision within 1.5× of the floor | – | – not measured |');
    expect(markdown).toContain('every no-change run changed nothing');
  });
});
