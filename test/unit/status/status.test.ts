/** `status`, the pure part: real probe outputs from the lab (test/fixtures/status/README.md) -> Status -> verdict, view, JSON. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCrmMonDetails } from '../../../src/facts/crm-mon.js';
import { parseEvents } from '../../../src/facts/drbd.js';
import { parseQuorum } from '../../../src/facts/quorum.js';
import { parseCli } from '../../../src/cli/args.js';
import { countDrift } from '../../../src/cli/status.js';
import { buildStatus, STATUS_EXIT, type Drift, type NodeAnswer, type StatusInput } from '../../../src/status/model.js';
import { renderStatus } from '../../../src/status/render.js';

const DIR = join(import.meta.dirname, '../../fixtures/status');
const read = (set: string, file: string) => readFileSync(join(DIR, set, file), 'utf8');
const maybe = (set: string, file: string) => (existsSync(join(DIR, set, file)) ? read(set, file) : '');

/** A node's answer from a fixture set; exit codes as captured (README there). */
function answer(set: string, node: string, codes: { quorum?: number; crmMon?: number; drbd?: number } = {}): NodeAnswer {
  return {
    name: node,
    quorum: { exitCode: codes.quorum ?? 0, stdout: maybe(set, `${node}.quorum.txt`), stderr: maybe(set, `${node}.quorum.stderr`) },
    crmMon: { exitCode: codes.crmMon ?? 0, stdout: maybe(set, `${node}.crm_mon.xml`), stderr: maybe(set, `${node}.crm_mon.stderr`) },
    drbd: { exitCode: codes.drbd ?? 0, stdout: maybe(set, `${node}.events2.txt`), stderr: '' },
  };
}

const NO_DRIFT: Drift = { state: 'planned', changes: 0, pending: 0, refused: 0, errors: 0, pairs: 40 };

function input(answers: NodeAnswer[], drift: Drift = NO_DRIFT): StatusInput {
  return {
    cluster: 'lab',
    inventory: '/x/inventory/lab.yaml',
    nodes: ['bob', 'alice'],
    drbd: [
      { name: 'mysql', nodes: ['bob', 'alice'] },
      { name: 'kopano', nodes: ['bob', 'alice'] },
    ],
    answers,
    drift,
    at: new Date('2026-12-02T05:16:30Z'),
  };
}

describe('corosync-quorumtool -s', () => {
  it('a quorate two-node cluster: votes, flags, members, no qdevice', () => {
    const q = parseQuorum({ exitCode: 0, stdout: read('healthy', 'bob.quorum.txt'), stderr: '' });
    expect(q).toEqual({
      state: 'up',
      quorate: true,
      nodeId: 1,
      expectedVotes: 2,
      totalVotes: 2,
      quorum: 1,
      flags: ['2Node', 'Quorate', 'WaitForAll'],
      members: [
        { nodeid: 1, votes: 1, name: 'bob', local: true },
        { nodeid: 2, votes: 1, name: 'alice', local: false },
      ],
      qdevice: undefined,
    });
  });

  it('corosync stopped: down, with its message', () => {
    const q = parseQuorum({ exitCode: 1, stdout: '', stderr: read('alice-stopped', 'alice.quorum.stderr') });
    expect(q).toEqual({ state: 'down', message: 'Cannot initialize CMAP service' });
  });

  it('a quorum device row and the Qdevice column (corosync 3 with a qdevice; written from the documented layout)', () => {
    const text = read('healthy', 'bob.quorum.txt')
      .replace('Flags:            2Node Quorate WaitForAll', 'Flags:            Quorate Qdevice')
      .replace(
        '    Nodeid      Votes Name\n         1          1 bob (local)\n         2          1 alice',
        '    Nodeid      Votes    Qdevice Name\n         1          1    A,V,NMW bob (local)\n         2          1    A,V,NMW alice\n         0          1            Qdevice',
      );
    const q = parseQuorum({ exitCode: 0, stdout: text, stderr: '' });
    expect(q.state === 'up' && q.qdevice).toEqual({ votes: 1, flags: [] });
    expect(q.state === 'up' && q.members.map((m) => m.name)).toEqual(['bob', 'alice']);
  });
});

