/**
 * Issue 15.1, the tool side, on the test bed, through the built CLI: DRBD
 * 8.4 resource files and metadata made by the REAL drbd-utils 9.22 (Debian),
 * whose `drbdadm` runs its drbdadm-84 when the kernel module is 8.4.
 *
 * The bed's kernel has no DRBD module; its stand-in (docker/standin) plays
 * DRBD 9 (`modinfo -F version drbd` says 9.2.12) or, in its 8.4 personality
 * (/etc/drbd-standin/personality, startBed's `drbd` option), DRBD 8.4.11:
 * then drbdadm (which reads the version as the tool does: /proc/drbd, else
 * `modinfo -F version drbd`: user/v9/drbdtool_common_linux.c) execs
 * /lib/drbd/drbdadm-84, so everything drbdadm does below is drbd-utils' 8.4
 * code: parsing the configuration (`dump`), `create-md` (drbdmeta v08),
 * `get-gi`, `dump-md`, and drbdsetup-84's command lines (up, adjust,
 * primary, ...), which the stand-in answers as an 8.4 kernel.
 *
 * First bed (the personality switched by hand, nothing up):
 * 1. DRBD 9 first: the tool writes the DRBD 9 file.
 * 2. Both nodes 8.4: drbdadm refuses that file with drbdadm-84's parse
 *    error (the issue's failure, real); the plan replaces it with the 8.4
 *    file, naming the parse error, and creates v08 metadata without
 *    --max-peers; apply converges; drbdadm (-84) parses the new file; get-gi
 *    reads create-md's generation identifiers (never synced); a second
 *    plan changes nothing.
 * 3. alice back to DRBD 9: the plan refuses the resource on both nodes,
 *    naming bob's 8.4.11 and alice's 9.2.12 (exit 7); apply changes nothing.
 *
 * Second bed, two 8.4 nodes from the start: playbooks/storage.yaml, as
 * test/storage/apply.test.ts applies it on DRBD 9, converges through a plan
 * saved on the fresh nodes (apply --plan): both resources up, synced from
 * bob, ext4 on bob; every step the plan knew would change did, with the
 * commands it showed, and nothing outside the plan changed; a second apply
 * changes nothing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { drbdKernelProbe, parseDrbdKernel } from '../../src/facts/drbd-kernel.js';
import { writeBedInventory } from '../support/bed-inventory.js';
import { applyKeys, cli, converged, execsByNode, json, Nodes, planKeys, ROOT, type ApplyReport, type PlanDoc } from './support.js';

let bed: Bed;
let nodes: Nodes;
let dir: string;
let inventory: string;

const NODES = ['bob', 'alice'];
const RES_FILE = '/etc/drbd.d/mysql.res';
const NEVER_SYNCED_V08 = '0000000000000004:0000000000000000:0000000000000000:0000000000000000:0:0:0:0:0:0:0';

const resourceStep = `  - id: drbd-mysql
    kind: drbd-resource
    wait_for: [packages]
    with:
      name: !ref cluster.drbd.mysql.name
      minor: !ref cluster.drbd.mysql.minor
      port: !ref cluster.drbd.mysql.port
      resync_rate: !ref cluster.drbd.mysql.sync_rate
      hosts: !ref cluster.drbd.mysql.members
      fencing: resource-and-stonith
`;

const setup = `  - id: packages
    kind: packages
    with: {names: [drbd-utils, fdisk]}
  - id: partitions
    kind: partition
    with:
      disk: !ref vars.data_disk
      label: dos
      partitions: [{size: !ref vars.mysql_size}, {size: rest}]
`;

const mdStep = `  - id: md-mysql
    kind: drbd-create-md
    wait_for: [drbd-mysql, partitions]
    with:
      resource: !ref cluster.drbd.mysql.name
`;

async function playbook(name: string, steps: string): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, `name: ${name}\nsteps:\n${steps}`);
  return file;
}

const planOf = async (file: string) => {
  const r = await cli(['plan', inventory, file, '--json']);
  return { code: r.code, stderr: r.stderr, doc: json<PlanDoc>(r) };
};
const stepOf = (doc: PlanDoc, node: string, id: string) => doc.nodes.find((n) => n.name === node)!.steps.find((s) => s.id === id)!;

/** The node's DRBD stand-in plays this module from now on (docker/standin/README.md, "Personalities"). */
const personality = (node: string, v: '9' | '8.4') => nodes.sh(node, `mkdir -p /etc/drbd-standin && echo ${v} > /etc/drbd-standin/personality`);

