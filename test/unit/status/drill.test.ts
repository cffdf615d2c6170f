/**
 * `drill`, the pure part (src/drill/model.ts) and its arguments: services,
 * the resource to kill, how a node fails, and the timeline and verdict
 * computed from looks built from real lab captures (test/fixtures/status/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCli, UsageError } from '../../../src/cli/args.js';
import { main } from '../../../src/cli/main.js';
import { renderDrill } from '../../../src/cli/drill.js';
import {
  drbdRole,
  findResource,
  leftConstraints,
  nodeFailureMethod,
  parseFenceTime,
  parsePid,
  pidScript,
  pidSource,
  RecoveryTracker,
  serviceProblems,
  servicesOf,
  serviceTimes,
  stonithOption,
  switchoverTargets,
  UNFENCED_WARNING,
  type DrillReport,
  type Sample,
} from '../../../src/drill/model.js';
import { buildStatus, type NodeAnswer, type Status } from '../../../src/status/model.js';

const DIR = join(import.meta.dirname, '../../fixtures/status');
const maybe = (set: string, file: string) => (existsSync(join(DIR, set, file)) ? readFileSync(join(DIR, set, file), 'utf8') : '');

/** A node's answer: crm_mon from `mon` (default `set`), quorum and DRBD from `set`. */
function answer(set: string, node: string, opts: { mon?: string; crmMon?: number; quorum?: number; edit?: (xml: string) => string } = {}): NodeAnswer {
  const xml = maybe(opts.mon ?? set, `${node}.crm_mon.xml`);
  return {
    name: node,
    quorum: { exitCode: opts.quorum ?? 0, stdout: maybe(set, `${node}.quorum.txt`), stderr: maybe(set, `${node}.quorum.stderr`) },
    crmMon: { exitCode: opts.crmMon ?? 0, stdout: opts.edit ? opts.edit(xml) : xml, stderr: '' },
    drbd: { exitCode: 0, stdout: maybe(set, `${node}.events2.txt`), stderr: '' },
  };
}

function status(answers: NodeAnswer[], at: string): Status {
  return buildStatus({
    cluster: 'lab',
    inventory: '/x/inventory/lab.yaml',
    nodes: ['bob', 'alice'],
    drbd: [
      { name: 'mysql', nodes: ['bob', 'alice'] },
      { name: 'kopano', nodes: ['bob', 'alice'] },
    ],
    answers,
    drift: { state: 'unknown', reason: 'not read by drill' },
    at: new Date(at),
  });
}

const FS = [
  { name: 'mysql_fs', drbd: 'mysql' },
  { name: 'kopano_fs', drbd: 'kopano' },
];
const healthy = (at: string) => status([answer('healthy', 'bob'), answer('healthy', 'alice')], at);
const FENCED_ALICE = (when: string) => (xml: string) =>
  xml.replace(
    /<status code="0"/,
    `<fence_history>\n    <fence_event action="reboot" target="alice" client="stonith_admin.1234" origin="bob" status="success" delegate="bob" completed="${when}"/>\n  </fence_history>\n  <status code="0"`,
  );

