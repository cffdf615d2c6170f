/**
 * Issue 12.9, "kill anywhere": playbooks/kopano-drbd.yaml, unchanged, on two
 * fresh test-bed nodes (bob primary, alice; lan + replication), with the
 * controller (the BUILT CLI, `node bin/ha-provision.js apply`) SIGKILLed at
 * 13 points spread over the whole run. The points are read from the run's
 * own journal (state/journal.jsonl: a step's step-start is written just
 * before its first change) and from the nodes (a process running, a sync
 * under way, the CIB holding the resources), never from a clock. One bed
 * serves all of them: each rerun goes on from where the last one was killed
 * and is itself killed at the next point; the last rerun finishes. After a
 * kill the test waits until no data-destroying command (sfdisk, drbdadm,
 * drbdmeta, mke2fs, wipefs, partx) of the killed run still runs on the nodes
 * (sshd does not kill a command whose client is gone), then samples the
 * nodes; an orphaned apt/dpkg is left to the rerun (the packages step waits
 * for it). Whether the destructive steps would wait for an orphaned mkfs or
 * create-md themselves is not tested here.
 *
 * The end state is what any correct run gives (test/cluster/kopano.test.ts
 * covers an uninterrupted run): the partition layout the playbook asks for,
 * DRBD Connected and UpToDate on both nodes with equal current generation
 * identifiers, one ext4 per DRBD device, the CIB holding exactly the
 * playbook's objects and every resource Started on one node; a further
 * apply changes nothing.
 *
 * No data-destroying command ran twice on any device, counted twice:
 *  - from the nodes' own state, sampled after every kill: once a device's
 *    partition table identifier, a DRBD device's current generation
 *    identifier (after its first sync) or a file system UUID exists, it never
 *    changes (a second sfdisk, create-md + primary --force or mkfs would);
 *  - from the run logs (state/logs/*.log, one per run, every change command
 *    logged before it is sent: `command-start`, and with its result):
 *    sfdisk writing a table, wipefs, dd of=/dev/..., drbdadm create-md,
 *    drbdadm primary --force and mkfs.* per (node, device or resource)
 *    across all runs ran at most once; one sent by a killed run without a
 *    logged result counts as run when the node showed its effect after that
 *    kill.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { bedInventory } from '../support/bed-inventory.js';
import { BedShell, BIN, cli, ensureBuilt, readJournal, ROOT, until, type JournalEvent } from '../engine/bed-support.js';
import { activeNode, lanAddress, parseStatus, writeClusterInventory } from './support.js';

const PLAYBOOK = join(ROOT, 'playbooks/kopano-drbd.yaml');
const NODES = ['bob', 'alice'] as const;
const RESOURCES = [
  { name: 'mysql', device: '/dev/drbd0', part: '/dev/vdb1' },
  { name: 'kopano', device: '/dev/drbd1', part: '/dev/vdb2' },
] as const;
const GROUPED = ['mysql_fs', 'mysql_ip', 'mysqld', 'kopano_fs', 'kopano_ip', 'kopano-server', 'kopano-spooler', 'kopano-dagent', 'kopano-monitor', 'kopano-gateway', 'kopano-ical'];
const PROMOTABLE = ['drbd_mysql', 'drbd_kopano'];

let bed: Bed;
let sh: BedShell;
let dir: string;
let inventory: string;
const stateDir = () => join(dir, 'state');

type JEvent = JournalEvent;

const journal = (): JEvent[] => readJournal(stateDir());

interface KillPoint {
  name: string;
  /** Extra CLI arguments for the run that is killed here. */
  args?: string[];
  /** On this run's journal events: the point is reached (then `node`, if any, is asked). */
  journal?: (events: JEvent[]) => boolean;
  /** Asked of the nodes once `journal` holds (or at once without it). */
  node?: () => Promise<boolean>;
}

const started = (step: string) => (ev: JEvent[]) => ev.some((e) => e.type === 'step-start' && e.step === step);
const anyNode = async (line: string) => (await Promise.all(NODES.map((n) => sh.try(n, line)))).some((r) => r.code === 0);

interface Killed {
  sent: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
}