describe('DRBD 8.4 resource files and metadata, with the real drbdadm-84', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: NODES, networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '192M' });
    dir = await mkdtemp(join(tmpdir(), 'ha-drbd84-'));
    inventory = await writeBedInventory(bed, { dir, primary: 'bob', vars: { data_disk: '/dev/vdb', mysql_size: '64M' } });
    nodes = new Nodes(bed);
    await nodes.connectAll();
  });

  afterAll(async () => {
    await nodes?.close();
    await bed?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the version probe on a bed node: the stand-in module (modinfo 9.2.12); kmod without a module', async () => {
    const argv = drbdKernelProbe(false).argv;
    const r = await nodes.session('bob').exec({ argv });
    expect(r.stdout).toBe('modinfo 9.2.12\n');
    expect(parseDrbdKernel(r)).toEqual({ source: 'modinfo', version: '9.2.12', dialect: '9' });
    // the real kmod (the stand-in hands every other module to it): its message when there is no module
    const kmod = await nodes.try('bob', 'ln -sfn /bin/kmod /tmp/modinfo && /tmp/modinfo -F version drbd');
    expect(kmod.code, kmod.err).toBe(1);
    expect(kmod.err).toBe('modinfo: ERROR: Module drbd not found.');
  });

  it('DRBD 9 first: the DRBD 9 file (node-id, connection-mesh)', async () => {
    converged(await cli(['apply', inventory, await playbook('nine', setup + resourceStep), '--json']));
    const file = await nodes.sh('bob', `cat ${RES_FILE}`);
    expect(file).toMatch(/node-id 0;/);
    expect(file).toMatch(/connection-mesh/);
    // drbdadm's own code (API 2: DRBD 9)
    expect(await nodes.sh('bob', 'drbdadm --version 2>/dev/null | grep DRBDADM_API_VERSION=')).toBe('DRBDADM_API_VERSION=2');
    await nodes.sh('bob', `cp ${RES_FILE} /root/mysql-9.res`);
  });

  it('8.4 on both: drbdadm-84 refuses the DRBD 9 file; the plan writes the 8.4 one and v08 metadata; apply converges; plan again: nothing', async () => {
    for (const n of NODES) await personality(n, '8.4');
    // drbdadm now execs drbdadm-84 (API 1: DRBD 8.4)
    expect(await nodes.sh('bob', 'drbdadm --version 2>/dev/null | grep DRBDADM_API_VERSION=')).toBe('DRBDADM_API_VERSION=1');
    // the failure: drbdadm runs drbdadm-84, which refuses what the tool wrote for DRBD 9
    // (first at `fencing`, which 8.4 has in disk {}, not net {}; without it, at `node-id`)
    const refused = await nodes.try('bob', 'drbdadm dump mysql');
    expect(refused.code).toBe(10);
    expect(refused.err).toMatch(/Parse error: 'an option keyword' expected,\s+but got 'fencing'/);
    const noFencing = await nodes.try(
      'bob',
      "grep -v 'fencing resource-and-stonith' /root/mysql-9.res > /root/mysql-9-nofencing.res && /lib/drbd/drbdadm-84 -c /root/mysql-9-nofencing.res dump mysql",
    );
    expect(noFencing.code).toBe(10);
    expect(noFencing.err).toMatch(/Parse error: 'disk \| device \| address \| meta-disk \| flexible-meta-disk' expected,\s+but got 'node-id'/);

    const file = await playbook('eight', setup + resourceStep + mdStep);
    const plan = await planOf(file);
    expect(plan.code, plan.stderr).toBe(0);
    const res = stepOf(plan.doc, 'bob', 'drbd-mysql');
    expect(res.status).toBe('change');
    expect(res.changes[0]!.description).toMatch(/^write \/etc\/drbd\.d\/mysql\.res .*\(the current configuration does not parse: .*but got 'fencing'\)$/);
    // known after apply: the resource file changes first (with the DRBD 9 file, drbdadm-84 finds no backing device yet)
    expect(stepOf(plan.doc, 'bob', 'md-mysql').status).toBe('pending');

    const report = converged(await cli(['apply', inventory, file, '--json']));
    const ran = execsByNode(report, NODES);
    for (const n of NODES)
      expect(
        ran[n]!.filter((x) => x.includes('create-md')),
        n,
      ).toEqual(['md-mysql: drbdadm create-md mysql']);

    for (const n of NODES) {
      const text = await nodes.sh(n, `cat ${RES_FILE}`);
      expect(text).not.toMatch(/node-id|connection-mesh/);
      expect(text).toMatch(/ {2}disk \{\n {4}resync-rate 100M;\n {4}c-plan-ahead 0;\n {4}fencing resource-and-stonith;\n {2}\}/);
      expect(text).toContain('fence-peer "/usr/lib/drbd/crm-fence-peer.sh";');
      // drbd-utils' 8.4 parser takes it: through drbdadm's dispatch and called directly
      await nodes.sh(n, 'drbdadm dump mysql >/dev/null');
      await nodes.sh(n, '/lib/drbd/drbdadm-84 dump mysql >/dev/null');
      // v08 metadata, never synced, as drbdadm-84 reads it (not up: drbdsetup-84 says the minor is not allocated, drbdmeta reads the disk)
      expect(await nodes.sh(n, 'drbdadm get-gi mysql 2>/dev/null')).toBe(NEVER_SYNCED_V08);
      expect(await nodes.sh(n, 'blkid -p -s VERSION -o value /dev/vdb1')).toBe('v08');
      expect(await nodes.sh(n, "drbdadm -- --force dump-md mysql 2>/dev/null | grep -c '^max-peers' || true")).toBe('0');
    }

    const again = await planOf(file);
    expect(again.code, again.stderr).toBe(0);
    expect(planKeys(again.doc, ['change', 'pending', 'refused', 'error'])).toEqual([]);
  });

  it('alice back on DRBD 9: the resource is refused on both nodes, naming each version (exit 7); apply changes nothing', async () => {
    await personality('alice', '9');
    const before = await Promise.all(NODES.map((n) => nodes.sh(n, `sha256sum ${RES_FILE}`)));
    const file = await playbook('mixed', resourceStep.replace('    wait_for: [packages]\n', '') + mdStep.replace(', partitions]', ']'));
    const plan = await planOf(file);
    expect(plan.code, plan.stderr).toBe(7);
    const reason = 'resource mysql mixes DRBD kernel modules: bob 8.4.11 (modinfo), alice 9.2.12 (modinfo). ';
    for (const n of NODES) {
      const s = stepOf(plan.doc, n, 'drbd-mysql');
      expect(s.status, n).toBe('refused');
      expect(s.reason, n).toMatch(new RegExp('^' + reason.replace(/[.()]/g, '\\$&')));
    }
    const r = await cli(['apply', inventory, file, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(7);
    expect(await Promise.all(NODES.map((n) => nodes.sh(n, `sha256sum ${RES_FILE}`)))).toEqual(before);
  });
});