describe('drill arguments', () => {
  it('parses each drill with its defaults', () => {
    expect(parseCli(['drill', 'inv.yaml', '--node-failure', 'alice', '--yes'])).toEqual({
      cmd: 'drill',
      inventory: 'inv.yaml',
      drill: { kind: 'node-failure', node: 'alice' },
      force: false,
      yes: true,
      json: false,
      timeoutS: 300,
      dryRun: false,
    });
    expect(parseCli(['drill', 'inv.yaml', '--switchover', '--dry-run'])).toMatchObject({ drill: { kind: 'switchover' }, dryRun: true, yes: false });
    expect(parseCli(['drill', 'inv.yaml', '--node-failure', 'alice', '--action', 'off', '--json', '--timeout', '5m'])).toMatchObject({
      drill: { kind: 'node-failure', node: 'alice', action: 'off' },
      json: true,
      timeoutS: 300,
    });
    expect(parseCli(['drill', 'inv.yaml', '--node-failure', 'alice', '--method', 'kill-stack'])).toMatchObject({
      drill: { kind: 'node-failure', node: 'alice', method: 'kill-stack' },
    });
    expect(parseCli(['drill', 'inv.yaml', '--resource-failure', 'mysqld', '-y', '--force'])).toMatchObject({
      drill: { kind: 'resource-failure', resource: 'mysqld' },
      yes: true,
      force: true,
    });
    expect(parseCli(['drill', 'inv.yaml', '--switchover'])).toMatchObject({ drill: { kind: 'switchover' } });
    expect(parseCli(['drill', 'inv.yaml', '--switchover', 'alice', '--timeout', '90s'])).toMatchObject({ drill: { kind: 'switchover', node: 'alice' }, timeoutS: 90 });
  });

  it('refuses what makes no sense, with a message naming it', () => {
    const bad: [string[], RegExp][] = [
      [['drill'], /needs INVENTORY/],
      [['drill', 'inv.yaml'], /one of --node-failure NODE, --resource-failure RESOURCE, --switchover/],
      [['drill', 'inv.yaml', '--switchover', '--node-failure', 'bob'], /one drill at a time/],
      [['drill', 'inv.yaml', '--node-failure', ''], /--node-failure needs a name/],
      [['drill', 'inv.yaml', '--node-failure', 'bob', '--action', 'halt'], /--action must be reboot or off/],
      [['drill', 'inv.yaml', '--node-failure', 'bob', '--method', 'pull-plug'], /--method must be fence .* or kill-stack/],
      [['drill', 'inv.yaml', '--node-failure', 'bob', '--method', 'kill-stack', '--action', 'off'], /--action goes with fencing/],
      [['drill', 'inv.yaml', '--resource-failure', 'x', '--action', 'off'], /--action and --method go with --node-failure/],
      [['drill', 'inv.yaml', '--switchover', 'alice', 'bob'], /too many arguments/],
      [['drill', 'inv.yaml', '--resource-failure', 'x', 'extra'], /too many arguments/],
      [['drill', 'inv.yaml', '--switchover', '--timeout', '0'], /--timeout must be a duration/],
      [['drill', 'inv.yaml', '--switchover', '--timeout', 'soon'], /--timeout must be a duration/],
      [['drill', 'inv.yaml', '--switchover', '--watch'], /--watch does not apply to "drill"/],
      [['status', 'inv.yaml', '--yes'], /--yes does not apply to "status"/],
    ];
    for (const [argv, re] of bad) expect(() => parseCli(argv), argv.join(' ')).toThrow(re);
    expect(() => parseCli(['drill'])).toThrow(UsageError);
  });

  it('without a terminal and without --yes: exit 2 before anything is read or contacted', async () => {
    const err: string[] = [];
    const code = await main(['drill', '/nonexistent/inventory.yaml', '--switchover'], { stdout: () => {}, stderr: (s) => void err.push(s), env: {}, cwd: '/' });
    expect(code).toBe(2);
    expect(err.join('')).toMatch(/no terminal to confirm on: add --yes .* Nothing was contacted/);
  });

  it('usage errors exit 2', async () => {
    const err: string[] = [];
    expect(await main(['drill', 'inv.yaml', '--switchover', '--node-failure', 'a'], { stdout: () => {}, stderr: (s) => void err.push(s), env: {}, cwd: '/' })).toBe(2);
    expect(err.join('')).toMatch(/one drill at a time/);
  });
});

