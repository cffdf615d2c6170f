/**
 * Issue 6 and issue 11, "Judged by": the Kopano playbook, unchanged, on two
 * fresh test-bed nodes named unlike the lab (mx-east, mx-west; the primary
 * is the SECOND node), reached as the non-root user `ha` whose sudo needs a
 * password (from an environment variable): a plan saved on the fresh nodes
 * and applied with `apply --plan` ends with both nodes online in one
 * cluster, both DRBD resources UpToDate on both nodes and Primary on one,
 * the file systems mounted there, the cluster IPs answering (TCP from the
 * peer to MariaDB and Apache on them), every resource Started on that node.
 * Every change apply made was in the plan; a second apply changes nothing.
 * Then, in this order:
 *  - saved plans on the converged cluster: accepted at once and 60 s later
 *    (0 changes, exit 0); refused (exit 4, nothing changed) after a file
 *    edited by hand, a CIB property edited by hand, a DRBD connection cut;
 *  - drift: a cluster property changed by hand shows in the plan, apply brings it back;
 *  - 11.7 as `ha-provision drill --resource-failure mysqld`: MariaDB's main
 *    process killed with SIGKILL, Pacemaker restarts it (new PID, failcount);
 *  - 11.6: the active node hard-stopped (SIGKILL to the whole container):
 *    the survivor fences it (fence_virsh through the bed's hypervisor,
 *    docker/hypervisor/) and starts everything, with the data written before;
 *  - the fenced node powered on again: it rejoins, DRBD resyncs (status
 *    during the resync: degraded, exit 8, its progress);
 *  - the active node's corosync stopped with SIGSTOP (its cluster stack
 *    hangs): its peer fences it and runs everything with the data; it comes
 *    back, status shows the devices and the last fencing;
 *  - `ha-provision drill --node-failure` on the active node (through sudo,
 *    fenced with a reboot): everything runs on the other node with the
 *    marker written before, the node comes back and DRBD resyncs;
 *  - a wrong fence password: apply fails ("fence devices cannot act"); a node
 *    that then fails is not taken over (no split brain), status shows it.
 * The cluster is fenced as in production (fence_virsh devices from the
 * inventory, stonith-action off): no UNSAFE warning in the plan.
 * The sudo and fence passwords appear nowhere: output, plan files, journal, run log.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { renderDrill } from '../../src/cli/drill.js';
import type { DrillReport } from '../../src/drill/model.js';
import { applyKeys, converged as convergedApply, cli as runCli, json, Nodes, planKeys, ROOT, until, type ApplyReport, type CliResult, type PlanDoc } from '../storage/support.js';
import {
  activeNode,
  filesUnder,
  followPorts,
  nodeDiagnostics,
  parseStatus,
  recordHypervisorKeys,
  requireSudoPassword,
  slowClusterBoot,
  writeKopanoInventory,
  type ClusterStatus,
} from './support.js';

const PLAYBOOK = join(ROOT, 'playbooks/kopano-drbd.yaml');
const NODES = ['mx-east', 'mx-west'];
const PRIMARY = 'mx-west';
const GROUPED = ['mysql_fs', 'mysql_ip', 'mysqld', 'kopano_fs', 'kopano_ip', 'kopano-server', 'kopano-spooler', 'kopano-dagent', 'kopano-monitor', 'kopano-gateway', 'kopano-ical'];
const PROMOTABLE = ['drbd_mysql', 'drbd_kopano'];
const SUDO_ENV = 'KOPANO_BED_SUDO_PASSWORD';
const sudoPassword = `pw-${randomBytes(9).toString('base64url')}`;
/** The bed hypervisor's password: fence_virsh's credential, a file secret of the inventory. */
const fencePassword = `fence-${randomBytes(9).toString('base64url')}`;
/**
 * mysql's resync rate: its 300 MB take about 15 s to resync, long enough for
 * status to see a resync when a node comes back (a rate changed at run time
 * does not hold: the drbd agent's drbdadm adjust restores the configured one).
 */
const MYSQL_SYNC_RATE = '20M';
/** The inventory's stonith-timeout (the drift tests change it by hand). */
const STONITH_TIMEOUT = '60s';

let bed: Bed;
let nodes: Nodes;
let dir: string;
let inventory: string;
let mysqlIp: string;
let kopanoIp: string;
let authkey: string;
let plan: PlanDoc;
let report: ApplyReport;
let active: string;
let converged: { path: string; at: number };
const output: string[] = [];
/** The parts of `status --json` these tests read (README "status"). */
interface StatusDoc {
  verdict: string;
  reasons: string[];
  durationMs: number;
  quorum: { quorate: boolean; totalVotes: number; expectedVotes: number } | null;
  nodes: { name: string; reachable: boolean; pacemaker: string; member: boolean | null }[];
  drbd: {
    name: string;
    nodes: { node: string; role: string | null; disk: string | null; peers: { peer: string; connection: string; replication: string; peerDisk: string }[] }[];
    sync?: { done: number; etaSeconds?: number };
  }[];
  resources: { id: string; kind: string; nodes: string[] }[];
  failedActions: unknown[];
  drift: { state: 'planned'; changes: number; pending: number; refused: number; errors: number; pairs: number } | { state: 'unknown'; reason: string };
}
const peerOf = (n: string) => NODES.find((x) => x !== n)!;

