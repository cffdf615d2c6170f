/**
 * Issue 5's refusals, on the test bed, through the built CLI: each refused
 * step stops the run before its first change (exit 7, the refusal with its
 * reason; issue 11.5: the plan already says so) and touches nothing (bytes,
 * signatures and DRBD generation identifiers compared before/after), and each documented
 * override does its job: a foreign partition table (partition, `wipe: true`),
 * a filesystem under drbd-create-md (`allow_overwrite: true`) and under mkfs
 * (`allow_overwrite: true`), mkfs on a Secondary, the initial sync with the
 * connection StandAlone, the peer's resource down or the peer stopped (the
 * step waits for the peers to connect and times out), and a peer that is
 * already UpToDate and Primary (nothing is forced).
 *
 * Issue 11.5 first: a data disk holding ext4 is refused in the plan (exit 7)
 * even after steps that change other things, and apply changes nothing at all.
 *
 * One bed for the suite; each test writes a small playbook and applies it.
 * The suite runs on DRBD 9 (refusals.test.ts) and on DRBD 8.4
 * (refusals84.test.ts: the bed's stand-in in its 8.4 personality, so
 * drbd-utils' drbdadm-84 and drbdsetup-84 command lines): the same cases,
 * with 8.4's own words where they differ: create-md without --max-peers,
 * `drbdadm role` as role/peer-role, WFConnection for a connection waiting
 * for its peer, and the one connection called "peer" (8.4 has no
 * connection names; drbdsetup-84 prints conn-name:peer).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed, type DrbdPersonality } from '../../docker/bed/testbed.js';
import { writeBedInventory } from '../support/bed-inventory.js';
import { cli, json, Nodes, until, type ApplyReport, type PlanDoc } from './support.js';

let bed: Bed;
let nodes: Nodes;
let dir: string;
let inventory: string;
let seq = 0;

const INITIAL_GI = /^000000000000000[45]:0000000000000000:/;

/** `apply --json` when the plan held a refusal no earlier step can lift (exit 7). */
interface RefusedReport {
  outcome: 'refused';
  refusals: { node: string; step: string; reason: string }[];
}

/** The reason of the refusal of step on node (the run stopped before its first change). */
function refusalOf(r: { code: number; report: ApplyReport; text: string }, node: string, step: string): string {
  expect(r.code, r.text).toBe(7);
  const report = r.report as unknown as RefusedReport;
  expect(report.outcome, r.text).toBe('refused');
  const f = report.refusals.find((x) => x.node === node && x.step === step);
  if (!f) throw new Error(`no refusal of ${node}/${step} in ${r.text}`);
  return f.reason;
}

/** Writes a playbook of these steps (YAML text, already indented as list items) and applies it. */
async function apply(stepsYaml: string): Promise<{ code: number; report: ApplyReport; text: string }> {
  const r = await cli(['apply', inventory, await playbook(stepsYaml), '--json']);
  const report = json<ApplyReport>(r);
  return { code: r.code, report, text: JSON.stringify(report, null, 2) + r.stderr };
}

async function playbook(stepsYaml: string): Promise<string> {
  const file = join(dir, `playbook-${++seq}.yaml`);
  await writeFile(file, `name: refusal-${seq}\nsteps:\n${stepsYaml}`);
  return file;
}

/**
 * A waiting step that times out: the plan shows the wait, apply's plain output
 * shows what it waited for and that it timed out (--json has no progress events).
 */
async function applyTimesOut(stepsYaml: string, waiting: string): Promise<void> {
  const file = await playbook(stepsYaml);
  const p = json<PlanDoc>(await cli(['plan', inventory, file, '--json']));
  const planned = p.nodes.find((n) => n.name === 'bob')!.steps[0]!;
  expect(planned.changes, JSON.stringify(planned)).toEqual([{ kind: 'wait', description: waiting }]);
  const r = await cli(['apply', inventory, file]);
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stdout).toContain(`bob: ${planned.id}: waiting: ${waiting}\n`);
  expect(r.stdout).toMatch(new RegExp(`bob: ${planned.id}: failed \\(step timed out after 4000 ms \\(still .*waiting for the peers to connect`));
  expect(r.stdout).not.toMatch(/primary --force/);
}

