/**
 * Issue 12.8, faults on the nodes, on two real test-bed nodes (bob primary,
 * alice; lan + replication networks) with the storage part of the Kopano
 * chapter: playbooks/storage.yaml trimmed in memory as in bed-resume.test.ts
 * (drbd-utils only, no host names, /etc/hosts or services), so its steps stay
 * the real ones. The BUILT CLI runs as a child process, plain output (no TTY).
 * One bed serves every fault, in order; between faults the storage is reset
 * (DRBD down, .res files removed, data disk zeroed; drbd-utils stay).
 *
 * Each fault hits alice (bob is the healthy node) while a run is under way,
 * at a point read from the run's journal or the nodes, never from a clock:
 *  - the package mirror unreachable from alice (apt's HTTP proxy pointed at a
 *    closed port on alice only);
 *  - alice's data disk missing (/dev/vdb moved away inside alice);
 *  - alice's sshd stopped (every sshd process) as alice's create-md starts;
 *  - alice frozen (docker pause) as its create-md starts;
 *  - alice restarted (docker stop/start) as its `drbdadm up` starts;
 *  - the replication link cut (alice's eth1 down) during the initial sync;
 *    then Ctrl-C once (the running step goes on) and again (stops at once).
 * And Ctrl-C alone: SIGINT at a step boundary, exit 3 with the resume hint.
 *
 * For each: the failure is one readable line naming the node, the step and
 * why; bob goes on as far as the playbook's barriers allow; after the repair a
 * rerun finishes (exit 0); nothing bob changed in the faulty run is changed
 * again in the rerun, and no data-destroying command ran twice on a device
 * (run logs: every change command is logged as it starts).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { bedInventory } from '../support/bed-inventory.js';
import { BedShell, BIN, ensureBuilt, readJournal, trimmedStoragePlaybook, until, type JournalEvent } from './bed-support.js';

const NODES = ['bob', 'alice'] as const;
const DROP = new Set(['hostname', 'hosts', 'drbd-off-at-boot', 'corosync-on-at-boot', 'mysqld-off-at-boot']);

let bed: Bed;
let sh: BedShell;
let dir: string;
let playbook: string;
let inventory: string;
const stateDir = () => join(dir, 'state');
const timings: string[] = [];
let repeatedTotal = 0;

const trimmedPlaybook = () => trimmedStoragePlaybook(DROP, 'storage-faults');

/** The bed's inventory (rewritten after a node restart: its published ssh port may change). */
async function writeInventory(): Promise<void> {
  const doc = await bedInventory(bed, { dir, cluster: 'kopano', primary: 'bob', vars: { data_disk: '/dev/vdb', mysql_size: '32M' }, stepTimeout: '2m' });
  // one of the two nodes may fail and the other goes on (the default, 0, stops every node at the first failure)
  (doc.settings as Record<string, unknown>).max_fail_percent = 50;
  const drbd = doc.drbd as { name: string; sync_rate: string }[];
  // mysql syncs for a few seconds (long enough to cut the link during it); kopano at once
  drbd.find((r) => r.name === 'mysql')!.sync_rate = '4M';
  drbd.find((r) => r.name === 'kopano')!.sync_rate = '100M';
  await writeFile(inventory, stringify(doc));
}

type JEvent = JournalEvent;

const journal = (): JEvent[] => readJournal(stateDir());

/** A running `apply` (the built CLI, plain output): its output, its journal events, signals. */
class Run {
  out = '';
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; ms: number }>;
  private readonly child;
  private runId: string | undefined;
  private readonly t0 = Date.now();

  constructor(args: string[] = []) {
    this.child = spawn(process.execPath, [BIN, 'apply', inventory, playbook, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d) => (this.out += d));
    this.child.stderr.on('data', (d) => (this.out += d));
    this.ended = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal, out: this.out, ms: Date.now() - this.t0 })));
  }

  events(): JEvent[] {
    const all = journal();
    this.runId ??= all.find((e) => e.type === 'run-start' && e.pid === this.child.pid)?.runId;
    return this.runId ? all.filter((e) => e.runId === this.runId) : [];
  }

  /** Resolves when `test` holds (polled every few ms); fails if the run ends first. */
  async when(what: string, test: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
    let over = false;
    void this.ended.then(() => (over = true));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await test()) return;
      if (over) throw new Error(`the run ended before ${what}:\n${this.out}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${this.out}`);
      await new Promise((r) => setTimeout(r, 3));
    }
  }

  started(node: string, step: string): boolean {
    return this.events().some((e) => e.type === 'step-start' && e.node === node && e.step === step);
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }
}