/** Runs apply and SIGKILLs it at `p`; `false` from the trigger for the whole run means the run ended by itself. */
function killAt(p: KillPoint): Promise<Killed> {
  const child = spawn(process.execPath, [BIN, 'apply', inventory, ...(p.args ?? [])], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let sent = false;
  let busy = false;
  let runId: string | undefined;
  const timer = setInterval(() => {
    if (sent || busy) return;
    const all = journal();
    runId ??= all.find((e) => e.type === 'run-start' && e.pid === child.pid)?.runId;
    if (!runId) return;
    const mine = all.filter((e) => e.runId === runId);
    if (p.journal && !p.journal(mine)) return;
    if (!p.node) {
      sent = child.kill('SIGKILL');
      return;
    }
    busy = true;
    p.node().then(
      (go) => {
        busy = false;
        if (go && !sent) sent = child.kill('SIGKILL');
      },
      () => void (busy = false),
    );
  }, 3);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolve({ sent, code, signal, out });
    });
  });
}

/** What only a data-destroying command changes, per node and device; '' while it does not exist yet. */
async function fingerprints(): Promise<Record<string, string>> {
  const f: Record<string, string> = {};
  for (const n of NODES) {
    f[`${n} /dev/vdb label-id`] = (await sh.try(n, 'sfdisk --json /dev/vdb 2>/dev/null | sed -n \'s/.*"id": *"\\([^"]*\\)".*/\\1/p\'')).out;
    for (const r of RESOURCES) {
      // the file system of the DRBD device, read from its backing partition (internal metadata: at the end)
      f[`${n} ${r.part} ext4 UUID`] = (await sh.try(n, `[ -b ${r.part} ] && dumpe2fs -h ${r.part} 2>/dev/null | sed -n 's/^Filesystem UUID: *//p'`)).out;
      const giRun = await sh.try(n, `command -v drbdadm >/dev/null && drbdadm get-gi ${r.name} 2>/dev/null`);
      const gi = giRun.out;
      f[`${n} ${r.name} md`] = giRun.code === 0 && gi !== '' ? 'yes' : '';
      const current = gi.split(':')[0] ?? '';
      // create-md's initial UUID (4, or 5 with the primary bit) is not a sync yet
      f[`${n} ${r.name} synced current GI`] = /^[0-9A-F]{16}$/i.test(current) && !/^000000000000000[45]$/.test(current) ? gi : '';
    }
  }
  return f;
}

const history: Record<string, string>[] = [];

/** Every fingerprint keeps the first value it had (a synced resource's current UUID: kept, or moved into its history). */
function checkFingerprints(): string[] {
  const problems: string[] = [];
  const first = new Map<string, string>();
  history.forEach((snap, i) => {
    for (const [k, v] of Object.entries(snap)) {
      if (!v) continue;
      const was = first.get(k);
      if (was === undefined) first.set(k, v);
      else if (k.endsWith('GI')) {
        // same data generation: the first synced current UUID is still the current one, or the bitmap/history one
        const uuid = was.split(':')[0]!;
        if (!v.split(':').slice(0, 4).includes(uuid)) problems.push(`after kill ${i}: ${k} ${v} no longer holds ${uuid} (first seen ${was})`);
      } else if (v !== was) problems.push(`after kill ${i}: ${k} changed from ${was} to ${v}`);
    }
  });
  return problems;
}

/** The fingerprint that shows a data-destroying op's effect (`node op target`). */
function effectKey(op: string): string {
  const [node, kind, ...rest] = op.split(' ');
  const target = rest.at(-1)!;
  if (kind === 'sfdisk') return `${node} /dev/vdb label-id`;
  if (kind === 'create-md') return `${node} ${target} md`;
  if (kind === 'primary') return `${node} ${target} synced current GI`;
  if (kind === 'mkfs') return `${node} ${target === '/dev/drbd0' ? '/dev/vdb1' : '/dev/vdb2'} ext4 UUID`;
  return op;
}

/**
 * Data-destroying change commands from every run log (in run order), as
 * `node op target`, with the run's index and whether its result was logged
 * (it ran) or not (sent, then the controller was killed: whether it ran is
 * for the node to say: its effect in the fingerprints taken after that kill,
 * once the node was quiet).
 */
