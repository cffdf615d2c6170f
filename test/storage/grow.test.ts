/**
 * Issue 18.4 on the test bed, through the built CLI: a DRBD resource on two
 * nodes (bob Primary, alice), xfs on it mounted on bob with a file written,
 * then the backing partition grown by hand on both nodes while everything
 * runs (sfdisk -N 1 + partx -u, as an administrator grows a partition or
 * lvextends a volume; the inventory's size follows). The plan shows
 * `drbdadm resize` on bob, and the filesystem grow as known after apply;
 * apply runs exactly that: DRBD is larger on both nodes, the new area synced
 * to alice (both data areas equal), xfs grown online on bob while mounted,
 * the file and the filesystem UUID unchanged. A second apply changes
 * nothing. Then through the inventory alone (480 MiB): one apply grows the
 * partitions in place (the partition kind), DRBD and xfs. Then both
 * partitions shrunk by hand under DRBD: plan and apply refuse (exit 7) and
 * change nothing; the partitions restored, nothing to do.
 *
 * xfs because the bed cannot grow ext4 online: EXT4_IOC_RESIZE_FS needs
 * CAP_SYS_RESOURCE, which this VM's containers lack (docker/runc-nocap);
 * xfs_growfs needs CAP_SYS_ADMIN only. xfs needs 300 MiB at least.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { drbdDataBytes } from '../../src/facts/drbd.js';
import { bedInventory } from '../support/bed-inventory.js';
import { applyKeys, cli, converged, execsByNode, json, Nodes, planKeys, type ApplyReport, type PlanDoc } from './support.js';

const NODES = ['bob', 'alice'];
const RES = 'data';
const MOUNT = '/srv/data';
const MiB = 1 << 20;

let bed: Bed;
let nodes: Nodes;
let dir: string;
let inventory: string;
let playbook: string;
let doc: Record<string, unknown>;
const before: { sha?: string; uuid?: string; fsBytes?: number; drbdKiB?: number } = {};
/** The metadata's peer slots (drbd-create-md's default) and activity log sectors, as read on bob. */
let slots = 0;
const AL_SECTORS = 64;

const PLAYBOOK = `name: grow
steps:
  - id: packages
    kind: packages
    with: {names: [drbd-utils, xfsprogs], debian: [fdisk]}
  - id: partition
    kind: partition
    on: group:storage
    wait_for: [packages]
    with:
      disk: !ref vars.data_disk
      label: dos
      partitions: [{size: !ref vars.data_size}]
  - id: drbd-data
    kind: drbd-resource
    on: group:storage
    wait_for: [packages]
    with:
      name: !ref cluster.drbd.data.name
      minor: !ref cluster.drbd.data.minor
      port: !ref cluster.drbd.data.port
      protocol: !ref cluster.drbd.data.protocol
      resync_rate: !ref cluster.drbd.data.sync_rate
      hosts: !ref cluster.drbd.data.members
  - id: md-data
    kind: drbd-create-md
    on: group:storage
    wait_for: [partition, drbd-data]
    with: {resource: !ref cluster.drbd.data.name}
  - id: up-data
    kind: drbd-up
    on: group:storage
    wait_for: [md-data]
    with: {resource: !ref cluster.drbd.data.name}
  - id: sync-data
    kind: drbd-initial-sync
    on: role:primary
    wait_for: [up-data]
    timeout: 3m
    with: {resource: !ref cluster.drbd.data.name}
  - id: grow-data
    kind: drbd-grow
    on: role:primary
    wait_for: [sync-data]
    with:
      resource: !ref cluster.drbd.data.name
      hosts: !ref cluster.drbd.data.members
  - id: fs-data
    kind: mkfs
    on: role:primary
    wait_for: [grow-data]
    with:
      device: !ref cluster.filesystems.data_fs.device
      fstype: !ref cluster.filesystems.data_fs.fstype
`;

/** The commands each node ran to change something, `step: argv`. */
const execs = (r: ApplyReport) => execsByNode(r, NODES);