/** A whole run to its end. */
async function apply(args: string[] = []) {
  return new Run(args).ended;
}

/** node/step -> outcome of each step-result in the newest run log (the run just ended). */
function lastRunSteps(): { file: string; steps: Map<string, string> } {
  const logs = join(stateDir(), 'logs');
  // by time of the last write: two runs started in the same second have run ids (and log
  // names) in random order, since an id is the second plus a random suffix
  const file = readdirSync(logs)
    .filter((f) => f.endsWith('.log') && !f.startsWith('plan-'))
    .map((f) => ({ f, t: statSync(join(logs, f)).mtimeMs }))
    .sort((a, b) => a.t - b.t)
    .at(-1)!.f;
  const steps = new Map<string, string>();
  for (const line of readFileSync(join(logs, file), 'utf8').split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as { msg?: string; node?: string; step?: string; outcome?: string };
    if (e.msg === 'step' && e.node && e.step && e.outcome) steps.set(`${e.node}/${e.step}`, e.outcome);
  }
  return { file, steps };
}

/**
 * Data-destroying change commands in these run logs, as `node op target`, each
 * `done` when its result was logged too (it ran; any exit code), or not (the
 * command was sent and the connection died: whether it ran is for the node to say).
 */
function destructive(files: string[]): { key: string; done: boolean }[] {
  const ops: { key: string; done: boolean; sig: string }[] = [];
  for (const f of files) {
    for (const line of readFileSync(join(stateDir(), 'logs', f), 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as { msg?: string; phase?: string; node?: string; argv?: string[] };
      if (!e.argv) continue;
      const sig = `${e.node}\0${e.argv.join('\0')}`;
      if (e.msg === 'command' && e.phase === 'change') {
        const open = ops.findLast((o) => o.sig === sig && !o.done);
        if (open) open.done = true;
        continue;
      }
      if (e.msg !== 'command-start') continue;
      const a = e.argv;
      const last = a.at(-1)!;
      const add = (key: string) => ops.push({ key: `${e.node} ${key}`, done: false, sig });
      if (a[0] === 'sfdisk') add(`sfdisk ${last}`);
      else if (a[0] === 'wipefs') add(`wipefs ${last}`);
      else if (a[0] === 'dd' && a.some((x) => x.startsWith('of=/dev/'))) add(`dd ${a.find((x) => x.startsWith('of='))}`);
      else if (a[0] === 'drbdadm' && a.includes('create-md')) add(`create-md ${last}`);
      else if (a[0] === 'drbdadm' && a.includes('--force')) add(`primary-force ${last}`);
      else if (/^mkfs/.test(a[0]!)) add(`mkfs ${last}`);
    }
  }
  return ops.map(({ key, done }) => ({ key, done }));
}

/** Whether the node shows the effect of a data-destroying command (`node op target`). */
async function effectPresent(op: string): Promise<boolean> {
  const [node, kind, target] = op.split(' ') as [string, string, string];
  switch (kind) {
    case 'create-md':
      return (await sh.try(node, `drbdadm get-gi ${target}`)).code === 0;
    case 'sfdisk':
      return (await sh.try(node, `sfdisk --dump ${target}`)).code === 0;
    case 'mkfs':
      return (await sh.try(node, `dumpe2fs -h ${target === '/dev/drbd0' ? '/dev/vdb1' : '/dev/vdb2'}`)).code === 0;
    case 'primary-force':
      return !/^000000000000000[45]:/.test((await sh.try(node, `drbdadm get-gi ${target}`)).out);
    default:
      return true;
  }
}

/** The plain view's line for a failed step: exactly one, naming node and step, with a reason. */
function failureLine(out: string, node: string, step: string): string {
  const lines = out.split('\n').filter((l) => l.startsWith(`${node}: ${step}: failed`));
  expect(lines, out).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^${node}: ${step}: failed \\(.{10,}\\)$`));
  return lines[0]!;
}

/**
 * The faulty run, the repair, the rerun: the rerun finishes; bob changes
 * nothing it changed in the faulty run; no destructive command twice.
 */
async function rerunAfterRepair(faulty: { out: string; code: number | null }, label: string): Promise<void> {
  const first = lastRunSteps();
  // what the faulty run sent without seeing its result: did it run? (the node's state, once quiet)
  await quiesce();
  const unknownRan = new Map<string, boolean>();
  for (const o of destructive([first.file]).filter((x) => !x.done)) unknownRan.set(o.key, await effectPresent(o.key));
  const r = await apply();
  expect(r.code, `${label}: faulty run (exit ${faulty.code}):\n${faulty.out}\nrerun:\n${r.out}`).toBe(0);
  const second = lastRunSteps();
  expect(second.file).not.toBe(first.file);
  // a run refused before its first change (exit 7) has nothing to resume
  if (faulty.code !== 7) expect(r.out).toMatch(/resuming run \S+ \(started [^)]+\), (failed|interrupted|killed)/);
  const bobChangedTwice = [...first.steps].filter(([k, o]) => k.startsWith('bob/') && o === 'changed' && second.steps.get(k) === 'changed').map(([k]) => k);
  expect(bobChangedTwice, `${label}: faulty run:\n${faulty.out}\nrerun:\n${r.out}`).toEqual([]);
  // no data-destroying command ran twice: an op of the faulty run counts as run when its result
  // was logged, or, sent without a result, when the node shows its effect
  const before = destructive([first.file]);
  const again = destructive([second.file]).map((o) => o.key);
  const ranTwice = before.filter((o) => again.includes(o.key) && (o.done || unknownRan.get(o.key) !== false)).map((o) => o.key);
  const unsure = before.filter((o) => !o.done).map((o) => `${o.key} (${unknownRan.get(o.key) ? 'ran' : 'did not run: no effect on the node'})`);
  if (unsure.length) console.log(`${label}: sent without a result in the faulty run: ${unsure.join(', ')}`);
  repeatedTotal += ranTwice.length;
  expect(ranTwice, `${label}: faulty run ${JSON.stringify(before)}; rerun ${JSON.stringify(again)}`).toEqual([]);
  expect(again.filter((k, i) => again.indexOf(k) !== i)).toEqual([]);
  // the end state of an uninterrupted run
  for (const res of ['mysql', 'kopano']) {
    for (const n of NODES) expect(await sh.sh(n, `drbdadm cstate ${res}; drbdadm dstate ${res}`), `${label}: ${n} ${res}`).toBe('Connected\nUpToDate/UpToDate');
  }
  expect(await sh.sh('bob', 'blkid -p -s TYPE -o value /dev/drbd0; blkid -p -s TYPE -o value /dev/drbd1')).toBe('ext4\next4');
  timings.push(`${label}: rerun ${(r.ms / 1000).toFixed(1)} s`);
}

/** No command of an earlier run is still running on the nodes. */
async function quiesce(): Promise<void> {
  await until(
    'earlier commands to end',
    async () => {
      const busy = await Promise.all(NODES.map(async (n) => (await sh.try(n, "pgrep -a -x 'sfdisk|drbdadm|drbdmeta|mke2fs|mkfs.ext4|wipefs|partx|dpkg|apt-get'")).out));
      return busy.every((b) => b === '') ? true : undefined;
    },
    60_000,
  );
}

/** Both nodes back to an empty data disk and no DRBD configuration (drbd-utils stay installed). */
async function reset(): Promise<void> {
  await quiesce();
  await Promise.all(
    NODES.map(async (n) => {
      await sh.sh(n, 'if ls /etc/drbd.d/*.res >/dev/null 2>&1; then drbdadm down all; fi; rm -f /etc/drbd.d/*.res');
      await until(`${n}: DRBD stand-in daemons gone`, async () => ((await sh.try(n, 'pgrep -f "[d]rbd-standin/standin.py"')).code === 1 ? true : undefined), 15_000);
      await sh.sh(
        n,
        'for d in /dev/vdb?; do [ -b "$d" ] || continue; dd if=/dev/zero of="$d" bs=1M conv=fsync status=none 2>/dev/null; blockdev --flushbufs "$d"; done; sync; true',
      );
      await sh.sh(n, 'dd if=/dev/zero of=/dev/vdb bs=1M count=$(( $(blockdev --getsize64 /dev/vdb) >> 20 )) oflag=direct status=none && blockdev --flushbufs /dev/vdb');
      await until(`${n}: partitions gone`, async () => ((await sh.try(n, 'ls /dev/vdb?')).code !== 0 ? true : undefined), 10_000);
    }),
  );
}

const docker = (...args: string[]) =>
  new Promise<string>((resolve, reject) => {
    const p = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (c) => (c === 0 ? resolve(out.trim()) : reject(new Error(`docker ${args.join(' ')}: ${out}`))));
  });

describe('faults on a node during a run: reported in one line, the healthy node goes on, a rerun after the repair finishes', () => {
  beforeAll(async () => {
    ensureBuilt();
    bed = await startBed({ nodes: [...NODES], networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '96M' });
    dir = await mkdtemp(join(tmpdir(), 'ha-bed-faults-'));
    playbook = join(dir, 'storage-faults.yaml');
    inventory = join(dir, 'inventory.yaml');
    await writeFile(playbook, await trimmedPlaybook());
    await writeInventory();
    sh = new BedShell(bed);
    await sh.connectAll();
  }, 240_000);

  afterAll(async () => {
    console.log(`timings:\n${timings.join('\n')}\ndata-destroying commands run twice on a device: ${repeatedTotal}`);
    await sh?.close();
    await bed?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the package mirror unreachable from alice: alice’s packages step fails in one line; bob installs; after the repair a rerun finishes', async () => {
    await sh.sh('alice', `printf 'Acquire::http::Proxy "http://127.0.0.1:9/";\\n' > /etc/apt/apt.conf.d/99-mirror-unreachable`);
    let r;
    try {
      r = await apply();
    } finally {
      await sh.sh('alice', 'rm /etc/apt/apt.conf.d/99-mirror-unreachable');
    }
    timings.push(`mirror: faulty run ${(r.ms / 1000).toFixed(1)} s`);
    expect(r.code, r.out).toBe(1);
    const line = failureLine(r.out, 'alice', 'packages');
    console.log(`mirror: ${line}`);
    expect(line).toMatch(/refresh the apt package index: exit 100: .*127\.0\.0\.1:9/);
    const steps = lastRunSteps().steps;
    expect(steps.get('bob/packages')).toBe('changed');
    await rerunAfterRepair(r, 'mirror');
  }, 600_000);

  it('alice’s data disk missing: reported in one line before anything changes; after the repair a rerun finishes', async () => {
    await reset();
    await sh.sh('alice', 'mv /dev/vdb /dev/.vdb-away');
    let r;
    try {
      r = await apply();
    } finally {
      await sh.sh('alice', 'mv /dev/.vdb-away /dev/vdb');
    }
    timings.push(`disk: faulty run ${(r.ms / 1000).toFixed(1)} s`);
    expect([1, 7], r.out).toContain(r.code);
    const lines = r.out.split('\n').filter((l) => /^(error: )?alice: .*partitions/.test(l) && /\/dev\/vdb/.test(l));
    expect(lines.length, r.out).toBeGreaterThanOrEqual(1);
    console.log(`disk (exit ${r.code}): ${lines[0]}`);
    await rerunAfterRepair(r, 'disk');
  }, 600_000);

  it('alice’s sshd stopped as its create-md starts: one line; bob goes on; after sshd is back a rerun finishes', async () => {
    await reset();
    const run = new Run();
    await run.when('alice: md-mysql started', () => run.started('alice', 'md-mysql'));
    await docker('exec', bed.node('alice').containerId, 'sh', '-c', 'systemctl stop ssh.service; pkill -KILL -x sshd; true');
    let r;
    try {
      r = await run.ended;
    } finally {
      await docker('exec', bed.node('alice').containerId, 'systemctl', 'start', 'ssh.service');
    }
    timings.push(`sshd: faulty run ${(r.ms / 1000).toFixed(1)} s`);
    expect(r.code, r.out).toBe(1);
    const failed = r.out.split('\n').filter((l) => /^alice: \S+: failed \(/.test(l));
    expect(failed, r.out).toHaveLength(1);
    expect(failed[0]).toMatch(/^alice: md-(mysql|kopano): failed \(.*(refused|closed|lost|connect)/i);
    console.log(`sshd: ${failed[0]}`);
    expect(lastRunSteps().steps.get('bob/md-mysql')).toBe('changed');
    await sh.connect('alice');
    await rerunAfterRepair(r, 'sshd');
  }, 600_000);

  it('alice frozen (docker pause) as its create-md starts: one line; bob goes on; after unpause a rerun finishes', async () => {
    await reset();
    const run = new Run();
    await run.when('alice: md-mysql started', () => run.started('alice', 'md-mysql'));
    await bed.node('alice').pause();
    let r;
    try {
      r = await run.ended;
    } finally {
      await bed.node('alice').unpause();
    }
    timings.push(`pause: faulty run ${(r.ms / 1000).toFixed(1)} s`);
    expect(r.code, r.out).toBe(1);
    const failed = r.out.split('\n').filter((l) => /^alice: \S+: failed \(/.test(l));
    expect(failed, r.out).toHaveLength(1);
    console.log(`pause: ${failed[0]}`);
    expect(lastRunSteps().steps.get('bob/md-mysql')).toBe('changed');
    await sh.connect('alice');
    await quiesce();
    await rerunAfterRepair(r, 'pause');
  }, 600_000);

  it('alice restarted as its drbdadm up starts: one line; bob goes on; once alice is back a rerun finishes', async () => {
    await reset();
    const run = new Run();
    await run.when('alice: up-mysql started', () => run.started('alice', 'up-mysql'));
    await bed.node('alice').restart();
    const r = await run.ended;
    timings.push(`restart: faulty run ${(r.ms / 1000).toFixed(1)} s`);
    expect(r.code, r.out).toBe(1);
    const failed = r.out.split('\n').filter((l) => /^alice: \S+: failed \(/.test(l));
    expect(failed, r.out).toHaveLength(1);
    console.log(`restart: ${failed[0]}`);
    expect(lastRunSteps().steps.get('bob/up-mysql')).toBe('changed');
    await writeInventory(); // the restarted node's published ssh port
    await sh.connect('alice');
    await rerunAfterRepair(r, 'restart');
  }, 600_000);

  it('the replication link cut during the initial sync: bob says what it waits for; Ctrl-C lets the step run, a second Ctrl-C stops at once; after the repair a rerun finishes', async () => {
    await reset();
    const run = new Run();
    await run.when(
      'the mysql sync running',
      async () => run.started('bob', 'sync-mysql') && /replication:SyncSource/.test((await sh.try('bob', 'drbdsetup status mysql --verbose')).out),
    );
    await sh.sh('alice', 'ip link set eth1 down');
    try {
      await linkCut(run);
    } finally {
      await sh.sh('alice', 'ip link set eth1 up');
    }
  }, 600_000);

  async function linkCut(run: Run): Promise<void> {
    await run.when('bob waiting for its peer', () => /^bob: sync-mysql: waiting: .*(Connecting|connect|peer|NetworkFailure|Timeout|BrokenPipe)/im.test(run.out), 60_000);
    run.signal('SIGINT');
    await run.when('the interrupt acknowledged', () => /interrupt: finishing running steps/.test(run.out), 10_000);
    // the running step is not cut short by the first Ctrl-C
    await new Promise((r) => setTimeout(r, 2000));
    expect(run.out).not.toMatch(/^bob: sync-mysql: (failed|interrupted)/m);
    const t = Date.now();
    run.signal('SIGINT');
    const r = await run.ended;
    const stopMs = Date.now() - t;
    timings.push(`link: faulty run ${(r.ms / 1000).toFixed(1)} s, second Ctrl-C to exit ${stopMs} ms`);
    console.log(`link: exit ${r.code} ${stopMs} ms after the second Ctrl-C:\n${r.out}`);
    expect(stopMs).toBeLessThan(3000);
    expect(r.code).toBe(3);
    expect(r.out).toContain('interrupted: run the same command again to resume');
    await sh.sh('alice', 'ip link set eth1 up');
    await rerunAfterRepair(r, 'link');
  }

  it('Ctrl-C at a step boundary: exit 3 with the resume hint; the rerun finishes', async () => {
    await reset();
    const run = new Run();
    await run.when('partitions started', () => run.events().some((e) => e.type === 'step-start' && e.step === 'partitions'));
    run.signal('SIGINT');
    const r = await run.ended;
    timings.push(`ctrl-c: run ${(r.ms / 1000).toFixed(1)} s`);
    expect(r.code, r.out).toBe(3);
    expect(r.out).toContain('interrupted: run the same command again to resume');
    // stopped at a step boundary: partitions finished where it started, nothing after it started
    const steps = lastRunSteps().steps;
    for (const n of NODES) if (steps.has(`${n}/partitions`)) expect(['changed', 'ok', 'interrupted']).toContain(steps.get(`${n}/partitions`));
    expect([...steps].filter(([k, o]) => !/\/(packages|partitions)$/.test(k) && o !== 'interrupted' && o !== 'skipped')).toEqual([]);
    await rerunAfterRepair(r, 'ctrl-c');
  }, 600_000);
});