/** What an operator would look at when the cluster leaves resources stopped: printed, never asserted. */
function clusterDiagnostics(): Promise<string> {
  return nodeDiagnostics(nodes, NODES, [
    'crm_mon -1 -r -f -A -n',
    'cibadmin -Q --scope constraints',
    'crm_simulate -sL 2>&1 | grep -Ei "kopano|mysql" | head -60',
    'drbdadm status all; drbdadm dstate all',
    'findmnt -t ext4',
    'journalctl -b --since "-15min" --no-pager | grep -Ei "kopano_fs|kopano_ip|Filesystem|error|fail" | tail -80',
  ]);
}

/** The CLI with the sudo password in its environment; every output is kept for the leak check. */
async function cli(args: string[]): Promise<CliResult> {
  const r = await runCli(args, ROOT, { [SUDO_ENV]: sudoPassword });
  output.push(r.stdout, r.stderr);
  return r;
}

async function status(on: string): Promise<ClusterStatus> {
  return parseStatus(await nodes.sh(on, 'crm_mon -1 --output-as=xml'));
}

async function property(on: string, name: string): Promise<string> {
  return (await nodes.try(on, `crm_attribute --type crm_config --name ${name} --query --quiet`)).out;
}

/** Fence events for `target` as `on` sees them (stonith_admin's history): action and status of each. */
async function fenceEvents(on: string, target: string): Promise<{ action: string; status: string }[]> {
  const xml = (await nodes.try(on, `stonith_admin --history ${target} --output-as=xml`)).out;
  return [...xml.matchAll(/<fence_event\b[^>]*>/g)].map((m) => ({ action: /\baction="([^"]*)"/.exec(m[0])?.[1] ?? '', status: /\bstatus="([^"]*)"/.exec(m[0])?.[1] ?? '' }));
}

/** Waits until `on` has fenced `target` successfully; returns when that was first seen. */
async function fenced(on: string, target: string, timeoutMs: number): Promise<number> {
  await until(`${target} fenced by ${on}`, async () => ((await fenceEvents(on, target)).some((e) => e.status === 'success') ? true : undefined), timeoutMs);
  return Date.now();
}

/** Whether the bed node's container runs (the hypervisor powers fenced nodes off). */
async function containerRunning(name: string): Promise<boolean> {
  const { execFile } = await import('node:child_process');
  const out = await new Promise<string>((resolve, reject) =>
    execFile('docker', ['inspect', '-f', '{{.State.Running}}', bed.node(name).containerId], (e, o) => (e ? reject(e) : resolve(o))),
  );
  return out.trim() === 'true';
}

/**
 * Both nodes online and both DRBD resources Connected and UpToDate on both
 * nodes, three times in a row 2 s apart: a resync is decided only after the
 * connection's handshake, and a node that comes back can show UpToDate for a
 * moment before it becomes the resync's target (seen: its peer was then
 * frozen while it still was Inconsistent, and it rightly could not be promoted).
 */
async function rejoined(on: string): Promise<true | undefined> {
  const st = await status(on);
  if (st.online.length !== 2) return undefined;
  for (let i = 0; i < 3; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 2000));
    for (const n of NODES) {
      for (const r of ['mysql', 'kopano']) {
        const [d, c] = await Promise.all([nodes.try(n, `drbdadm dstate ${r}`), nodes.try(n, `drbdadm cstate ${r}`)]);
        if (d.out !== 'UpToDate/UpToDate' || c.out !== 'Connected') return undefined;
      }
    }
  }
  return true;
}

async function savePlan(name: string): Promise<string> {
  const saved = join(dir, name);
  const p = await cli(['plan', inventory, PLAYBOOK, '-o', saved]);
  expect(p.code, p.stdout + p.stderr).toBe(0);
  return saved;
}

/** apply --plan of a plan made before a change by hand: refused as stale, exit 4, nothing applied. */
async function expectStale(saved: string, what: RegExp): Promise<void> {
  const a = await cli(['apply', '--plan', saved, '--json']);
  expect(a.code, a.stdout + a.stderr).toBe(4);
  expect(a.stderr).toMatch(/stale; nothing was changed/);
  expect(a.stderr).toMatch(what);
}