function stepOf(report: ApplyReport, node: string, step: string) {
  const s = report.steps.find((x) => x.node === node && x.step === step);
  if (!s) throw new Error(`no result for ${node}/${step} in ${JSON.stringify(report.steps)}`);
  return s;
}

/** Every exec the run made, as argv strings (none when it stopped on a refusal). */
const execs = (report: ApplyReport) => (report.steps ?? []).flatMap((s) => s.changes.flatMap((c) => (c.kind === 'exec' ? [`${s.node}: ${c.argv.join(' ')}`] : [])));

const sha = (node: string, what: string) => nodes.sh(node, `${what} | sha256sum | cut -d" " -f1`);

const partitions = (wipe: boolean, on = 'all') => `  - id: partitions
    kind: partition
    on: ${on === 'all' ? 'all' : `[${on}]`}
    with:
      disk: !ref vars.data_disk
      label: dos
      partitions: [{size: !ref vars.mysql_size}, {size: rest}]
      wipe: ${wipe}
`;

const createMd = (res: string, allow: boolean, on: string) => `  - id: md-${res}
    kind: drbd-create-md
    on: ${on}
    with:
      resource: ${res}
      allow_overwrite: ${allow}
`;

const mkfs = (device: string, allow: boolean, on: string) => `  - id: mkfs
    kind: mkfs
    on: ${on}
    with:
      device: ${device}
      fstype: ext4
      allow_overwrite: ${allow}
`;

const initialSync = (res: string, timeout: string) => `  - id: sync-${res}
    kind: drbd-initial-sync
    on: role:primary
    timeout: ${timeout}
    with:
      resource: ${res}
`;

const gi = (node: string, res: string) => nodes.sh(node, `drbdadm get-gi ${res}`);