function destructiveFromLogs(): { runs: number; ops: { key: string; run: number; done: boolean }[] } {
  const logs = join(stateDir(), 'logs');
  const files = readdirSync(logs)
    .filter((f) => f.endsWith('.log') && !f.startsWith('plan-'))
    .sort();
  const ops: { key: string; run: number; done: boolean; sig: string }[] = [];
  files.forEach((f, run) => {
    for (const line of readFileSync(join(logs, f), 'utf8').split('\n')) {
      if (!line) continue;
      let e: { msg?: string; phase?: string; node?: string; argv?: string[] };
      try {
        e = JSON.parse(line);
      } catch {
        continue; // a line cut by SIGKILL
      }
      if (!e.argv) continue;
      const sig = `${run}\0${e.node}\0${e.argv.join('\0')}`;
      if (e.msg === 'command' && e.phase === 'change') {
        const open = ops.findLast((o) => o.sig === sig && !o.done);
        if (open) open.done = true;
        continue;
      }
      if (e.msg !== 'command-start') continue;
      const a = e.argv;
      const last = a.at(-1)!;
      const tag = (op: string, target: string) => ops.push({ key: `${e.node} ${op} ${target}`, run, done: false, sig });
      if (a[0] === 'sfdisk' && !a.some((x) => /^(--json|-J|--list|-l|--dump|-d)$/.test(x))) tag('sfdisk', last);
      else if (a[0] === 'wipefs' && a.some((x) => x === '-a' || x === '--all')) tag('wipefs', last);
      else if (a[0] === 'dd' && a.some((x) => x.startsWith('of=/dev/'))) tag('dd', a.find((x) => x.startsWith('of='))!.slice(3));
      else if (a[0] === 'drbdadm' && a.includes('create-md')) tag('create-md', last);
      else if (a[0] === 'drbdadm' && a.includes('primary') && a.includes('--force')) tag('primary --force', last);
      else if (/^mkfs|^mke2fs$/.test(a[0]!)) tag('mkfs', last);
      else if (
        a[0] === 'sh' &&
        a
          .slice(1, 3)
          .join(' ')
          .match(/mkfs|create-md|wipefs|sfdisk/)
      )
        tag('script', a.join(' ').slice(0, 80));
    }
  });
  return { runs: files.length, ops: ops.map(({ key, run, done }) => ({ key, run, done })) };
}

/** No command of a killed run still runs on the nodes (sshd does not kill them). */
async function quiesce(): Promise<void> {
  await until(
    "the killed run's data-destroying commands to end",
    async () => {
      const busy = await Promise.all(NODES.map(async (n) => (await sh.try(n, "pgrep -a -x 'sfdisk|drbdadm|drbdmeta|mke2fs|mkfs.ext4|wipefs|partx'")).out));
      return busy.every((b) => b === '') ? true : undefined;
    },
    60_000,
  );
}

const points: KillPoint[] = [
  { name: '/etc/hosts being written (the first change of the run)', journal: started('hosts') },
  { name: 'package installation (dpkg running on a node)', journal: started('packages'), node: () => anyNode('pgrep -x dpkg >/dev/null') },
  // corosync-start configures and starts the cluster stack early, before the services at boot change (the step corosync, later, only waits for the members)
  {
    name: 'the corosync restart (its configuration written)',
    journal: started('corosync-start'),
    node: () => anyNode("grep -q 'cluster_name: kopano' /etc/corosync/corosync.conf"),
  },
  {
    name: 'the services at boot and MariaDB’s configuration (the first of those steps to change)',
    journal: (ev) =>
      ev.some((e) => e.type === 'step-start' && ['drbd-off-at-boot', 'corosync-on-at-boot', 'mariadb-off-at-boot', 'apache-off-at-boot', 'mariadb-bind-address'].includes(e.step!)),
  },
  { name: 'partitioning (sfdisk)', journal: started('partitions') },
  // --limit bob: create-md runs on bob only; the kill lands after it, before alice's
  { name: 'between create-md on the two nodes (bob done, alice not)', args: ['--limit', 'bob'], journal: started('up-mysql') },
  { name: 'the initial sync, as it starts (primary --force)', journal: started('sync-mysql') },
  {
    name: 'mid-sync (a resync running, under 80% done)',
    node: async () => /replication:SyncSource[^\n]*done:([0-7]?\d\.\d+)/.test((await sh.try('bob', 'drbdsetup status all --verbose --statistics')).out),
  },
  { name: 'mkfs', journal: started('fs-mysql') },
  { name: 'between mkfs and the data copy (services handed over)', journal: started('services-to-cluster') },
  { name: 'the data copy onto the mysql file system', journal: started('mariadb-datadir') },
  { name: 'the CIB commit', journal: started('pacemaker-config') },
  {
    name: 'while the cluster settles (resources in the CIB, not all Started)',
    node: async () => {
      const r = await sh.try('bob', 'crm_mon -1 --output-as=xml');
      if (r.code !== 0 || !r.out.includes('id="drbd_mysql"')) return false;
      return activeNode(parseStatus(r.out), GROUPED, PROMOTABLE, [...NODES]) === undefined;
    },
  },
];

