/** The bench's pure parts: output parsers, statistics, targets, the workload's expected tree. */
import { describe, expect, it } from 'vitest';
import type { BenchResult, Cell } from '../../../bench/lib/bench.js';
import { checkConverged } from '../../../bench/lib/bench.js';
import type { Snapshot } from '../../../bench/lib/hosts.js';
import { stats, targets } from '../../../bench/lib/report.js';
import { parseRecap } from '../../../bench/lib/tools/ansible.js';
import { parseHaChanges } from '../../../bench/lib/tools/ha.js';
import { expectedTree, floorScript, makeWorkload, sha256 } from '../../../bench/lib/workload.js';

describe('output parsers', () => {
  it('sums Ansible PLAY RECAP lines', () => {
    const out = `PLAY [bench] ***\n\nTASK [x] ***\nok: [h000]\n\nPLAY RECAP *********\nh000                       : ok=10   changed=2    unreachable=0    failed=0    skipped=0\nh001                       : ok=9    changed=0    unreachable=0    failed=1    skipped=0\n`;
    expect(parseRecap(out)).toEqual({ hosts: 2, ok: 19, changed: 2, unreachable: 0, failed: 1 });
    expect(parseRecap('no recap')).toEqual({ hosts: 0, ok: 0, changed: 0, unreachable: 0, failed: 0 });
  });

  it("sums ha-provision's summary table, null without one", () => {
    const out =
      'h000: b0-log: changed\n    run sh\nnode  ok  changed  failed  skipped\nh000   0       10       0        0\nh001   3        7       0        0\nchanged in 0.61 s\n';
    expect(parseHaChanges(out)).toBe(17);
    expect(parseHaChanges('run x: 10 step(s)\nok in 0.2 s\n')).toBeNull();
  });
});

describe('statistics and targets', () => {
  it('min / median / max', () => {
    expect(stats([3, 1, 2])).toEqual({ min: 1, median: 2, max: 3, n: 3 });
    expect(stats([4, 1, 2, 3])?.median).toBe(2.5);
    expect(stats([])).toBeUndefined();
  });

  it('marks targets met, not met or not measured from the medians', () => {
    const cell = (tool: Cell['tool'], hosts: number, ms: number, rssKb = 50_000, phase: Cell['phase'] = 'nochange'): Cell => ({
      table: 'main',
      tool,
      hosts,
      steps: 10,
      phase,
      samples: [{ rep: 1, wallMs: ms, maxRssKb: rssKb, cpuMs: 1, treeRssKb: 0, treePssKb: 0, reportedChanges: 0, touched: [] }],
    });
    const r = {
      options: { mode: 'sshd', hostCounts: [1, 20], reps: 1, tools: ['ha-provision', 'ansible', 'floor'], steps: 10, workDir: '' },
      env: { date: '', mode: 'sshd', cpus: '', node: '', openssh: '', kernel: '', versions: {} },
      cells: [
        cell('ha-provision', 1, 200),
        cell('ansible', 1, 2500),
        cell('floor', 1, 100),
        cell('ha-provision', 20, 1000),
        cell('ansible', 20, 20_000),
        cell('floor', 20, 800),
        cell('ha-provision', 20, 2900, 50_000, 'converge'),
        cell('floor', 20, 2000, 50_000, 'converge'),
        cell('ha-provision', 1000, 13_000, 500 * 1024),
        cell('floor', 1000, 10_000),
        cell('ha-provision', 1000, 40_000, 700 * 1024, 'converge'),
        cell('floor', 1000, 20_000, 50_000, 'converge'),
      ],
    } as BenchResult;
    const t = targets(r).map((x) => [x.measured, x.status]);
    expect(t).toEqual([
      ['12.5×', 'met'],
      ['20.0×', 'not met'],
      ['–', 'not measured'],
      ['2.00×', 'not met'],
      ['1.25×', 'met'],
      ['1.45×', 'met'], // converging, N=20
      ['–', 'not measured'], // converging, N=200
      ['–', 'not measured'], // RSS, N=200
      ['1.30×', 'met'], // no-change, N=1000
      ['2.00×', 'not met'], // converging, N=1000
      ['700 MB', 'not met'], // RSS, N=1000 (either run)
    ]);
  });
});

describe('workload', () => {
  it('repeats the 10-step block and knows the converged tree', () => {
    const w = makeWorkload(20, 'root', 'root');
    expect(w.steps).toHaveLength(20);
    expect(new Set(w.steps.map((s) => s.id)).size).toBe(20);
    const tree = expectedTree(w);
    expect(tree.get('b1/etc/hosts')).toEqual({ type: 'file', content: '127.0.1.1 node-1.bench.local node-1\n10.0.0.25 bob\n10.0.0.26 alice\n' });
    expect(tree.get('b0/var')).toEqual({ type: 'dir' });
    expect(
      floorScript(w, '/r')
        .split('\n')
        .filter((l) => l.startsWith('if ')).length,
    ).toBe(20);
  });

  it('checkConverged reports missing, wrong and unexpected entries', () => {
    const w = makeWorkload(10, 'root', 'root');
    const snap: Snapshot = new Map();
    for (const [p, e] of expectedTree(w)) snap.set(p, { type: e.type, mode: 0o644, sha256: e.type === 'file' ? sha256(e.content) : '', identity: '' });
    expect(checkConverged(w, snap)).toEqual([]);
    snap.set('b0/etc/motd', { type: 'file', mode: 0o644, sha256: sha256('other'), identity: '' });
    snap.delete('b0/var/lib/app/initialized');
    snap.set('b0/etc/.tmp', { type: 'file', mode: 0o600, sha256: '', identity: '' });
    expect(checkConverged(w, snap)).toEqual(['b0/etc/motd has the wrong content', 'missing b0/var/lib/app/initialized', 'unexpected b0/etc/.tmp']);
  });
});