describe('playbooks/kopano-drbd.yaml on two fresh test-bed nodes, other names, primary second, a sudo user with a password', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: NODES, networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '512M', hypervisor: { password: fencePassword } });
    dir = await mkdtemp(join(tmpdir(), 'ha-kopano-'));
    await requireSudoPassword(bed, sudoPassword);
    // fenced as in production: fence_virsh through the bed's hypervisor; a fenced node stays off
    const fencing = { hypervisor: bed.hypervisor!, password: fencePassword, action: 'off' as const, timeout: STONITH_TIMEOUT };
    ({
      path: inventory,
      mysqlIp,
      kopanoIp,
      authkey,
    } = await writeKopanoInventory(bed, dir, PLAYBOOK, { primary: PRIMARY, sudoPasswordEnv: SUDO_ENV, fencing, mysqlSyncRate: MYSQL_SYNC_RATE }));
    nodes = new Nodes(bed);
    await nodes.connectAll();
    // the hypervisor's host keys, as an operator records them before fencing through it
    await recordHypervisorKeys(nodes, bed, NODES);
  });

  afterAll(async () => {
    await nodes?.close();
    await bed?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('plans on the fresh nodes with nothing refused; fenced, so nothing is called UNSAFE', async () => {
    const r = await cli(['plan', inventory, PLAYBOOK, '--json']);
    expect(r.code, r.stderr).toBe(0);
    plan = json<PlanDoc>(r);
    expect(plan.nodes.map((n) => n.name)).toEqual(NODES);
    for (const n of plan.nodes) {
      expect(n.error).toBeUndefined();
      for (const s of n.steps) expect(['ok', 'change', 'pending'], `${n.name}/${s.id}: ${s.status} ${s.reason ?? ''}`).toContain(s.status);
    }
    expect(planKeys(plan, ['change', 'pending'])).toEqual(
      expect.arrayContaining([`${PRIMARY}/pacemaker-config`, 'mx-east/corosync', 'mx-west/corosync', `${PRIMARY}/mariadb-datadir`]),
    );
    console.log(
      `fresh nodes: ${planKeys(plan, ['pending']).length} of ${planKeys(plan, ['ok', 'change', 'pending', 'refused', 'error']).length} (node, step) pairs known after apply`,
    );
    const human = await cli(['plan', inventory, PLAYBOOK]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout + human.stderr).not.toMatch(/UNSAFE/);
    expect(human.stdout + human.stderr + r.stdout).not.toContain(authkey);
    expect(human.stdout + human.stderr + r.stdout).not.toContain(fencePassword);
  }, 120_000);

  it('applies it in one run, through a plan saved on the fresh nodes (apply --plan)', async () => {
    const saved = await savePlan('fresh-plan.json');
    const r = await cli(['apply', '--plan', saved, '--json']);
    report = convergedApply(r);
    expect(report.outcome).toBe('changed');
    expect(r.stdout + r.stderr).not.toContain(authkey);
  }, 480_000);

  it('both nodes are online in one cluster; every resource is Started on one node, DRBD Promoted there, apache on both', async () => {
    const s = await until(
      'every resource Started on one node',
      async () => {
        const st = await status(PRIMARY);
        return activeNode(st, GROUPED, PROMOTABLE, NODES) ? st : undefined;
      },
      60_000,
    );
    expect(s.online).toEqual([...NODES].sort());
    expect(s.offline).toEqual([]);
    active = activeNode(s, GROUPED, PROMOTABLE, NODES)!;
    for (const id of PROMOTABLE) {
      expect(
        s.resources
          .filter((r) => r.id === id)
          .map((r) => `${r.role}@${r.node}`)
          .sort(),
      ).toEqual([`Promoted@${active}`, `Unpromoted@${peerOf(active)}`].sort());
    }
    expect(
      s.resources
        .filter((r) => r.id === 'apache')
        .map((r) => `${r.role}@${r.node}`)
        .sort(),
    ).toEqual(NODES.map((n) => `Started@${n}`).sort());
    expect(s.resources.filter((r) => r.failed)).toEqual([]);
    // one cluster: the same view from the other node
    expect(activeNode(await status(peerOf(PRIMARY)), GROUPED, PROMOTABLE, NODES)).toBe(active);
  }, 90_000);

  it("crmsh is not installed on either node: the CIB was committed with Pacemaker's own tools (cibadmin, crm_diff)", async () => {
    for (const n of NODES) {
      expect((await nodes.try(n, 'command -v crm')).code, `crm on ${n}`).not.toBe(0);
      expect((await nodes.try(n, "dpkg-query -W -f='${Status}' crmsh")).out, `crmsh on ${n}`).not.toMatch(/install ok installed/);
    }
    // what was committed: the configuration as XML, holding the declared objects
    const record = await nodes.sh(PRIMARY, 'head -c 200000 /var/lib/pacemaker/ha-provision-configuration.xml');
    expect(record).toMatch(/^<configuration>/);
    for (const id of [...GROUPED, ...PROMOTABLE]) expect(record).toContain(`id="${id}"`);
  }, 60_000);

  it('a plan saved on the converged cluster is applied at once: nothing to do, exit 0', async () => {
    converged = { path: await savePlan('converged-plan.json'), at: Date.now() };
    const a = await cli(['apply', '--plan', converged.path, '--json']);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    const r = json<ApplyReport>(a);
    expect(applyKeys(r, 'changed')).toEqual([]);
    expect(r.steps.filter((s) => s.outcome !== 'ok')).toEqual([]);
  }, 180_000);

  it('both DRBD resources are UpToDate on both nodes, Primary on the active one; its file systems are mounted there', async () => {
    for (const name of NODES) {
      for (const res of ['mysql', 'kopano']) {
        expect(await nodes.sh(name, `drbdadm dstate ${res}`)).toBe('UpToDate/UpToDate');
        expect(await nodes.sh(name, `drbdadm role ${res}`)).toBe(name === active ? 'Primary' : 'Secondary');
      }
    }
    expect(await nodes.sh(active, 'findmnt -n -o SOURCE,FSTYPE,OPTIONS /var/lib/mysql')).toMatch(/^\/dev\/drbd0\s+ext4\s+\S*noatime/);
    expect(await nodes.sh(active, 'findmnt -n -o SOURCE,FSTYPE /var/lib/kopano')).toMatch(/^\/dev\/drbd1\s+ext4$/);
    expect((await nodes.try(peerOf(active), 'findmnt /var/lib/mysql')).code).toBe(1);
    // MariaDB runs on the replicated disk
    expect(await nodes.sh(active, 'mariadb -N -e "SELECT @@datadir"')).toMatch(/^\/var\/lib\/mysql\/?$/);
  });

  it('the cluster IPs are on the active node and answer from the peer (MariaDB on the mysql IP, Apache on the kopano IP)', async () => {
    const addrs = await nodes.sh(active, 'ip -o -4 addr show dev eth0');
    expect(addrs).toContain(`inet ${mysqlIp}/32`);
    expect(addrs).toContain(`inet ${kopanoIp}/32`);
    const peer = peerOf(active);
    expect(await nodes.sh(peer, 'ip -o -4 addr show dev eth0')).not.toContain(mysqlIp);
    expect((await nodes.try(peer, `nc -z -w 3 ${mysqlIp} 3306`)).code).toBe(0);
    expect(await nodes.sh(peer, `curl -s -o /dev/null -w '%{http_code}' http://${kopanoIp}/`)).toBe('200');
    expect(await nodes.sh(peer, `ping -c 1 -W 2 ${kopanoIp} >/dev/null && echo up`)).toBe('up');
  });

  it('the plan listed every (node, step) apply changed, and the changes it knew of were made', () => {
    const changed = applyKeys(report, 'changed');
    const planned = planKeys(plan, ['change', 'pending']);
    expect(changed.filter((k) => !planned.includes(k))).toEqual([]);
    expect(planKeys(plan, ['change']).filter((k) => !changed.includes(k))).toEqual([]);
    expect(changed).toEqual(
      // corosync-start configures and starts the cluster stack; the later step corosync then only finds both nodes online
      expect.arrayContaining([
        `${PRIMARY}/pacemaker-config`,
        'mx-east/corosync-start',
        'mx-west/corosync-start',
        `${PRIMARY}/mariadb-datadir`,
        'mx-east/packages',
        'mx-west/packages',
      ]),
    );
  });

  it('a second apply changes nothing, and a plan then is empty', async () => {
    const r = await cli(['apply', inventory, PLAYBOOK, '--json']);
    const second = json<ApplyReport>(r);
    expect(r.code, r.stderr).toBe(0);
    expect(applyKeys(second, 'changed')).toEqual([]);
    expect(second.steps.filter((s) => s.outcome !== 'ok')).toEqual([]);
    const p = await cli(['plan', inventory, PLAYBOOK, '--detailed-exitcode']);
    expect(p.code, p.stdout + p.stderr).toBe(0);
  }, 180_000);

  it('status --json: healthy (exit 0), both nodes online, both DRBD resources UpToDate/Connected on both, the groups on the active node, drift 0', async () => {
    // the cluster may still settle (a monitor, a resync after the restarts): ask again until healthy
    const s = await until(
      'status healthy',
      async () => {
        const r = await cli(['status', inventory, '--json']);
        return r.code === 0 ? { r, s: json<StatusDoc>(r) } : undefined;
      },
      90_000,
    );
    const st = s.s;
    expect(st.verdict, s.r.stdout).toBe('healthy');
    expect(st.reasons).toEqual([]);
    expect(st.nodes.map((n) => [n.name, n.reachable, n.pacemaker, n.member])).toEqual(NODES.map((n) => [n, true, 'online', true]));
    expect(st.quorum).toMatchObject({ quorate: true, totalVotes: 2, expectedVotes: 2 });
    expect(st.drbd.map((d) => d.name).sort()).toEqual(['kopano', 'mysql']);
    for (const d of st.drbd) {
      for (const n of d.nodes) {
        expect(n.disk, `${d.name} on ${n.node}`).toBe('UpToDate');
        expect(n.role).toBe(n.node === active ? 'Primary' : 'Secondary');
        expect(n.peers.map((p) => [p.peer, p.connection, p.replication, p.peerDisk])).toEqual([[peerOf(n.node), 'Connected', 'Established', 'UpToDate']]);
      }
    }
    for (const g of ['mysql', 'kopano'])
      expect(
        st.resources.find((r) => r.id === g),
        g,
      ).toMatchObject({ kind: 'group', nodes: [active] });
    expect(st.drift).toEqual(expect.objectContaining({ state: 'planned', changes: 0, pending: 0, refused: 0, errors: 0 }));
    expect(st.failedActions).toEqual([]);
    console.log(`status: healthy in ${st.durationMs} ms (one look, ${st.drift.state === 'planned' ? st.drift.pairs : '?'} (node, step) pairs planned)`);
  }, 120_000);

  it('status (text): says HEALTHY, each node ok, online, a member, quorate; no drift', async () => {
    const r = await cli(['status', inventory]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cluster kopano: HEALTHY/);
    for (const n of NODES) expect(r.stdout).toMatch(new RegExp(`^${n}\\s+ok\\s+online\\s+member\\s+yes`, 'm'));
    expect(r.stdout).toMatch(/drift: none/);
  }, 60_000);

  it('the same saved plan 60 s later is still accepted (timestamps and counters are not state): nothing to do, exit 0', async () => {
    const wait = converged.at + 60_000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const a = await cli(['apply', '--plan', converged.path, '--json']);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(applyKeys(json<ApplyReport>(a), 'changed')).toEqual([]);
  }, 240_000);

  it('a saved plan is refused (exit 4, nothing changed) after a file is edited by hand', async () => {
    const saved = await savePlan('before-file-edit.json');
    const cnf = '/etc/mysql/mariadb.conf.d/50-server.cnf';
    await nodes.sh(PRIMARY, `sed -i 's/^bind-address.*/bind-address = 127.0.0.1/' ${cnf}`);
    await expectStale(saved, /mariadb-bind-address on mx-west: the node changed since the plan was made/);
    expect(await nodes.sh(PRIMARY, `grep '^bind-address' ${cnf}`)).toBe('bind-address = 127.0.0.1');
    const a = await cli(['apply', inventory, PLAYBOOK]);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(await nodes.sh(PRIMARY, `grep '^bind-address' ${cnf}`)).toMatch(new RegExp(`^bind-address\\s*= ${mysqlIp.replace(/\./g, '\\.')}$`));
  }, 240_000);

  it('a saved plan is refused (exit 4, nothing changed) after a CIB property is edited by hand', async () => {
    const saved = await savePlan('before-cib-edit.json');
    await nodes.sh(peerOf(active), 'crm_attribute --type crm_config --name cluster-recheck-interval --update 9min');
    await expectStale(saved, /pacemaker-config on mx-west: the node changed since the plan was made/);
    expect(await property(active, 'cluster-recheck-interval')).toBe('9min');
    await nodes.sh(peerOf(active), 'crm_attribute --type crm_config --name cluster-recheck-interval --delete');
  }, 240_000);

  it('a saved plan is refused (exit 4, nothing changed) after a DRBD connection is cut; apply then reconnects it', async () => {
    const saved = await savePlan('before-disconnect.json');
    const passive = peerOf(active);
    await nodes.sh(passive, 'drbdadm disconnect kopano');
    await expectStale(saved, /up-kopano on mx-(east|west): the node changed since the plan was made/);
    expect(await nodes.sh(passive, 'drbdadm cstate kopano')).toMatch(/StandAlone/);
    const a = await cli(['apply', inventory, PLAYBOOK]);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    await until('kopano connected and UpToDate again', async () => ((await nodes.try(passive, 'drbdadm dstate kopano')).out === 'UpToDate/UpToDate' ? true : undefined), 60_000);
  }, 240_000);

  it('drift: a property changed by hand shows in the plan, and apply brings it back', async () => {
    await nodes.sh(active, 'crm_attribute --type crm_config --name stonith-timeout --update 33s');
    const r = await cli(['plan', inventory, PLAYBOOK, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const p = json<PlanDoc>(r);
    expect(planKeys(p, ['change'])).toEqual([`${PRIMARY}/pacemaker-config`]);
    const step = p.nodes.find((n) => n.name === PRIMARY)!.steps.find((s) => s.id === 'pacemaker-config')!;
    expect(JSON.stringify(step)).toMatch(/stonith-timeout/);
    const a = await cli(['apply', inventory, PLAYBOOK]);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(await property(active, 'stonith-timeout')).toBe(STONITH_TIMEOUT);
  }, 180_000);

  it('epoch: a CIB change made between a saved plan and apply --plan is not reverted (nothing committed)', async () => {
    await nodes.sh(active, 'crm_attribute --type crm_config --name stonith-timeout --update 33s');
    const saved = join(dir, 'plan.json');
    const p = await cli(['plan', inventory, PLAYBOOK, '-o', saved]);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    expect(await readFile(saved, 'utf8')).toMatch(/pacemaker-config/);
    // the concurrent change: another administrator, after the plan
    await nodes.sh(peerOf(active), 'crm_attribute --type crm_config --name cluster-recheck-interval --update 7min');
    const a = await cli(['apply', '--plan', saved]);
    expect(a.code, a.stdout + a.stderr).toBe(4);
    expect(a.stdout + a.stderr).toMatch(/stale/i);
    expect(await property(active, 'cluster-recheck-interval')).toBe('7min');
    expect(await property(active, 'stonith-timeout')).toBe('33s');
    // a fresh apply converges and keeps the other administrator's (undeclared) change
    const again = await cli(['apply', inventory, PLAYBOOK]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(await property(active, 'stonith-timeout')).toBe(STONITH_TIMEOUT);
    expect(await property(active, 'cluster-recheck-interval')).toBe('7min');
  }, 240_000);

  it('11.7 as a drill: drill --resource-failure mysqld kills MariaDB (SIGKILL); Pacemaker restarts it (new PID, a failcount), the marker reads back', async () => {
    const before = Number(await nodes.sh(active, 'systemctl show -p MainPID --value mariadb'));
    expect(before).toBeGreaterThan(0);
    const r = await cli(['drill', inventory, '--resource-failure', 'mysqld', '--yes', '--json']);
    const d = json<DrillReport>(r);
    console.log(`11.7 drill:\n${renderDrill(d)}`);
    expect(r.code, r.stderr + JSON.stringify(d.reasons)).toBe(0);
    expect(d.verdict).toBe('passed');
    expect(d.drill).toMatchObject({ kind: 'resource-failure', resource: 'mysqld', agent: 'systemd:mariadb', node: active, pid: before });
    expect(d.pid!.before).toBe(before);
    expect(d.pid!.after).toBeGreaterThan(0);
    expect(d.pid!.after).not.toBe(before);
    // Pacemaker saw the failure (it, not systemd, restarted it); the drill cleaned the failcount up after
    expect(d.failcounts!.length).toBeGreaterThan(0);
    expect(d.services.find((x) => x.id === 'mysql')).toMatchObject({ before: active, after: active, affected: true });
    expect(
      d.markers
        .filter((m) => m.ok)
        .map((m) => m.file)
        .sort(),
    ).toEqual(['/var/lib/kopano/.ha-provision-drill', '/var/lib/mysql/.ha-provision-drill'].sort());
    expect(Number(await nodes.sh(active, 'systemctl show -p MainPID --value mariadb'))).toBe(d.pid!.after);
    expect(await nodes.sh(active, 'mariadb -N -e "SELECT 1"')).toBe('1');
  }, 400_000);

  it('11.6: the active node hard-stopped, everything starts on the other, with the data written before', async () => {
    const mark = `written-before-stop-${Date.now()}`;
    await nodes.sh(active, `mariadb -e "CREATE DATABASE IF NOT EXISTS ha; CREATE TABLE IF NOT EXISTS ha.t (v VARCHAR(64)); INSERT INTO ha.t VALUES ('${mark}')"`);
    await nodes.sh(active, `echo ${mark} > /var/lib/kopano/mark && sync -f /var/lib/kopano/mark`);
    const survivor = peerOf(active);
    const t0 = Date.now();
    await bed.node(active).kill();
    // fenced: the survivor makes sure (fence_virsh off through the hypervisor) before it takes over
    const tFenced = await fenced(survivor, active, 120_000);
    const s = await until(
      `everything Started on ${survivor}`,
      async () => {
        const st = await status(survivor);
        return activeNode(st, GROUPED, PROMOTABLE, [survivor]) === survivor ? st : undefined;
      },
      150_000,
    );
    const seconds = (Date.now() - t0) / 1000;
    expect(await fenceEvents(survivor, active)).toContainEqual({ action: 'off', status: 'success' });
    expect(s.online).toEqual([survivor]);
    expect(await nodes.sh(survivor, 'drbdadm role mysql')).toBe('Primary');
    expect(await nodes.sh(survivor, `mariadb -N -e "SELECT v FROM ha.t WHERE v='${mark}'"`)).toBe(mark);
    expect(await nodes.sh(survivor, 'cat /var/lib/kopano/mark')).toBe(mark);
    expect(await nodes.sh(survivor, 'ip -o -4 addr show dev eth0')).toContain(`inet ${mysqlIp}/32`);
    console.log(`11.6: ${active} fenced ${((tFenced - t0) / 1000).toFixed(1)} s after its hard stop; everything Started on ${survivor} ${seconds.toFixed(1)} s after the stop`);
  }, 200_000);

  it('status after the hard stop: degraded (exit 8), naming the node that does not answer', async () => {
    const stopped = active;
    const survivor = peerOf(stopped);
    const r = await until(
      'status degraded without the stopped node',
      async () => {
        const x = await cli(['status', inventory, '--json']);
        return x.code === 8 ? x : undefined;
      },
      90_000,
    );
    const st = json<StatusDoc>(r);
    expect(st.verdict).toBe('degraded');
    expect(st.nodes.find((n) => n.name === stopped)).toMatchObject({ reachable: false });
    expect(st.nodes.find((n) => n.name === survivor)).toMatchObject({ reachable: true, pacemaker: 'online' });
    expect(st.reasons.some((x) => x.startsWith(`${stopped}: unreachable`))).toBe(true);
    for (const g of ['mysql', 'kopano']) expect(st.resources.find((x) => x.id === g)?.nodes).toEqual([survivor]);
    const text = await cli(['status', inventory]);
    expect(text.code).toBe(8);
    expect(text.stdout).toMatch(/cluster kopano: DEGRADED/);
    expect(text.stdout).toMatch(new RegExp(`^${stopped}\\s+UNREACHABLE`, 'm'));
  }, 150_000);

  it('the fenced node powered on again (as after a repair): it rejoins, DRBD resyncs both resources (status: degraded, exit 8, with the progress), the services stay where they run', async () => {
    const back = active;
    const survivor = peerOf(back);
    expect(await containerRunning(back)).toBe(false);
    await bed.node(back).start();
    await nodes.connect(back);
    await followPorts(inventory, bed);
    const during = await until(
      'status during the resync of mysql',
      async () => {
        const x = await cli(['status', inventory, '--json']);
        const d = json<StatusDoc>(x);
        return x.code === 8 && d.drbd.find((r) => r.name === 'mysql')?.sync ? { x, d } : undefined;
      },
      120_000,
    );
    expect(during.d.verdict).toBe('degraded');
    const sync = during.d.drbd.find((r) => r.name === 'mysql')!.sync!;
    expect(sync.done).toBeGreaterThanOrEqual(0);
    expect(sync.done).toBeLessThan(100);
    expect(
      during.d.reasons.some((r) => new RegExp(`^drbd mysql on ${survivor}: SyncSource to ${back}( \\(\\d+\\.\\d% done\\))?$`).test(r)),
      during.d.reasons.join('; '),
    ).toBe(true);
    const text = await cli(['status', inventory]);
    console.log(`status during the resync: ${sync.done.toFixed(1)}% done${sync.etaSeconds !== undefined ? `, eta ${sync.etaSeconds} s` : ''}\n${text.stdout}`);
    await until(`${back} rejoined, DRBD UpToDate on both`, () => rejoined(survivor), 240_000);
    expect(activeNode(await status(survivor), GROUPED, PROMOTABLE, NODES)).toBe(survivor);
    active = survivor;
  }, 300_000);

  // corosync stopped with SIGSTOP, not the container frozen: killing a frozen
  // container thaws it first, and for that moment its DRBD stand-in ran and
  // reconnected (docker/hypervisor/README.md), which a real power cut never allows
  it('a node whose cluster stack hangs (corosync stopped with SIGSTOP) is fenced by its peer, which then runs everything with the data written before', async () => {
    const hung = active;
    const peer = peerOf(hung);
    const mark = `written-before-hang-${Date.now()}`;
    await nodes.sh(hung, `mariadb -e "INSERT INTO ha.t VALUES ('${mark}')"`);
    await nodes.sh(hung, `echo ${mark} > /var/lib/kopano/mark && sync -f /var/lib/kopano/mark`);
    const t0 = Date.now();
    await nodes.sh(hung, 'pkill -STOP -x corosync');
    const tFenced = await fenced(peer, hung, 120_000);
    // powered off for real: the hypervisor killed the hung node's container
    expect(await containerRunning(hung)).toBe(false);
    await until(`everything Started on ${peer}`, async () => (activeNode(await status(peer), GROUPED, PROMOTABLE, [peer]) === peer ? true : undefined), 150_000);
    const tRunning = Date.now();
    expect(await nodes.sh(peer, `mariadb -N -e "SELECT v FROM ha.t WHERE v='${mark}'"`)).toBe(mark);
    expect(await nodes.sh(peer, 'cat /var/lib/kopano/mark')).toBe(mark);
    console.log(
      `hang: ${hung}'s corosync stopped, fenced by ${peer} ${((tFenced - t0) / 1000).toFixed(1)} s later; everything Started on ${peer} ${((tRunning - tFenced) / 1000).toFixed(1)} s after the fencing`,
    );
    active = peer;
  }, 300_000);

  it('the hung node back: it rejoins, DRBD resyncs; status shows both nodes online, the devices, and the last fencing', async () => {
    const back = peerOf(active);
    await bed.node(back).start();
    await nodes.connect(back);
    await followPorts(inventory, bed);
    await until(`${back} rejoined, DRBD UpToDate on both`, () => rejoined(active), 240_000);
    const r = await cli(['status', inventory, '--json']);
    const st = json<StatusDoc & { fencing: { enabled: boolean; devices: { id: string }[]; last: { action: string; target: string; status: string } | null } }>(r);
    // (degraded or healthy: the failcounts the drills left are shown until cleaned up)
    expect(st.verdict, st.reasons.join('; ')).not.toBe('down');
    for (const n of NODES) expect(st.nodes.find((x) => x.name === n)).toMatchObject({ reachable: true, pacemaker: 'online' });
    expect(st.reasons.filter((x) => /unreachable|offline|UNCLEAN/i.test(x))).toEqual([]);
    expect(st.fencing.enabled).toBe(true);
    expect(st.fencing.devices.map((d) => d.id).sort()).toEqual(NODES.map((n) => `fence_${n.replace(/-/g, '_')}`).sort());
    expect(st.fencing.last).toMatchObject({ action: 'off', target: back, status: 'success' });
    console.log(`after the hang: status ${st.verdict}${st.reasons.length ? ` (${st.reasons.join('; ')})` : ''}`);
  }, 300_000);

  it('drill --node-failure on the active node (through sudo): fenced with a reboot, everything runs on the other node with the marker written before; the node comes back', async () => {
    const victim = active;
    const survivor = peerOf(victim);
    // the drills and the hangs above left failcounts: a drill starts from a healthy cluster
    await nodes.sh(survivor, 'crm_resource --cleanup');
    await until('status healthy', async () => ((await cli(['status', inventory])).code === 0 ? true : undefined), 120_000);
    await slowClusterBoot(nodes, NODES);
    // the cluster's action is off; the drill reboots, so that the node comes back by itself
    const r = await cli(['drill', inventory, '--node-failure', victim, '--action', 'reboot', '--yes', '--json', '--timeout', '280']);
    const d = json<DrillReport>(r);
    console.log(`node-failure drill:\n${renderDrill(d)}`);
    expect(r.code, r.stderr + JSON.stringify(d.reasons)).toBe(0);
    expect(d.verdict).toBe('passed');
    expect(d.drill).toMatchObject({ kind: 'node-failure', node: victim, method: 'fence', action: 'reboot', from: survivor });
    expect(d.fenced).toMatchObject({ target: victim, action: 'reboot', status: 'success' });
    for (const g of ['mysql', 'kopano'])
      expect(
        d.timeline.some((e) => e.event === 'service-running' && e.detail === `${g} runs on ${survivor}`),
        JSON.stringify(d.timeline),
      ).toBe(true);
    expect(
      d.markers
        .filter((m) => m.ok && m.node === survivor)
        .map((m) => m.file)
        .sort(),
    ).toEqual(['/var/lib/kopano/.ha-provision-drill', '/var/lib/mysql/.ha-provision-drill'].sort());
    expect(d.nodeBack).toBe(true);
    await bed.node(victim).started();
    await nodes.connect(victim);
    await followPorts(inventory, bed);
    await until(`${victim} rejoined, DRBD UpToDate on both`, () => rejoined(survivor), 240_000);
    active = activeNode(await status(survivor), GROUPED, PROMOTABLE, NODES)!;
    expect(active).toBeDefined();
  }, 500_000);

  it('a fence device with a wrong password: apply fails naming the devices; a node that then fails is not taken over (no split brain) and the failed fencing shows', async () => {
    // the services on the node that is not the primary: crm-configure runs on the primary, which must stay up for the repair
    if (active === PRIMARY) {
      await nodes.sh(PRIMARY, `crm_attribute --type nodes --node ${PRIMARY} --name standby --update on`);
      await until(
        `everything on ${peerOf(PRIMARY)}`,
        async () => (activeNode(await status(PRIMARY), GROUPED, PROMOTABLE, [peerOf(PRIMARY)]) === peerOf(PRIMARY) ? true : undefined),
        150_000,
      );
      await nodes.sh(PRIMARY, `crm_attribute --type nodes --node ${PRIMARY} --name standby --update off`);
      active = peerOf(PRIMARY);
    }
    const victim = active;
    await writeFile(join(dir, 'fence-password'), 'wrong-password\n', { mode: 0o600 });
    const bad = await cli(['apply', inventory, PLAYBOOK, '--json']);
    expect(bad.code, bad.stderr).toBe(1);
    const badReport = json<ApplyReport>(bad);
    const failedStep = badReport.steps.find((x) => x.step === 'pacemaker-config')!;
    expect(
      failedStep.outcome,
      JSON.stringify(
        badReport.steps.filter((x) => x.outcome !== 'ok'),
        null,
        2,
      ),
    ).toBe('failed');
    expect(failedStep.message).toMatch(/fence devices cannot act: fence_mx_(east|west) failed/);
    // a node fails while its peer cannot fence it: the peer must not take over
    const t0 = Date.now();
    await bed.node(victim).kill();
    for (let i = 0; i < 6; i++) {
      const st = await status(PRIMARY);
      expect(st.resources.filter((r) => r.id === 'mysqld' || r.id === 'kopano-server').map((r) => r.node)).not.toContain(PRIMARY);
      expect((await nodes.try(PRIMARY, 'drbdadm role mysql')).out).not.toBe('Primary');
      await new Promise((r) => setTimeout(r, 5000));
    }
    const waited = (Date.now() - t0) / 1000;
    // visible: the devices stopped after their failed starts, the node not fenced (UNCLEAN in crm_mon)
    const shown = json<StatusDoc & { fencing: { devices: { id: string; nodes: string[] }[] }; failedActions: { op: string }[] }>(await cli(['status', inventory, '--json']));
    expect(shown.verdict).not.toBe('healthy');
    expect(shown.fencing.devices.length).toBe(2);
    for (const d of shown.fencing.devices) expect(d.nodes, d.id).toEqual([]);
    expect((shown.failedActions as { op: string }[]).map((f) => f.op).filter((op) => /^fence_mx_/.test(op)).length).toBeGreaterThan(0);
    expect(await nodes.sh(PRIMARY, 'crm_mon -1')).toMatch(new RegExp(`${victim}: UNCLEAN|UNCLEAN.*${victim}|${victim}.*UNCLEAN`));
    // repaired by hand as an operator would: the node back (it rejoins; nothing was promoted
    // elsewhere, so nothing diverged), then the right password applied
    await bed.node(victim).start();
    await nodes.connect(victim);
    await followPorts(inventory, bed);
    await until(`${victim} rejoined, DRBD UpToDate on both`, () => rejoined(PRIMARY), 240_000);
    await writeFile(join(dir, 'fence-password'), `${fencePassword}\n`, { mode: 0o600 });
    // Twice in five runs before 2026-12-03 this apply was refused: the cluster had settled with
    // drbd_kopano Promoted on one node and mysql on the other, so the kopano group could run
    // nowhere (a refresh did not help). The playbook now colocates drbd_kopano's promotion with
    // mysql (one chain), which this case checks: the repaired cluster must converge as it is.
    const good = await cli(['apply', inventory, PLAYBOOK]);
    if (good.code !== 0) console.log(`wrong fence password: apply after the repair failed\n${await clusterDiagnostics()}`);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    const st = await status(PRIMARY);
    expect(st.resources.filter((r) => r.id.startsWith('fence_')).map((r) => [r.id, r.role, r.failed])).toEqual(
      expect.arrayContaining([
        [expect.stringMatching(/^fence_mx_/), 'Started', false],
        [expect.stringMatching(/^fence_mx_/), 'Started', false],
      ]),
    );
    console.log(`wrong fence password: ${victim} killed; ${PRIMARY} did not take over in ${waited.toFixed(0)} s (fencing failed, shown by status); repaired`);
  }, 600_000);

  it('the sudo and fence passwords appear nowhere: output, plan files, journal, run log', async () => {
    // (but in the fence password's own secret file)
    const files = (await filesUnder(dir)).filter((f) => !f.endsWith('/fence-password'));
    expect(files.some((f) => f.endsWith('.json'))).toBe(true);
    expect(files.some((f) => f.includes('state'))).toBe(true);
    for (const f of files) {
      const text = await readFile(f, 'utf8');
      expect(text.includes(sudoPassword), f).toBe(false);
      expect(text.includes(fencePassword), f).toBe(false);
    }
    expect(output.length).toBeGreaterThan(10);
    for (const o of output) {
      expect(o.includes(sudoPassword)).toBe(false);
      expect(o.includes(fencePassword)).toBe(false);
    }
  });
});