describe('playbooks/kopano-drbd.yaml from fresh nodes, the controller SIGKILLed at 13 points, each followed by a rerun', () => {
  beforeAll(async () => {
    ensureBuilt();
    bed = await startBed({ nodes: [...NODES], networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '512M' });
    dir = await mkdtemp(join(tmpdir(), 'ha-kill-anywhere-'));
    const inv = await bedInventory(bed, { dir, cluster: 'kopano', primary: 'bob', playbook: PLAYBOOK, stepTimeout: '5m', vars: { data_disk: '/dev/vdb', mysql_size: '300M' } });
    // slow enough resyncs to be caught while they run (300 MiB at 20 MiB/s: ~15 s)
    for (const r of inv.drbd as { sync_rate: string }[]) r.sync_rate = '20M';
    inv['vips'] = [
      { name: 'mysql_ip', ip: lanAddress(bed, 101), cidr_netmask: 32, nic: 'eth0', network: 'lan' },
      { name: 'kopano_ip', ip: lanAddress(bed, 100), cidr_netmask: 32, nic: 'eth0', network: 'lan' },
    ];
    inventory = (await writeClusterInventory(dir, inv, `# Written by test/cluster/kill-anywhere.test.ts for test bed ${bed.runId}\n`)).path;
    sh = new BedShell(bed);
    await sh.connectAll();
  }, 240_000);

  afterAll(async () => {
    await sh?.close();
    await bed?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  points.forEach((p, i) => {
    it(`kill ${i + 1}: ${p.name}`, async () => {
      const t0 = Date.now();
      const k = await killAt(p);
      expect(k.sent, `the run ended before the kill point (exit ${k.code}):\n${k.out}`).toBe(true);
      expect(k.signal).toBe('SIGKILL');
      await quiesce();
      history.push(await fingerprints());
      console.log(`kill ${i + 1} (${p.name}) after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }, 600_000);
  });

  it('the last rerun finishes; a further apply changes nothing', async () => {
    const r = await cli(['apply', inventory, '--detailed-exitcode'], dir);
    expect([0, 6], r.stdout + r.stderr).toContain(r.code);
    expect(r.stdout).toMatch(/resuming run \S+ \(started [^)]+\), killed/);
    history.push(await fingerprints());
    const again = await cli(['apply', inventory, '--detailed-exitcode'], dir);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  }, 900_000);

  it('no data-destroying command ran twice: the nodes’ own state and the run logs', () => {
    expect(history.length).toBe(points.length + 1);
    expect(checkFingerprints()).toEqual([]);
    const end = history.at(-1)!;
    for (const [k, v] of Object.entries(end)) expect(v, k).not.toBe('');
    // replicated: the same file system on both nodes
    for (const r of RESOURCES) expect(end[`bob ${r.part} ext4 UUID`]).toBe(end[`alice ${r.part} ext4 UUID`]);

    const { runs, ops: all } = destructiveFromLogs();
    const starts = journal().filter((e) => e.type === 'run-start');
    const logs = readdirSync(join(stateDir(), 'logs')).sort();
    expect(runs, `run logs: ${logs.join(' ')}; runs in the journal: ${starts.map((e) => e.runId).join(' ')}`).toBe(points.length + 2);
    // an op sent by a killed run without a logged result ran iff the node showed its effect after that kill
    const unsure = all.filter((o) => !o.done).map((o) => ({ ...o, ran: o.run < history.length && history[o.run]![effectKey(o.key)] !== '' }));
    console.log(`sent by a killed run without a logged result: ${JSON.stringify(unsure)}`);
    const ops = all.filter((o) => o.done || unsure.some((u) => u.run === o.run && u.key === o.key && u.ran)).map((o) => o.key);
    const count = new Map<string, number>();
    for (const o of ops) count.set(o, (count.get(o) ?? 0) + 1);
    const repeated = [...count].filter(([, c]) => c > 1);
    console.log(`data-destroying commands that ran, across ${runs} runs: ${JSON.stringify(Object.fromEntries(count))}; ran twice: ${repeated.length}`);
    expect(repeated).toEqual([]);
    // the ones every fresh run needs, each once
    for (const n of NODES) {
      expect(count.get(`${n} sfdisk /dev/vdb`), n).toBe(1);
      for (const r of RESOURCES) expect(count.get(`${n} create-md ${r.name}`), `${n} ${r.name}`).toBe(1);
    }
    for (const r of RESOURCES) {
      expect(count.get(`bob primary --force ${r.name}`)).toBe(1);
      expect(count.get(`bob mkfs ${r.device}`)).toBe(1);
    }
  });

  it('the end state: the playbook’s partitions, DRBD UpToDate on both with one data generation, one ext4 per device, the CIB holding exactly the playbook’s objects, everything Started on bob', async () => {
    for (const n of NODES) {
      const t = JSON.parse(await sh.sh(n, 'sfdisk --json /dev/vdb')).partitiontable;
      expect(t.label).toBe('dos');
      expect(t.partitions.map((x: { node: string; start: number; size: number; type: string }) => [x.node, x.type])).toEqual([
        ['/dev/vdb1', '83'],
        ['/dev/vdb2', '83'],
      ]);
      expect(t.partitions[0].size * 512).toBe(300 * 1024 * 1024);
      for (const r of RESOURCES) expect(await sh.sh(n, `drbdadm cstate ${r.name}; drbdadm dstate ${r.name}`)).toBe('Connected\nUpToDate/UpToDate');
    }
    for (const r of RESOURCES) {
      const [b, a] = await Promise.all(NODES.map(async (n) => (await sh.sh(n, `drbdadm get-gi ${r.name}`)).split(':')[0]));
      expect(b, r.name).toBe(a);
      expect(await sh.sh('bob', `blkid -p -s TYPE -o value ${r.device}`)).toBe('ext4');
    }
    const pb = parse(await readFile(PLAYBOOK, 'utf8'), { logLevel: 'error' }) as { steps: { id: string; with: Record<string, { id: string }[]> }[] };
    const cfg = pb.steps.find((s) => s.id === 'pacemaker-config')!.with;
    const declared = ['primitives', 'groups', 'clones', 'colocations', 'orders'].flatMap((k) => (cfg[k] ?? []).map((o) => o.id)).sort();
    const cib = await sh.sh('bob', 'cibadmin -Q --scope configuration');
    const ids = [...cib.matchAll(/<(primitive|group|clone|master|bundle|rsc_colocation|rsc_order|rsc_location|rsc_ticket) [^>]*?\bid="([^"]+)"/g)].map((m) => m[2]!).sort();
    expect(ids).toEqual(declared);
    const s = await until(
      'every resource Started on one node',
      async () => {
        const st = parseStatus(await sh.sh('bob', 'crm_mon -1 --output-as=xml'));
        return activeNode(st, GROUPED, PROMOTABLE, [...NODES]) ? st : undefined;
      },
      120_000,
    );
    expect(s.online).toEqual([...NODES].sort());
    expect(s.resources.filter((r) => r.failed)).toEqual([]);
  }, 240_000);
});