/** The storage refusals on two bed nodes whose DRBD stand-in plays this module. */
export function describeRefusals(drbd: DrbdPersonality): void {
  const v84 = drbd === '8.4';
  /** This node's role (drbdadm-84's `role` says role/peer-role). */
  const role = async (node: string, res: string) => (await nodes.sh(node, `drbdadm role ${res}`)).split('/')[0];
  /** `drbdadm cstate` of a connection waiting for its peer. */
  const connecting = v84 ? 'WFConnection' : 'Connecting';
  /** What the tool calls the connection to alice (events2's conn-name). */
  const toAlice = v84 ? 'peer' : 'alice';
  const createMdArgv = (res: string) => (v84 ? `drbdadm create-md ${res}` : `drbdadm create-md --max-peers=7 ${res}`);

  describe(`storage refusals on the test bed (DRBD ${drbd})`, () => {
    beforeAll(async () => {
      bed = await startBed({ nodes: ['bob', 'alice'], networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '192M', drbd });
      dir = await mkdtemp(join(tmpdir(), 'ha-storage-refusals-'));
      inventory = await writeBedInventory(bed, { dir, primary: 'bob', vars: { data_disk: '/dev/vdb', mysql_size: '64M' } });
      nodes = new Nodes(bed);
      await nodes.connectAll();
      // drbd-utils and both resource files on both nodes (what the refusals need around them)
      const setup = await apply(`  - id: packages
    kind: packages
    with: {names: [drbd-utils, fdisk]}
${['mysql', 'kopano']
  .map(
    (r) => `  - id: drbd-${r}
    kind: drbd-resource
    wait_for: [packages]
    with:
      name: !ref cluster.drbd.${r}.name
      minor: !ref cluster.drbd.${r}.minor
      port: !ref cluster.drbd.${r}.port
      resync_rate: !ref cluster.drbd.${r}.sync_rate
      hosts: !ref cluster.drbd.${r}.members
`,
  )
  .join('')}`);
      expect(setup.code, setup.text).toBe(0);
    });

    afterAll(async () => {
      await nodes?.close();
      await bed?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('issue 11.5: ext4 on the data disk is refused in the plan after steps that change other things (exit 7); apply changes nothing', async () => {
      await nodes.sh('bob', 'mkfs.ext4 -q -F -L keepme /dev/vdb');
      const before = await sha('bob', 'cat /dev/vdb');
      const marker = '/etc/ha-provision-refusal-test';
      const steps = `  - id: marker
    kind: file
    with: {path: ${marker}, content: "written before the refused step\\n"}
  - id: packages
    kind: packages
    with: {names: [drbd-utils, fdisk]}
${partitions(false)}`;
      const file = await playbook(steps);
      const plan = await cli(['plan', inventory, file, '--json']);
      expect(plan.code, plan.stderr).toBe(7);
      expect(plan.stderr).toContain('the plan holds 1 refusal(s) that no earlier step can lift');
      const doc = json<PlanDoc>(plan);
      const status = (node: string, step: string) => doc.nodes.find((n) => n.name === node)!.steps.find((s) => s.id === step)!;
      // the file steps change first, but nothing they write is what the partition step reads
      expect([status('bob', 'marker').status, status('alice', 'marker').status, status('alice', 'partitions').status]).toEqual(['change', 'change', 'change']);
      expect(status('bob', 'partitions').status).toBe('refused');
      expect(status('bob', 'partitions').reason).toMatch(/^\/dev\/vdb holds a ext4 signature at offset 0x438, not the wanted table; set wipe: true to erase it$/);
      const human = await cli(['plan', inventory, file]);
      expect(human.code).toBe(7);
      expect(human.stdout).toMatch(/! partitions \[partition\] refused \(\/dev\/vdb holds a ext4 signature/);
      expect(human.stdout).toMatch(/Plan: 3 to change, 0 known after apply, \d+ ok, 1 refused, 0 error\(s\)\./);

      const journal = join(dir, 'state', 'journal.jsonl');
      const r = await apply(steps);
      expect(refusalOf(r, 'bob', 'partitions')).toContain('/dev/vdb holds a ext4 signature');
      expect(r.text).toMatch(/stopped before the first change: the plan holds 1 refusal\(s\) that no earlier step can lift \(bob: partitions\); nothing was changed/);
      for (const n of ['bob', 'alice']) expect((await nodes.try(n, `test -e ${marker}`)).code, n).not.toBe(0);
      expect(await sha('bob', 'cat /dev/vdb')).toBe(before);
      expect(await nodes.sh('bob', 'blkid -p -s LABEL -o value /dev/vdb')).toBe('keepme');
      // the journal's last run: started, read, stopped; no step started a change
      const lines = (await readFile(journal, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; runId: string; outcome?: string });
      const last = lines.filter((l) => l.runId === lines.at(-1)!.runId);
      expect(last.map((l) => l.type)).toEqual(['run-start', 'run-end']);
      expect(last.at(-1)!.outcome).toBe('refused');

      await nodes.sh('bob', 'wipefs -q -a /dev/vdb');
    });

    it('partition: a foreign GPT on the data disk is refused and left byte for byte; wipe: true replaces it', async () => {
      await nodes.sh('bob', "printf 'label: gpt\\nsize=40M\\nsize=20M\\n' | sfdisk -q --no-tell-kernel /dev/vdb");
      const before = await sha('bob', 'cat /dev/vdb');
      const r = await apply(partitions(false, 'bob'));
      expect(refusalOf(r, 'bob', 'partitions')).toMatch(/\/dev\/vdb holds a gpt partition table with 2 partition\(s\).*set wipe: true to erase it/);
      expect(execs(r.report)).toEqual([]);
      expect(await sha('bob', 'cat /dev/vdb')).toBe(before);
      expect(JSON.parse(await nodes.sh('bob', 'sfdisk --json /dev/vdb')).partitiontable.label).toBe('gpt');

      const o = await apply(partitions(true));
      expect(o.code, o.text).toBe(0);
      expect(execs(o.report)).toContain('bob: wipefs --all /dev/vdb');
      expect(execs(o.report).filter((e) => e.startsWith('alice: wipefs'))).toEqual([]); // nothing to erase there
      for (const n of ['bob', 'alice']) {
        const t = JSON.parse(await nodes.sh(n, 'sfdisk --json /dev/vdb')).partitiontable;
        expect([t.label, t.partitions.map((p: { start: number; size: number }) => [p.start, p.size])]).toEqual([
          'dos',
          [
            [2048, 64 * 2048],
            [2048 + 64 * 2048, 192 * 2048 - 2048 - 64 * 2048],
          ],
        ]);
        await until(`${n}: /dev/vdb2`, async () => ((await nodes.try(n, 'test -b /dev/vdb2')).code === 0 ? true : undefined), 10_000);
      }
    });

    it('drbd-create-md: a filesystem on the backing partition is refused and kept; allow_overwrite: true makes the metadata', async () => {
      await nodes.sh('bob', 'mkfs.ext4 -q -L keepme /dev/vdb1');
      const before = await sha('bob', 'cat /dev/vdb1');
      const r = await apply(createMd('mysql', false, '[bob]'));
      expect(refusalOf(r, 'bob', 'md-mysql')).toBe(
        '/dev/vdb1 holds ext4 filesystem labelled "keepme": create-md would ask before destroying it; set allow_overwrite: true to erase it',
      );
      expect(execs(r.report)).toEqual([]);
      expect(await sha('bob', 'cat /dev/vdb1')).toBe(before);
      expect(await nodes.sh('bob', 'blkid -p -s LABEL -o value /dev/vdb1')).toBe('keepme');
      expect((await nodes.try('bob', 'drbdadm get-gi mysql')).code).not.toBe(0);

      const o = await apply(createMd('mysql', true, 'group:storage') + createMd('kopano', false, 'group:storage'));
      expect(o.code, o.text).toBe(0);
      expect(execs(o.report)).toEqual(expect.arrayContaining(['bob: wipefs --all /dev/vdb1', `bob: ${createMdArgv('mysql')}`, `alice: ${createMdArgv('mysql')}`]));
      expect(execs(o.report).filter((e) => e.startsWith('alice: wipefs') || e.startsWith('alice: dd'))).toEqual([]);
      for (const n of ['bob', 'alice']) for (const res of ['mysql', 'kopano']) expect(await gi(n, res)).toMatch(INITIAL_GI);
      expect((await nodes.try('bob', 'blkid -p -s TYPE -o value /dev/vdb1')).out).not.toBe('ext4');
    });

    it('mkfs: a Secondary is refused; another filesystem on the Primary is refused and kept; allow_overwrite: true makes ext4', async () => {
      const up = await apply(`  - id: up-mysql
    kind: drbd-up
    with: {resource: mysql}
${initialSync('mysql', '2m').replace('  - id: sync-mysql\n', '  - id: sync-mysql\n    wait_for: [up-mysql]\n')}`);
      expect(up.code, up.text).toBe(0);
      expect(await role('bob', 'mysql')).toBe('Primary');
      await until('mysql UpToDate on both', async () => ((await nodes.sh('alice', 'drbdadm dstate mysql')) === 'UpToDate/UpToDate' ? true : undefined));

      const secondary = await apply(mkfs('/dev/drbd0', false, '[alice]'));
      expect(refusalOf(secondary, 'alice', 'mkfs')).toMatch(/\/dev\/drbd0 \(resource mysql\) is Secondary here: mkfs needs the Primary/);
      expect(await role('alice', 'mysql')).toBe('Secondary');

      await nodes.sh('bob', 'mkfs.ext3 -q -L old /dev/drbd0');
      const before = await sha('bob', 'head -c 4M /dev/drbd0');
      const r = await apply(mkfs('/dev/drbd0', false, '[bob]'));
      expect(refusalOf(r, 'bob', 'mkfs')).toBe('/dev/drbd0 holds ext3 filesystem labelled "old", not ext4; set allow_overwrite: true to erase it');
      expect(execs(r.report)).toEqual([]);
      expect(await sha('bob', 'head -c 4M /dev/drbd0')).toBe(before);
      expect(await nodes.sh('bob', 'blkid -p -s TYPE -o value /dev/drbd0')).toBe('ext3');

      const o = await apply(mkfs('/dev/drbd0', true, '[bob]'));
      expect(o.code, o.text).toBe(0);
      expect(execs(o.report)).toEqual(['bob: wipefs --all /dev/drbd0', 'bob: mkfs.ext4 /dev/drbd0']);
      expect(await nodes.sh('bob', 'blkid -p -s TYPE -o value /dev/drbd0')).toBe('ext4');
    });

    it('initial sync: a StandAlone connection is refused at once, nothing changed', async () => {
      await nodes.sh('bob', 'drbdadm up kopano && drbdadm disconnect kopano');
      expect(await nodes.sh('bob', 'drbdadm cstate kopano')).toBe('StandAlone');
      const [b, a] = [await gi('bob', 'kopano'), await gi('alice', 'kopano')];
      const r = await apply(initialSync('kopano', '30s'));
      expect(refusalOf(r, 'bob', 'sync-kopano')).toMatch(new RegExp(`kopano: connection to ${toAlice} is StandAlone .*no automatic recovery`));
      expect(execs(r.report)).toEqual([]);
      expect([await gi('bob', 'kopano'), await gi('alice', 'kopano')]).toEqual([b, a]);
      expect(await role('bob', 'kopano')).toBe('Secondary');
      await nodes.sh('bob', 'drbdadm connect kopano');
    });

    it("initial sync: the peer's resource is down -> waits for the peers to connect, times out, forces nothing", async () => {
      expect(await nodes.sh('bob', 'drbdadm cstate kopano')).toBe(connecting);
      const [b, a] = [await gi('bob', 'kopano'), await gi('alice', 'kopano')];
      await applyTimesOut(initialSync('kopano', '4s'), `kopano: waiting for the peers to connect (${toAlice} Connecting)`);
      expect([await gi('bob', 'kopano'), await gi('alice', 'kopano')]).toEqual([b, a]);
      expect(b).toMatch(INITIAL_GI);
      expect(await role('bob', 'kopano')).toBe('Secondary');
    });

    it('initial sync: the peer node is stopped -> waits, times out, forces nothing', async () => {
      await nodes.sh('alice', 'drbdadm up kopano');
      await until('kopano Connected', async () => ((await nodes.sh('bob', 'drbdadm cstate kopano')) === 'Connected' ? true : undefined), 20_000);
      const a = await gi('alice', 'kopano');
      await bed.node('alice').stop();
      try {
        await until('bob sees alice gone', async () => ((await nodes.sh('bob', 'drbdadm cstate kopano')) === connecting ? true : undefined), 20_000);
        const b = await gi('bob', 'kopano');
        await applyTimesOut(initialSync('kopano', '4s'), `kopano: waiting for the peers to connect (${toAlice} Connecting)`);
        expect(await gi('bob', 'kopano')).toBe(b);
        expect(b).toMatch(INITIAL_GI);
        expect(await role('bob', 'kopano')).toBe('Secondary');
      } finally {
        await bed.node('alice').start();
        inventory = await writeBedInventory(bed, { dir, primary: 'bob', vars: { data_disk: '/dev/vdb', mysql_size: '64M' } }); // new ssh port
        await nodes.connect('alice');
      }
      expect(await gi('alice', 'kopano')).toBe(a);
    });

    it('initial sync: a peer already UpToDate and Primary -> nothing is forced here (DRBD resyncs this node from the peer)', async () => {
      await nodes.sh('alice', 'drbdadm up kopano && drbdadm primary --force kopano');
      await until('kopano UpToDate on both', async () => ((await nodes.sh('bob', 'drbdadm dstate kopano')) === 'UpToDate/UpToDate' ? true : undefined), 30_000);
      const current = (await gi('alice', 'kopano')).split(':')[0];
      const r = await apply(initialSync('kopano', '30s'));
      expect(r.code, r.text).toBe(0);
      expect(execs(r.report)).toEqual([]);
      expect(stepOf(r.report, 'bob', 'sync-kopano').outcome).toBe('ok');
      expect(await role('bob', 'kopano')).toBe('Secondary');
      expect(await role('alice', 'kopano')).toBe('Primary');
      expect((await gi('alice', 'kopano')).split(':')[0]).toBe(current);
      expect((await gi('bob', 'kopano')).split(':')[0]).toBe(current);
    });
  });
}