describe('crm_mon details and events2 --statistics', () => {
  it('groups, promotable clones and their placement', () => {
    const d = parseCrmMonDetails({ exitCode: 0, stdout: read('healthy', 'bob.crm_mon.xml'), stderr: '' });
    expect(d.resources.map((r) => [r.id, r.kind])).toEqual([
      ['mysql', 'group'],
      ['kopano', 'group'],
      ['ms_drbd_mysql', 'clone'],
      ['ms_drbd_kopano', 'clone'],
      ['apache_clone', 'clone'],
    ]);
    expect(d.resources[0]!.members).toEqual(['mysql_fs', 'mysql_ip', 'mysqld']);
    expect(d.stonithEnabled).toBe(false);
    expect(d.failures).toEqual([]);
    expect(d.failcounts).toEqual([]);
  });

  it('a killed mysqld: its failcount and failed action', () => {
    const d = parseCrmMonDetails({ exitCode: 0, stdout: read('mysqld-killed', 'bob.crm_mon.xml'), stderr: '' });
    expect(d.failcounts).toEqual([{ node: 'bob', resource: 'mysqld', failCount: 1, lastFailure: 'Wed Dec  2 05:20:10 2026' }]);
    expect(d.failures).toEqual([
      { node: 'bob', opKey: 'mysqld_monitor_10000', task: 'monitor', exitStatus: 'not running', exitReason: 'failed', status: 'complete', lastRcChange: '2026-12-02 05:20:10Z' },
    ]);
  });

  it('events2 --statistics keeps the states parseEvents always read; counters do not change the digest', () => {
    const r = parseEvents({ exitCode: 0, stdout: read('healthy', 'bob.events2.txt'), stderr: '' });
    expect(r.get('mysql')!.peerDevices[0]).toMatchObject({ name: 'alice', replication: 'Established', peerDisk: 'UpToDate' });
    const sync = parseEvents({ exitCode: 0, stdout: read('resync', 'bob.events2.txt').split('\n# second')[0]!, stderr: '' });
    expect(sync.get('kopano')!.peerDevices[0]).toMatchObject({ replication: 'SyncSource', peerDisk: 'Inconsistent', done: 36, stats: { outOfSyncKiB: 409740 } });
  });

  it('a kernel that reports its resync rate (rs-db1-sectors over rs-dt1-ms) gives the estimate itself', () => {
    const line =
      'exists peer-device name:r0 peer-node-id:1 conn-name:alice volume:0 replication:SyncSource peer-disk:Inconsistent done:50.00 out-of-sync:102400 rs-dt1-ms:1000 rs-db1-sectors:20480\nexists -\n';
    // 20480 sectors = 10240 KiB per second; 102400 KiB left -> 10 s
    expect(parseEvents({ exitCode: 0, stdout: line, stderr: '' }).get('r0')!.peerDevices[0]!.stats).toEqual({
      outOfSyncKiB: 102400,
      rsDb1Sectors: 20480,
      rsDt1Ms: 1000,
      etaSeconds: 10,
    });
  });
});