describe('playbooks/storage.yaml on two DRBD 8.4 bed nodes', () => {
  const PLAYBOOK = join(ROOT, 'playbooks/storage.yaml');
  let bed84: Bed;
  let n84: Nodes;
  let dir84: string;
  let inv84: string;
  let saved: PlanDoc;
  let report: ApplyReport;

  beforeAll(async () => {
    bed84 = await startBed({ nodes: NODES, networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '256M', drbd: '8.4' });
    dir84 = await mkdtemp(join(tmpdir(), 'ha-drbd84-storage-'));
    inv84 = await writeBedInventory(bed84, { dir: dir84, cluster: 'kopano', primary: 'bob', vars: { data_disk: '/dev/vdb', mysql_size: '100M' } });
    n84 = new Nodes(bed84);
    await n84.connectAll();
  });

  afterAll(async () => {
    await n84?.close();
    await bed84?.stop();
    if (dir84) await rm(dir84, { recursive: true, force: true });
  });

  it('the version probe: the stand-in module says 8.4.11 (modinfo; no /proc/drbd in a container)', async () => {
    for (const n of NODES) {
      const r = await n84.session(n).exec({ argv: drbdKernelProbe(false).argv });
      expect(parseDrbdKernel(r), n).toEqual({ source: 'modinfo', version: '8.4.11', dialect: '8.4' });
    }
  });

  it('converges in one run through a plan saved on the fresh nodes (apply --plan)', async () => {
    const out = join(dir84, 'plan.json');
    const p = await cli(['plan', inv84, PLAYBOOK, '-o', out, '--json']);
    expect(p.code, p.stderr).toBe(0);
    saved = json<PlanDoc>(p);
    for (const n of saved.nodes) {
      expect(n.error).toBeUndefined();
      for (const s of n.steps) expect(['ok', 'change', 'pending'], `${n.name}/${s.id}: ${s.status} ${s.reason ?? ''}`).toContain(s.status);
    }
    report = converged(await cli(['apply', '--plan', out, '--json']));
    expect(report.outcome).toBe('changed');
  }, 480_000);

  it('both resources: 8.4 files, v08 metadata, UpToDate and Connected on both, bob Primary, one data generation, ext4 on bob', async () => {
    for (const n of NODES) {
      expect(await n84.sh(n, 'drbdadm --version 2>/dev/null | grep DRBDADM_API_VERSION=')).toBe('DRBDADM_API_VERSION=1');
      for (const [res, minor, part] of [
        ['mysql', 0, '/dev/vdb1'],
        ['kopano', 1, '/dev/vdb2'],
      ] as const) {
        const conf = await n84.sh(n, `cat /etc/drbd.d/${res}.res`);
        expect(conf).not.toMatch(/node-id|connection-mesh/);
        expect(conf).toContain(`device /dev/drbd${minor} minor ${minor};`);
        expect(await n84.sh(n, `blkid -p -s VERSION -o value ${part}`)).toBe('v08');
        expect(await n84.sh(n, `drbdadm dstate ${res}`)).toBe('UpToDate/UpToDate');
        expect(await n84.sh(n, `drbdadm cstate ${res}`)).toBe('Connected');
        expect(await n84.sh(n, `drbdadm role ${res}`)).toBe(n === 'bob' ? 'Primary/Secondary' : 'Secondary/Primary');
        // drbdsetup-84's events2 (what the tool reads)
        expect(await n84.sh(n, `drbdsetup events2 --now ${res}`)).toBe(
          [
            `exists resource name:${res} role:${n === 'bob' ? 'Primary' : 'Secondary'} suspended:no`,
            `exists connection name:${res} peer-node-id:0 conn-name:peer connection:Connected role:${n === 'bob' ? 'Secondary' : 'Primary'}`,
            `exists device name:${res} volume:0 minor:${minor} disk:UpToDate`,
            `exists peer-device name:${res} peer-node-id:0 conn-name:peer volume:0 replication:Established peer-disk:UpToDate resync-suspended:no`,
            'exists -',
          ].join('\n'),
        );
      }
    }
    for (const res of ['mysql', 'kopano']) {
      const [b, a] = await Promise.all(NODES.map((n) => n84.sh(n, `drbdadm get-gi ${res}`)));
      expect(b!.split(':')[0]).toBe(a!.split(':')[0]);
      expect(b!.split(':')[0]).not.toMatch(/^000000000000000[45]$/);
    }
    for (const [dev, part] of [
      ['/dev/drbd0', '/dev/vdb1'],
      ['/dev/drbd1', '/dev/vdb2'],
    ] as const) {
      expect(await n84.sh('bob', `blkid -p -s TYPE -o value ${dev}`)).toBe('ext4');
      const sums = await Promise.all(NODES.map((n) => n84.sh(n, `head -c $(blockdev --getsize64 ${dev}) ${part} | sha256sum | cut -d" " -f1`)));
      expect(sums[0]).toBe(sums[1]);
    }
  });

  it('the saved plan matched what apply did: its changes were made with the commands it showed, nothing outside it changed', () => {
    const changed = applyKeys(report, 'changed');
    expect(changed.filter((k) => !planKeys(saved, ['change', 'pending']).includes(k))).toEqual([]);
    expect(planKeys(saved, ['change']).filter((k) => !changed.includes(k))).toEqual([]);
    for (const n of saved.nodes) {
      for (const s of n.steps.filter((x) => x.status === 'change')) {
        const done = report.steps.find((x) => x.node === n.name && x.step === s.id)!;
        const argv = (cs: { kind: string; argv?: string[] }[]) => cs.filter((c) => c.kind === 'exec').map((c) => c.argv!.join(' '));
        expect(argv(done.changes), `${n.name}/${s.id}`).toEqual(argv(s.changes));
      }
    }
    // the DRBD steps ran drbd-utils' 8.4 command lines
    const ran = execsByNode(report, NODES);
    for (const n of NODES) expect(ran[n]!.filter((x) => x.startsWith('md-')).sort(), n).toEqual(['md-kopano: drbdadm create-md kopano', 'md-mysql: drbdadm create-md mysql']);
    expect(ran.bob!.filter((x) => x.startsWith('sync-')).sort()).toEqual(['sync-kopano: drbdadm primary --force kopano', 'sync-mysql: drbdadm primary --force mysql'].sort());
  });

  it('mkfs on the Secondary (alice) whose backing device holds the ext4: done, not refused (the backing device from drbdsetup-84 show: its events2 has no backing_dev)', async () => {
    const file = join(dir84, 'mkfs-alice.yaml');
    await writeFile(file, 'name: mkfs-alice\nsteps:\n  - id: fs-mysql\n    kind: mkfs\n    on: [alice]\n    with: {device: /dev/drbd0, fstype: ext4}\n');
    const r = await cli(['apply', inv84, file, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const done = json<ApplyReport>(r);
    expect(done.steps.map((s) => `${s.node}/${s.step}: ${s.outcome}`)).toEqual(['alice/fs-mysql: ok']);
  });

  it('a second apply changes nothing', async () => {
    const r = await cli(['apply', inv84, PLAYBOOK, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const again = json<ApplyReport>(r);
    expect(applyKeys(again, 'changed')).toEqual([]);
    expect(again.steps.filter((s) => s.outcome !== 'ok')).toEqual([]);
    const p = await cli(['plan', inv84, PLAYBOOK, '--detailed-exitcode']);
    expect(p.code, p.stdout + p.stderr).toBe(0);
  }, 180_000);
});