describe('services and the resource to kill (lab captures)', () => {
  const s = healthy('2026-12-02T05:16:30Z');

  it('services: the groups that run on one node; clones and their instances are not services', () => {
    expect(s.verdict).toBe('healthy');
    expect(servicesOf(s)).toEqual([
      { id: 'mysql', node: 'bob' },
      { id: 'kopano', node: 'bob' },
    ]);
    expect(serviceProblems(s, servicesOf(s), FS)).toEqual([]);
    expect(serviceProblems(s, [{ id: 'mysql', on: 'alice' }], FS)).toEqual(['mysql: on bob, not alice']);
    expect(drbdRole(s, 'mysql', 'bob')).toBe('Primary');
    expect(drbdRole(s, 'mysql', 'alice')).toBe('Secondary');
  });

  it('a member of a group on one node is found with its agent; groups, clones and unknown names are refused by name', () => {
    expect(findResource(s, 'mysqld')).toEqual({ ok: true, node: 'bob', agent: 'systemd:mariadb', service: 'mysql' });
    expect(findResource(s, 'mysql')).toMatchObject({ ok: false, message: expect.stringMatching(/^mysql is a group: name one of its members \(mysql_fs, mysql_ip, mysqld\)/) });
    expect(findResource(s, 'drbd_mysql')).toMatchObject({ ok: false, message: expect.stringContaining('runs as a clone (ms_drbd_mysql)') });
    expect(findResource(s, 'nope')).toMatchObject({ ok: false, message: expect.stringMatching(/^no resource nope in the cluster \(resources: .*mysqld/) });
  });

  it('how the main process is found: systemd MainPID, an OCF pid file parameter, else a refusal naming the agent', () => {
    expect(pidSource('systemd:mariadb')).toEqual({ kind: 'systemd', unit: 'mariadb.service' });
    expect(pidSource('systemd:apache2.service')).toEqual({ kind: 'systemd', unit: 'apache2.service' });
    expect(pidSource('lsb:kopano-server')).toEqual({ kind: 'systemd', unit: 'kopano-server.service' });
    expect(pidSource('ocf:heartbeat:apache')).toMatchObject({ kind: 'pidfile', params: expect.arrayContaining(['pidfile', 'pid']) });
    expect(pidSource('stonith:fence_virsh')).toMatchObject({ kind: 'none', reason: expect.stringContaining('fence device (stonith:fence_virsh)') });
    expect(pidSource('nagios:check_x')).toMatchObject({ kind: 'none', reason: 'its agent nagios:check_x names no process' });
    const sys = pidScript('mysqld', { kind: 'systemd', unit: 'mariadb.service' });
    expect(sys.slice(-1)).toEqual(['mariadb.service']);
    expect(sys[2]).toContain('systemctl show -p MainPID --value "$1"');
    const ocf = pidScript('web', { kind: 'pidfile', params: ['pidfile'] });
    expect(ocf.slice(-2)).toEqual(['web', 'pidfile']);
    expect(ocf[2]).toContain('crm_resource --resource "$r" --get-parameter "$k"');
    expect(parsePid('1234\n')).toBe(1234);
    expect(parsePid('0\n')).toBeUndefined();
    expect(parsePid('')).toBeUndefined();
  });
});

describe('how --node-failure fails the node', () => {
  const fenced = { enabled: true, action: 'reboot' as const, devices: [{ name: 'fence_bob' } as never] };
  const none = { enabled: false, action: 'reboot' as const, devices: [] };
  it("through the cluster's fencing, with its action unless --action says otherwise", () => {
    expect(nodeFailureMethod(fenced, {})).toEqual({ ok: true, method: { kind: 'fence', action: 'reboot' } });
    expect(nodeFailureMethod(fenced, { action: 'off' })).toEqual({ ok: true, method: { kind: 'fence', action: 'off' } });
  });
  it('without fencing: refused unless --method kill-stack, which comes with the warning', () => {
    const r = nodeFailureMethod(none, {});
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('--method kill-stack') });
    expect(nodeFailureMethod(none, { method: 'kill-stack' })).toEqual({ ok: true, method: { kind: 'kill-stack' } });
    expect(UNFENCED_WARNING).toMatch(/keep running and writing/);
    expect(UNFENCED_WARNING).toMatch(/DRBD may be promoted/);
  });

  it('asks stonith_admin for an action it knows: --reboot, and --fence for off (it has no --off)', () => {
    expect(stonithOption('reboot')).toBe('--reboot');
    expect(stonithOption('off')).toBe('--fence');
  });
});