/** The inventory with the data partition's size (what the administrator records after growing it). */
async function writeInventory(size: string): Promise<void> {
  doc.vars = { ...(doc.vars as object), data_size: size };
  await writeFile(inventory, stringify(doc));
}

/** Partition 1 of /dev/vdb set to `size` by hand on every node, while DRBD holds it (no re-read: BLKPG through partx). */
async function resizePartitions(size: string): Promise<void> {
  await Promise.all(NODES.map((n) => nodes.sh(n, `echo ',${size}' | sfdisk -q -N 1 --no-reread /dev/vdb >/dev/null 2>&1; partx -u /dev/vdb && blockdev --getsize64 /dev/vdb1`)));
}

const drbdKiB = async (n: string) => Number(await nodes.sh(n, `drbdsetup status ${RES} --verbose --statistics | sed -n 's/^ *size:\\([0-9]*\\) .*/\\1/p'`));
const xfsBytes = async () => {
  const info = await nodes.sh('bob', `xfs_info ${MOUNT}`);
  const m = /^data\s+=\s+bsize=(\d+)\s+blocks=(\d+),/m.exec(info)!;
  return Number(m[1]) * Number(m[2]);
};
const fileSha = () => nodes.sh('bob', `sha256sum ${MOUNT}/file | cut -d" " -f1`);
const uuid = () => nodes.sh('bob', 'blkid -p -s UUID -o value /dev/drbd0');