describe('buildStatus: the verdict', () => {
  it('the converged lab: healthy, exit 0; every node online, DRBD UpToDate/Connected, groups on bob', () => {
    const s = buildStatus(input([answer('healthy', 'bob'), answer('healthy', 'alice')]));
    expect(s.reasons).toEqual([]);
    expect(s.verdict).toBe('healthy');
    expect(STATUS_EXIT[s.verdict]).toBe(0);
    expect(s.view).toBe('bob');
    expect(s.dc).toBe('bob');
    expect(s.quorum).toMatchObject({ quorate: true, totalVotes: 2, expectedVotes: 2, members: ['bob', 'alice'], qdevice: null });
    expect(s.nodes.map((n) => [n.name, n.pacemaker, n.member, n.quorate])).toEqual([
      ['bob', 'online', true, true],
      ['alice', 'online', true, true],
    ]);
    for (const r of s.drbd) {
      expect(r.nodes.map((n) => n.disk)).toEqual(['UpToDate', 'UpToDate']);
      expect(r.nodes.flatMap((n) => n.peers.map((p) => [p.connection, p.replication, p.peerDisk]))).toEqual([
        ['Connected', 'Established', 'UpToDate'],
        ['Connected', 'Established', 'UpToDate'],
      ]);
      expect(r.sync).toBeUndefined();
    }
    expect(s.drbd[0]!.nodes.map((n) => n.role)).toEqual(['Primary', 'Secondary']);
    expect(s.resources.find((r) => r.id === 'mysql')!.nodes).toEqual(['bob']);
    expect(s.resources.find((r) => r.id === 'kopano')!.nodes).toEqual(['bob']);
    expect(s.resources.find((r) => r.id === 'ms_drbd_mysql')).toMatchObject({ nodes: ['bob', 'alice'], promoted: ['bob'] });
    expect(s.fencing).toEqual({ enabled: false, devices: [], last: null });
    expect(s.drift).toEqual(NO_DRIFT);
  });

  it('a node with neither corosync nor Pacemaker installed that Pacemaker does not list (a quorum arbitrator, 004): outside the cluster, healthy', () => {
    const notFound = (cmd: string) => ({ exitCode: 127, stdout: '', stderr: `sh: 2: ${cmd}: not found\n` });
    const witness: NodeAnswer = { name: 'witness', quorum: notFound('corosync-quorumtool'), crmMon: notFound('crm_mon'), drbd: notFound('drbdsetup') };
    const s = buildStatus({ ...input([answer('healthy', 'bob'), answer('healthy', 'alice'), witness]), nodes: ['bob', 'alice', 'witness'] });
    expect(s.reasons).toEqual([]);
    expect(s.verdict).toBe('healthy');
    expect(s.nodes.find((n) => n.name === 'witness')).toEqual({ name: 'witness', reachable: true, pacemaker: 'unknown', member: null, quorate: null, problems: [], outside: true });
    expect(s.nodes.filter((n) => n.outside).map((n) => n.name)).toEqual(['witness']);
    expect(renderStatus(s)).toMatch(/^witness\s+ok\s+-\s+-\s+-$/m);
    expect(renderStatus(s)).toMatch(/not cluster nodes .*: witness/);
    // the same node unreachable: degraded, as any node of the inventory
    const down = buildStatus({
      ...input([answer('healthy', 'bob'), answer('healthy', 'alice'), { name: 'witness', error: 'connect ECONNREFUSED' }]),
      nodes: ['bob', 'alice', 'witness'],
    });
    expect(down.verdict).toBe('degraded');
    expect(down.reasons).toEqual(['witness: unreachable (connect ECONNREFUSED)']);
  });

  it('a node Pacemaker lists whose cluster stack is not installed is not outside: degraded', () => {
    const notFound = (cmd: string) => ({ exitCode: 127, stdout: '', stderr: `sh: 2: ${cmd}: not found\n` });
    const alice: NodeAnswer = { name: 'alice', quorum: notFound('corosync-quorumtool'), crmMon: notFound('crm_mon'), drbd: notFound('drbdsetup') };
    const s = buildStatus(input([answer('healthy', 'bob'), alice]));
    expect(s.verdict).toBe('degraded');
    expect(s.nodes.find((n) => n.name === 'alice')!.outside).toBeUndefined();
    expect(s.reasons.some((r) => r.startsWith('alice: corosync: '))).toBe(true);
  });

  it('during a resync: degraded (8), with the progress and an estimate from the two looks', () => {
    const s = buildStatus(input([answer('resync', 'bob'), answer('resync', 'alice')]));
    expect(s.verdict).toBe('degraded');
    expect(STATUS_EXIT[s.verdict]).toBe(8);
    const k = s.drbd.find((r) => r.name === 'kopano')!;
    const bob = k.nodes.find((n) => n.node === 'bob')!.peers[0]!;
    // 36.00% then 44.11% 0.5 s later: 16.22 %/s, 55.89% left -> 3 s
    expect(bob).toMatchObject({ peer: 'alice', replication: 'SyncSource', peerDisk: 'Inconsistent', done: 44.11, etaSeconds: 3 });
    expect(k.nodes.find((n) => n.node === 'alice')!.disk).toBe('Inconsistent');
    expect(k.sync).toEqual({ done: 42.01, etaSeconds: 3 });
    expect(s.reasons).toContain('drbd kopano on alice: disk Inconsistent');
    expect(s.reasons.some((r) => /drbd kopano on bob: SyncSource to alice \(44\.1% done\)/.test(r))).toBe(true);
    expect(s.drbd.find((r) => r.name === 'mysql')!.sync).toBeUndefined();
    expect(renderStatus(s)).toMatch(/kopano\s+bob\s+Primary\s+UpToDate\s+alice\s+Connected\s+SyncSource\s+Inconsistent\s+44\.1% eta 3s/);
  });

  it('alice’s cluster stack stopped: degraded, alice offline and absent, her DRBD down, bob’s peer Connecting', () => {
    const s = buildStatus(input([answer('alice-stopped', 'bob'), answer('alice-stopped', 'alice', { quorum: 1, crmMon: 102 })]));
    expect(s.verdict).toBe('degraded');
    expect(s.view).toBe('bob');
    expect(s.nodes.find((n) => n.name === 'alice')).toMatchObject({ reachable: true, pacemaker: 'offline', member: false, quorate: null });
    expect(s.quorum).toMatchObject({ quorate: true, totalVotes: 1, members: ['bob'] });
    expect(s.reasons).toEqual(
      expect.arrayContaining(['alice: offline in Pacemaker', 'alice: not a corosync member', 'drbd mysql on alice: not up', 'drbd mysql on bob: Connecting to alice']),
    );
    expect(s.resources.find((r) => r.id === 'mysql')!.nodes).toEqual(['bob']);
  });

  it('a node that does not answer: degraded, named; its DRBD rows unknown, not failed', () => {
    const s = buildStatus(input([answer('alice-stopped', 'bob'), { name: 'alice', error: 'connect ECONNREFUSED 127.0.0.1:2202' }]));
    expect(s.verdict).toBe('degraded');
    expect(s.reasons[0]).toBe('alice: unreachable (connect ECONNREFUSED 127.0.0.1:2202)');
    expect(s.reasons.some((r) => /on alice: not up/.test(r))).toBe(false);
    expect(renderStatus(s)).toMatch(/alice\s+UNREACHABLE\s+offline/);
  });

  it('no node answers: down (9)', () => {
    const s = buildStatus(
      input([
        { name: 'bob', error: 'timed out' },
        { name: 'alice', error: 'timed out' },
      ]),
    );
    expect(s.verdict).toBe('down');
    expect(STATUS_EXIT[s.verdict]).toBe(9);
    expect(s.reasons[0]).toBe('no node answers');
    expect(s.quorum).toBeNull();
  });

  it('the only node that answers has no cluster stack: down', () => {
    const s = buildStatus(input([{ name: 'bob', error: 'timed out' }, answer('alice-stopped', 'alice', { quorum: 1, crmMon: 102 })]));
    expect(s.verdict).toBe('down');
    expect(s.reasons[0]).toBe('no node that answers has quorum');
  });

  it('a failed action makes it degraded; failcounts are listed', () => {
    const bob = { ...answer('healthy', 'bob'), crmMon: { exitCode: 0, stdout: read('mysqld-killed', 'bob.crm_mon.xml'), stderr: '' } };
    const s = buildStatus(input([bob, answer('healthy', 'alice')]));
    expect(s.verdict).toBe('degraded');
    expect(s.failcounts).toEqual([{ node: 'bob', resource: 'mysqld', failCount: 1, lastFailure: 'Wed Dec  2 05:20:10 2026' }]);
    expect(s.failedActions).toEqual([{ node: 'bob', op: 'mysqld_monitor_10000', exitStatus: 'not running', exitReason: 'failed', status: 'complete', at: '2026-12-02 05:20:10Z' }]);
    expect(s.reasons).toEqual(['failed action mysqld_monitor_10000 on bob: not running (failed)']);
  });

  it('fencing devices and the last fencing (fence_history written by hand: the lab has none)', () => {
    const xml = read('healthy', 'bob.crm_mon.xml')
      .replace('stonith-enabled="false"', 'stonith-enabled="true"')
      .replace(
        '  </resources>',
        '    <resource id="fence_alice" resource_agent="stonith:fence_ipmilan" role="Started" active="true" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">\n      <node name="bob" id="1" cached="true"/>\n    </resource>\n  </resources>',
      )
      .replace(
        '  <status code="0"',
        '  <fence_history>\n    <fence_event action="reboot" target="alice" client="pacemaker-controld.1" origin="bob" status="success" delegate="bob" completed="2026-12-01 10:00:00Z"/>\n    <fence_event action="reboot" target="bob" client="stonith_admin.9" origin="alice" status="failed" delegate="alice" completed="2026-12-02 04:00:00Z"/>\n  </fence_history>\n  <status code="0"',
      );
    const bob = { ...answer('healthy', 'bob'), crmMon: { exitCode: 0, stdout: xml, stderr: '' } };
    const s = buildStatus(input([bob, answer('healthy', 'alice')]));
    expect(s.fencing).toEqual({
      enabled: true,
      devices: [{ id: 'fence_alice', agent: 'fence_ipmilan', nodes: ['bob'] }],
      last: { action: 'reboot', target: 'bob', status: 'failed', completed: '2026-12-02 04:00:00Z', delegate: 'alice' },
    });
    expect(s.verdict).toBe('healthy');
    expect(renderStatus(s)).toContain('fencing: enabled; devices: fence_alice (fence_ipmilan on bob); last fencing: reboot of bob: failed at 2026-12-02 04:00:00Z by alice');
  });

  it('drift is shown, not judged; an unplannable playbook says why', () => {
    const s = buildStatus(input([answer('healthy', 'bob'), answer('healthy', 'alice')], { state: 'unknown', reason: 'the playbook cannot be planned: 1 error(s)' }));
    expect(s.verdict).toBe('healthy');
    expect(renderStatus(s)).toContain('drift: unknown: the playbook cannot be planned: 1 error(s)');
    const d = buildStatus(input([answer('healthy', 'bob'), answer('healthy', 'alice')], { state: 'planned', changes: 2, pending: 1, refused: 0, errors: 0, pairs: 40 }));
    expect(d.verdict).toBe('healthy');
    expect(renderStatus(d)).toContain('drift: 2 change(s), 1 known after apply in 40 (node, step) pairs (ha-provision plan shows them)');
  });

  it('countDrift counts (node, step) pairs by plan status', () => {
    const step = (status: string) => ({ id: 'x', kind: 'file', title: 'x', status, factsDigest: '', changesDigest: '', changes: [] });
    const plan = {
      nodes: [
        { name: 'bob', steps: [step('ok'), step('change'), step('pending')] },
        { name: 'alice', error: 'down', steps: [step('error'), step('refused')] },
      ],
    };
    expect(countDrift(plan as never)).toEqual({ state: 'planned', changes: 1, pending: 1, refused: 1, errors: 2, pairs: 5 });
  });

  it('text from the nodes reaches the terminal escaped', () => {
    const s = buildStatus(input([answer('healthy', 'bob'), { name: 'alice', error: 'bad \x1b[2Jhost\x9b' }]));
    const text = renderStatus(s);
    // eslint-disable-next-line no-control-regex -- ESC and CSI are what must not be there
    expect(text).not.toMatch(/[\x1b\x9b]/);
    expect(text).toContain('bad \\x1b[2Jhost\\x9b');
  });

  it('the JSON shape', () => {
    const s = buildStatus(input([answer('healthy', 'bob'), answer('healthy', 'alice')]));
    expect(Object.keys(s)).toEqual([
      'format',
      'version',
      'cluster',
      'inventory',
      'at',
      'verdict',
      'reasons',
      'view',
      'quorum',
      'dc',
      'nodes',
      'drbd',
      'resources',
      'failcounts',
      'failedActions',
      'fencing',
      'drift',
    ]);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});

describe('status arguments', () => {
  it('an invalid inventory: exit 2, the error with file and line, nothing contacted', async () => {
    const { main } = await import('../../../src/cli/main.js');
    const dir = mkdtempSync(join(tmpdir(), 'hapv-status-'));
    writeFileSync(join(dir, 'inv.yaml'), 'cluster: c\nnodes:\n  bob:\n    ssh: {host: 127.0.0.1, prot: 22}\n');
    let stderr = '';
    const code = await main(['status', 'inv.yaml'], { stdout: () => {}, stderr: (x) => void (stderr += x), env: {}, cwd: dir });
    expect(code).toBe(2);
    expect(stderr).toMatch(/inv\.yaml:4:/);
    expect(stderr).toContain('nothing was contacted');
  });

  it('status INVENTORY [--json] [--watch [--interval S]]', () => {
    expect(parseCli(['status', 'inv.yaml'])).toEqual({ cmd: 'status', inventory: 'inv.yaml', json: false, watch: false, interval: 5 });
    expect(parseCli(['status', 'inv.yaml', '--json', '--watch', '--interval', '2'])).toEqual({ cmd: 'status', inventory: 'inv.yaml', json: true, watch: true, interval: 2 });
    expect(() => parseCli(['status'])).toThrow(/status needs INVENTORY/);
    expect(() => parseCli(['status', 'inv.yaml', '--interval', '2'])).toThrow(/--interval goes with --watch/);
    expect(() => parseCli(['status', 'inv.yaml', '--watch', '--interval', '0'])).toThrow(/--interval must be/);
    expect(() => parseCli(['status', 'inv.yaml', '--limit', 'bob'])).toThrow(/does not apply to "status"/);
  });
});