describe('the timeline and the verdict from the looks', () => {
  const s0 = healthy('2026-12-02T05:16:00Z');
  const services = servicesOf(s0);
  const faultAt = new Date('2026-12-02T05:16:00Z');

  it('node failure (reboot): node down, fenced (fence history), back, recovered; times from the fault', () => {
    const t = new RecoveryTracker({ spec: { kind: 'node-failure', node: 'alice' }, services, filesystems: FS, faultAt, expectBack: true });
    // 1: stale view, alice still online: nothing yet
    t.observe({ at: new Date('2026-12-02T05:16:02Z'), status: healthy('2026-12-02T05:16:02Z'), settled: true });
    expect(t.done()).toBe(false);
    expect(t.lastProblems).toContain('alice not seen down yet');
    // 2: bob sees alice offline (alice unreachable), the fencing in the history
    const down = status([answer('alice-stopped', 'bob', { edit: FENCED_ALICE('2026-12-02 05:16:03Z') }), { name: 'alice', error: 'connect ECONNREFUSED' }], '2026-12-02T05:16:05Z');
    t.observe({ at: new Date('2026-12-02T05:16:05Z'), status: down, settled: true });
    expect(t.done()).toBe(false);
    expect(t.lastProblems).toEqual(expect.arrayContaining(['alice not back in the cluster', 'drbd mysql: not UpToDate and connected on all its nodes']));
    // 3: alice back (her own ssh not answering yet: bob's view is enough)
    const back = status([answer('healthy', 'bob'), { name: 'alice', error: 'connect ECONNREFUSED' }], '2026-12-02T05:16:40Z');
    t.observe({ at: new Date('2026-12-02T05:16:40Z'), status: back, settled: false });
    expect(t.done()).toBe(false);
    expect(t.lastProblems).toEqual(['the cluster has not settled (actions pending)']);
    t.observe({ at: new Date('2026-12-02T05:16:44Z'), status: back, settled: true });
    expect(t.done()).toBe(true);
    expect(t.events.map((e) => [e.event, e.t])).toEqual([
      ['node-down', 5],
      ['node-fenced', 3],
      ['node-back', 40],
      ['recovered', 44],
    ]);
    expect(t.fenced).toEqual({ at: '2026-12-02T05:16:03.000Z', action: 'reboot', target: 'alice', delegate: 'bob', status: 'success' });
    // no service ran on alice: none hit
    expect(serviceTimes(t).map((s) => [s.id, s.before, s.after, s.affected])).toEqual([
      ['mysql', 'bob', 'bob', false],
      ['kopano', 'bob', 'bob', false],
    ]);
  });

  it("a fencing older than the drill is not this drill's", () => {
    const t = new RecoveryTracker({ spec: { kind: 'node-failure', node: 'alice' }, services, filesystems: FS, faultAt, expectBack: true });
    const down = status([answer('alice-stopped', 'bob', { edit: FENCED_ALICE('2026-12-01 10:00:00Z') }), { name: 'alice', error: 'x' }], '2026-12-02T05:16:05Z');
    t.observe({ at: new Date('2026-12-02T05:16:05Z'), status: down, settled: true });
    expect(t.fenced).toBeNull();
  });

  it('node failure of the node running the services: each service running again is timed once its node was seen down', () => {
    // the services ran on "alice" before (as if bob took them over in the captures)
    const t = new RecoveryTracker({
      spec: { kind: 'node-failure', node: 'alice', action: 'off' },
      services: services.map((s) => ({ ...s, node: 'alice' })),
      filesystems: FS,
      faultAt,
      expectBack: false,
    });
    const down = status([answer('alice-stopped', 'bob'), { name: 'alice', error: 'x' }], '2026-12-02T05:16:20Z');
    t.observe({ at: new Date('2026-12-02T05:16:20Z'), status: down, settled: true });
    expect(t.events.map((e) => [e.event, e.detail])).toEqual([
      ['node-down', 'alice is offline in Pacemaker (seen from bob)'],
      ['service-running', 'mysql runs on bob'],
      ['service-running', 'kopano runs on bob'],
      ['services-running', 'every service hit runs again'],
    ]);
    // DRBD cannot be connected while alice is off: not recovered, and said so
    expect(t.done()).toBe(false);
    expect(t.lastProblems).toEqual(['drbd mysql: not UpToDate and connected on all its nodes', 'drbd kopano: not UpToDate and connected on all its nodes']);
    expect(serviceTimes(t).map((s) => [s.id, s.after, s.seconds])).toEqual([
      ['mysql', 'bob', 20],
      ['kopano', 'bob', 20],
    ]);
  });

  it('a service hit that later moves back to the node it prefers: service-moved', () => {
    // mysql ran on alice; alice fenced; bob runs it (captures), then "alice" runs it again (bob's capture with names swapped)
    const t = new RecoveryTracker({ spec: { kind: 'node-failure', node: 'alice' }, services: [{ id: 'mysql', node: 'alice' }], filesystems: FS, faultAt, expectBack: true });
    const down = status([answer('alice-stopped', 'bob'), { name: 'alice', error: 'x' }], '2026-12-02T05:16:10Z');
    t.observe({ at: new Date('2026-12-02T05:16:10Z'), status: down, settled: true });
    const swapped = (xml: string) =>
      xml
        .replace(/"bob"/g, '"tmp"')
        .replace(/"alice"/g, '"bob"')
        .replace(/"tmp"/g, '"alice"');
    const swap = (n: NodeAnswer): NodeAnswer => ({
      ...n,
      crmMon: { ...n.crmMon!, stdout: swapped(n.crmMon!.stdout) },
      drbd: {
        ...n.drbd!,
        stdout: n
          .drbd!.stdout.replace(/\bbob\b/g, 'tmp')
          .replace(/\balice\b/g, 'bob')
          .replace(/\btmp\b/g, 'alice'),
      },
      quorum: { ...n.quorum!, stdout: swapped(n.quorum!.stdout) },
    });
    const back = status(
      [
        { ...swap(answer('healthy', 'alice')), name: 'bob' },
        { ...swap(answer('healthy', 'bob')), name: 'alice' },
      ],
      '2026-12-02T05:16:40Z',
    );
    expect(back.resources.find((r) => r.id === 'mysql')!.nodes).toEqual(['alice']);
    t.observe({ at: new Date('2026-12-02T05:16:40Z'), status: back, settled: true });
    expect(t.lastProblems).toEqual([]);
    expect(t.events.map((e) => [e.event, e.t, e.detail])).toEqual([
      ['node-down', 10, 'alice is offline in Pacemaker (seen from bob)'],
      ['service-running', 10, 'mysql runs on bob'],
      ['node-back', 40, 'alice is online in Pacemaker again'],
      ['service-moved', 40, 'mysql runs on alice (was on bob)'],
      ['recovered', 40, 'every service runs, DRBD UpToDate and connected, the cluster settled'],
    ]);
    expect(serviceTimes(t)).toEqual([{ id: 'mysql', before: 'alice', after: 'alice', affected: true, seconds: 10 }]);
  });

  it('resource failure: the killed process seen again under a new PID, after its failure (real capture of mysqld killed)', () => {
    const resource = { id: 'mysqld', service: 'mysql', pid: 4242, node: 'bob' };
    const t = new RecoveryTracker({ spec: { kind: 'resource-failure', resource: 'mysqld' }, services, filesystems: FS, faultAt, resource });
    // crm_mon still shows it Started, same PID (not yet noticed): not recovered
    t.observe({ at: new Date('2026-12-02T05:16:01Z'), status: healthy('2026-12-02T05:16:01Z'), settled: true, pid: 4242 });
    expect(t.done()).toBe(false);
    expect(t.lastProblems).toEqual(['mysqld: no new process yet']);
    const killed = status([answer('healthy', 'bob', { mon: 'mysqld-killed' }), answer('healthy', 'alice')], '2026-12-02T05:16:10Z');
    expect(killed.failcounts).toEqual([{ node: 'bob', resource: 'mysqld', failCount: 1, lastFailure: 'Wed Dec  2 05:20:10 2026' }]);
    t.observe({ at: new Date('2026-12-02T05:16:10Z'), status: killed, settled: true, pid: 4300 });
    expect(t.done()).toBe(true);
    expect(t.newPid).toBe(4300);
    expect(t.events.map((e) => [e.event, e.t, e.detail])).toEqual([
      ['new-process', 10, 'mysqld: PID 4300 (was 4242)'],
      ['service-running', 10, 'mysql runs on bob'],
      ['recovered', 10, 'every service runs, DRBD UpToDate and connected, the cluster settled'],
    ]);
  });

  it('a service whose file system sits on DRBD that is not Primary there is not recovered', () => {
    const s = healthy('2026-12-02T05:16:01Z');
    const wrong: Status = { ...s, drbd: s.drbd.map((d) => (d.name === 'mysql' ? { ...d, nodes: d.nodes.map((n) => (n.node === 'bob' ? { ...n, role: 'Secondary' } : n)) } : d)) };
    expect(serviceProblems(wrong, [{ id: 'mysql' }], FS)).toEqual(['mysql: drbd mysql is Secondary on bob, not Primary']);
  });

  it('fence history times as Pacemaker prints them', () => {
    expect(parseFenceTime('2026-12-02 05:16:03Z')?.toISOString()).toBe('2026-12-02T05:16:03.000Z');
    expect(parseFenceTime('2026-12-02 06:16:03 +01:00')?.toISOString()).toBe('2026-12-02T05:16:03.000Z');
    expect(parseFenceTime('2026-12-02T05:16:03.000Z')?.toISOString()).toBe('2026-12-02T05:16:03.000Z');
    expect(parseFenceTime('soon')).toBeUndefined();
  });
});