describe('growing a DRBD volume under a mounted filesystem (bob, alice)', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: NODES, networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '512M' });
    dir = await mkdtemp(join(tmpdir(), 'ha-storage-grow-'));
    doc = await bedInventory(bed, { dir, cluster: 'grow', primary: 'bob', stepTimeout: '4m', vars: { data_disk: '/dev/vdb' } });
    doc.drbd = [{ name: RES, minor: 0, port: 7788, network: 'replication', disk: '/dev/vdb1', protocol: 'C', sync_rate: '200M', nodes: { bob: {}, alice: {} } }];
    doc.filesystems = [{ name: 'data_fs', drbd: RES, device: '/dev/drbd0', directory: MOUNT, fstype: 'xfs' }];
    inventory = join(dir, 'inventory.yaml');
    await writeInventory('320M');
    playbook = join(dir, 'grow.yaml');
    await writeFile(playbook, PLAYBOOK);
    nodes = new Nodes(bed);
    await nodes.connectAll();
  }, 180_000);

  afterAll(async () => {
    await nodes?.close();
    await bed?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('converges: a 320 MiB partition, DRBD on it, xfs on bob; mounted there with a file written', async () => {
    const r = await cli(['apply', inventory, playbook, '--json']);
    const report = converged(r);
    console.log(`first apply, commands per node:\n${JSON.stringify(execs(report), null, 2)}`);
    expect(execs(report).bob).toContain('fs-data: mkfs.xfs /dev/drbd0');
    await nodes.sh('bob', `mkdir -p ${MOUNT} && mount /dev/drbd0 ${MOUNT} && head -c 3000000 /dev/urandom > ${MOUNT}/file && sync`);
    before.sha = await fileSha();
    before.uuid = await uuid();
    before.fsBytes = await xfsBytes();
    before.drbdKiB = await drbdKiB('bob');
    // the metadata's peer slots (drbd-create-md's default) and its 32 KiB activity log set what DRBD uses
    slots = Number(await nodes.sh('bob', `drbdadm -- --force dump-md ${RES} 2>/dev/null | sed -n 's/^max-peers \\([0-9]*\\);$/\\1/p'`));
    expect(slots).toBeGreaterThanOrEqual(1);
    expect(before.drbdKiB * 1024).toBe(drbdDataBytes(320 * MiB, slots, AL_SECTORS));
    expect(await drbdKiB('alice')).toBe(before.drbdKiB);
  }, 300_000);

  it('both partitions grown by hand to 420 MiB: the plan shows drbdadm resize on bob and the filesystem grow as known after apply', async () => {
    await resizePartitions('420M');
    await writeInventory('420M');
    for (const n of NODES) expect(Number(await nodes.sh(n, 'blockdev --getsize64 /dev/vdb1')), n).toBe(420 * MiB);
    const p = await cli(['plan', inventory, playbook, '--json']);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const plan = json<PlanDoc>(p);
    expect(planKeys(plan, ['change'])).toEqual(['bob/grow-data']);
    expect(planKeys(plan, ['pending'])).toEqual(['bob/fs-data']);
    const grow = plan.nodes.find((n) => n.name === 'bob')!.steps.find((s) => s.id === 'grow-data')!;
    expect(grow.changes.map((c) => c.argv)).toEqual([['drbdadm', 'resize', RES]]);
    console.log(`plan after the grow: ${grow.changes[0]!.description}`);
    expect(grow.changes[0]!.description).toBe(
      `grow ${RES} from 319.9 MiB to 419.9 MiB, the data area all its backing devices now allow (bob /dev/vdb1 420 MiB, alice /dev/vdb1 420 MiB)`,
    );
  }, 120_000);

  it('apply: DRBD grows on both nodes, the new area synced to alice, xfs grown online on bob; file and UUID unchanged', async () => {
    const r = await cli(['apply', inventory, playbook, '--json']);
    const report = converged(r);
    console.log(`grow apply, commands per node:\n${JSON.stringify(execs(report), null, 2)}`);
    expect(execs(report)).toEqual({ bob: [`grow-data: drbdadm resize ${RES}`, `fs-data: xfs_growfs ${MOUNT}`], alice: [] });
    const kib = drbdDataBytes(420 * MiB, slots, AL_SECTORS) / 1024;
    for (const n of NODES) expect(await drbdKiB(n), n).toBe(kib);
    // still mounted where it was, grown to (almost) all of it: xfs_growfs drops a last allocation group under 64 blocks
    expect(await nodes.sh('bob', `findmnt -n -o SOURCE ${MOUNT}`)).toBe('/dev/drbd0');
    const fs = await xfsBytes();
    expect(fs).toBeGreaterThan(before.fsBytes! + 95 * MiB);
    expect(fs).toBeLessThanOrEqual(kib * 1024);
    expect(await fileSha()).toBe(before.sha);
    expect(await uuid()).toBe(before.uuid);
    // the resync of the new area: UpToDate on both, the same bytes in both data areas
    for (let i = 0; i < 100 && (await nodes.sh('alice', `drbdadm dstate ${RES}`)) !== 'UpToDate/UpToDate'; i++) await new Promise((res) => setTimeout(res, 200));
    expect(await nodes.sh('alice', `drbdadm dstate ${RES}`)).toBe('UpToDate/UpToDate');
    await nodes.sh('bob', 'sync');
    const sums = await Promise.all(NODES.map((n) => nodes.sh(n, `head -c ${kib * 1024} /dev/vdb1 | sha256sum | cut -d" " -f1`)));
    expect(sums[0], 'data areas after the resync').toBe(sums[1]);
    console.log(
      `data checks: DRBD ${before.drbdKiB} -> ${kib} KiB on bob and alice; xfs ${before.fsBytes} -> ${fs} bytes, mounted on ${MOUNT} throughout; ` +
        `file sha256 ${before.sha} unchanged; xfs UUID ${before.uuid} unchanged; data areas (${kib * 1024} bytes) sha256 ${sums[0]} on both`,
    );
  }, 300_000);

  it('a second apply changes nothing, and a plan plans nothing', async () => {
    const r = await cli(['apply', inventory, playbook, '--json']);
    const again = converged(r);
    expect(applyKeys(again, 'changed')).toEqual([]);
    expect(execs(again)).toEqual({ bob: [], alice: [] });
    const p = await cli(['plan', inventory, playbook, '--detailed-exitcode']);
    expect(p.code, p.stdout + p.stderr).toBe(0);
  }, 120_000);

  it('the inventory asks for 480 MiB: one apply grows both partitions (sfdisk -N 1, partx), then DRBD, then xfs', async () => {
    await writeInventory('480M');
    const p = await cli(['plan', inventory, playbook, '--json']);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const plan = json<PlanDoc>(p);
    expect(planKeys(plan, ['change'])).toEqual(['alice/partition', 'bob/partition']);
    // known after apply: what reads the partitions (create-md's look at the backing device, and what follows it)
    expect(planKeys(plan, ['pending'])).toEqual(expect.arrayContaining(['bob/fs-data', 'bob/grow-data']));
    const report = converged(await cli(['apply', inventory, playbook, '--json']));
    console.log(`inventory grow apply, commands per node:\n${JSON.stringify(execs(report), null, 2)}`);
    const sfdisk = 'partition: sfdisk --no-reread --no-tell-kernel --quiet -N 1 /dev/vdb';
    expect(execs(report)).toEqual({
      bob: [sfdisk, 'partition: partx --update /dev/vdb', `grow-data: drbdadm resize ${RES}`, `fs-data: xfs_growfs ${MOUNT}`],
      alice: [sfdisk, 'partition: partx --update /dev/vdb'],
    });
    const kib = drbdDataBytes(480 * MiB, slots, AL_SECTORS) / 1024;
    for (const n of NODES) expect(await drbdKiB(n), n).toBe(kib);
    const fs = await xfsBytes();
    expect(fs).toBeGreaterThan(before.fsBytes! + 155 * MiB);
    expect(await fileSha()).toBe(before.sha);
    expect(await uuid()).toBe(before.uuid);
    console.log(`data checks: DRBD ${kib} KiB on bob and alice; xfs ${fs} bytes; file and UUID unchanged`);
    const again = converged(await cli(['apply', inventory, playbook, '--json']));
    expect(execs(again)).toEqual({ bob: [], alice: [] });
  }, 300_000);

  it('partitions shrunk by hand under DRBD: plan and apply refuse (exit 7), nothing changes; restored, nothing to do', async () => {
    const kib = await drbdKiB('bob');
    await resizePartitions('440M');
    await writeInventory('440M');
    const p = await cli(['plan', inventory, playbook, '--json']);
    expect(p.code, p.stdout + p.stderr).toBe(7);
    const grow = json<PlanDoc>(p)
      .nodes.find((n) => n.name === 'bob')!
      .steps.find((s) => s.id === 'grow-data')!;
    expect(grow.status).toBe('refused');
    console.log(`plan after the shrink: ${grow.reason}`);
    // the node whose last resize recorded the larger size cannot read its metadata any more (drbdmeta looks at the
    // recorded place, now past the end); the other finds the superblock left at the old end: either way, refused
    expect(grow.reason).toMatch(
      /^data uses 479\.9 MiB \(\d+ bytes\) but on (bob|alice) the backing device \/dev\/vdb1 \(440 MiB\) leaves 439\.9 MiB for data.*: it was shrunk under DRBD.*\. Not resizing/,
    );
    for (const n of NODES) expect(grow.reason).toContain(`${n}`);
    const a = await cli(['apply', inventory, playbook, '--json']);
    expect(a.code, a.stdout + a.stderr).toBe(7);
    const refused = json<{ outcome: string; refusals: { node: string; step: string }[] }>(a);
    expect(refused.outcome).toBe('refused');
    expect(refused.refusals.map((x) => `${x.node}/${x.step}`)).toEqual(['bob/grow-data']);
    for (const n of NODES) expect(await drbdKiB(n), n).toBe(kib);
    // the partitions back to their size: the metadata is at their end again, nothing to do
    await resizePartitions('480M');
    await writeInventory('480M');
    const back = converged(await cli(['apply', inventory, playbook, '--json']));
    expect(execs(back)).toEqual({ bob: [], alice: [] });
    expect(await fileSha()).toBe(before.sha);
  }, 200_000);
});