describe('switchover', () => {
  it('to the other node of two by default; to NODE when named (services already there stay)', () => {
    const svc = [
      { id: 'mail1', node: 'lyon' },
      { id: 'mail2', node: 'nantes' },
    ];
    expect(switchoverTargets(svc, ['lyon', 'nantes'])).toEqual({
      ok: true,
      moves: [
        { id: 'mail1', from: 'lyon', to: 'nantes' },
        { id: 'mail2', from: 'nantes', to: 'lyon' },
      ],
    });
    expect(switchoverTargets(svc, ['lyon', 'nantes'], 'nantes')).toEqual({ ok: true, moves: [{ id: 'mail1', from: 'lyon', to: 'nantes' }] });
    expect(switchoverTargets(svc, ['lyon', 'nantes'], 'paris')).toMatchObject({ ok: false, message: expect.stringContaining('paris is not an online cluster node') });
    expect(switchoverTargets(svc, ['lyon', 'nantes', 'arb'])).toMatchObject({ ok: false, message: expect.stringContaining('name the node to switch over to') });
  });

  it("constraints a move leaves behind are crm_resource's cli-prefer-/cli-ban-", () => {
    const xml =
      '<constraints><rsc_location id="cli-prefer-mail1" rsc="mail1" role="Started" node="nantes" score="INFINITY"/><rsc_location id="mail1_prefers_first" rsc="ms_drbd_mail1"/><rsc_location id="cli-ban-mail2-on-lyon" rsc="mail2"/></constraints>';
    expect(leftConstraints(xml)).toEqual(['cli-prefer-mail1', 'cli-ban-mail2-on-lyon']);
    expect(leftConstraints('<constraints><rsc_location id="mail1_prefers_first"/></constraints>')).toEqual([]);
  });
});

describe('the text report', () => {
  it('shows the verdict, the timeline, the services and the fencing; escapes text from the nodes', () => {
    const d: DrillReport = {
      format: 'ha-provision/drill',
      version: 1,
      cluster: 'mail',
      inventory: '/x/inv.yaml',
      drill: { kind: 'node-failure', node: 'reims', method: 'fence', action: 'reboot', from: 'dijon' },
      verdict: 'passed',
      reasons: [],
      warnings: [],
      startedAt: '2026-12-02T08:00:00.000Z',
      faultAt: '2026-12-02T08:00:01.000Z',
      endedAt: '2026-12-02T08:01:00.000Z',
      recoverySeconds: 58,
      timeline: [{ at: '2026-12-02T08:00:01.000Z', t: 0, event: 'fault-injected', detail: 'stonith_admin \x1b[31m' }],
      services: [{ id: 'mail2', before: 'reims', after: 'reims', seconds: 12.5, affected: true }],
      fenced: { at: '2026-12-02T08:00:05.000Z', action: 'reboot', target: 'reims', delegate: 'dijon', status: 'success' },
      nodeBack: true,
      markers: [{ service: 'mail2', filesystem: 'mail2_fs', file: '/srv/mail2/.ha-provision-drill', node: 'dijon', ok: true, detail: 'read on dijon' }],
      final: { verdict: 'healthy', reasons: [] },
    };
    const text = renderDrill(d);
    expect(text).toContain('drill node-failure on mail: PASSED (recovered 58 s after the fault)');
    expect(text).toContain('mail2                reims -> reims  running again after 12.5 s');
    expect(text).toContain('fenced: reims (reboot) at 2026-12-02T08:00:05.000Z by dijon');
    expect(text).toContain('node back in the cluster: yes');
    expect(text).toContain('marker /srv/mail2/.ha-provision-drill (mail2): read back on dijon');
    expect(text).toContain('stonith_admin \\x1b[31m');
  });
});

// keep the Sample type in use for readers of this file
export type { Sample };
