/**
 * Issue 18.3 on the test bed, through the built CLI: a third node added to
 * the inventory of a running two-node DRBD resource, then removed again.
 *
 * ams and fra run `data` (ams Primary, ext4 mounted on it, a file written);
 * par is a fresh node outside the inventory. With par added (inventory and
 * resource members), the plan shows: the resource file changed and adjusted
 * live on ams and fra (no down/up), metadata and up on par, nothing for the
 * initial sync or mkfs. Apply: the stand-in on ams is the same process
 * throughout (no restart of the running Primary), the filesystem stays
 * mounted, par is synced from the current data with no forced primary, the
 * filesystem's UUID is unchanged, a second apply changes nothing, and after a
 * switch-over par mounts it and reads the file written before.
 * With par removed from the inventory, the plan shows on ams and fra the
 * resource file without par, `drbdadm adjust` (which deletes the connection)
 * and `drbdsetup forget-peer` for par's node id; after apply neither knows
 * par any more (no connection, its bitmap slot free), and a plan is empty.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { bedInventory } from '../support/bed-inventory.js';
import { applyKeys, converged, cli, DRBD_DATA_STEPS, DRBD_RESOURCE_STEPS, execsByNode, json, Nodes, until, type ApplyReport, type PlanDoc } from './support.js';

const RES = 'data';
const [AMS, FRA, PAR] = ['ams', 'fra', 'par'];

let bed: Bed;
let nodes: Nodes;
let dir: string;
let playbook: string;
let full: Record<string, unknown>;
const token = `written-before-${Date.now()}`;
let fsUuid: string;
let amsStandin: string;
let written: string;

const steps = `name: add-node
steps:
${DRBD_DATA_STEPS}  - id: fs-data
    kind: mkfs
    on: role:primary
    wait_for: [sync-data]
    with: {device: /dev/drbd0, fstype: ext4}
`;

/** The inventory with only `members` of the bed's nodes, written to dir/NAME. */
async function inventoryWith(members: string[], name: string): Promise<string> {
  const doc = structuredClone(full);
  const all = doc['nodes'] as Record<string, unknown>;
  for (const n of Object.keys(all)) if (!members.includes(n)) delete all[n];
  (doc['drbd'] as Record<string, unknown>[])[0]!['nodes'] = Object.fromEntries(members.map((n) => [n, {}]));
  const path = join(dir, name);
  await writeFile(path, stringify(doc));
  return path;
}

/** (node, step) -> status of a plan, for the steps that would do something. */
const planned = (p: PlanDoc) => p.nodes.flatMap((n) => n.steps.filter((s) => s.status !== 'ok').map((s) => `${n.name}: ${s.id} ${s.status}`));

/** DRBD's view from every node, printed when a wait fails. */
async function diagnostics(): Promise<string> {
  const out: string[] = [];
  for (const n of [AMS, FRA, PAR])
    for (const c of [`drbdsetup status ${RES} --verbose --statistics`, `drbdadm get-gi ${RES}`, `journalctl -u drbd-standin-${RES} --no-pager -o cat | tail -40`]) {
      const r = await nodes.try(n, c);
      out.push(`--- ${n}: ${c} (exit ${r.code})\n${r.out}\n${r.err}`);
    }
  return out.join('\n');
}

const standinPid = (n: string) => nodes.sh(n, `systemctl show -p MainPID --value drbd-standin-${RES}`);

describe('adding a third node to a running two-node DRBD resource, and removing it', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: [AMS, FRA, PAR], networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '96M' });
    dir = await mkdtemp(join(tmpdir(), 'ha-storage-add-'));
    full = await bedInventory(bed, { dir, cluster: 'grow', primary: AMS, stepTimeout: '4m' });
    full['drbd'] = [{ name: RES, minor: 0, port: 7788, network: 'replication', disk: '/dev/vdb', protocol: 'C', sync_rate: '10M', nodes: {} }];
    full['filesystems'] = [];
    playbook = join(dir, 'add-node.yaml');
    await writeFile(playbook, steps);
    nodes = new Nodes(bed);
    await nodes.connectAll();
  }, 180_000);

  afterAll(async () => {
    await nodes?.close();
    await bed?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('two nodes: converged, ext4 mounted on ams with a file', async () => {
    const two = await inventoryWith([AMS, FRA], 'two.yaml');
    converged(await cli(['apply', two, playbook, '--json']));
    await nodes.sh(AMS, `mkdir -p /mnt/data && mount /dev/drbd0 /mnt/data && echo ${token} > /mnt/data/before && sync -f /mnt/data/before`);
    fsUuid = await nodes.sh(AMS, 'blkid -p -s UUID -o value /dev/drbd0');
    expect(fsUuid).toMatch(/^[0-9a-f-]{36}$/);
    amsStandin = await standinPid(AMS);
    expect(Number(amsStandin)).toBeGreaterThan(0);
    // two peer slots: the peer, and one to spare (the default headroom)
    expect(await nodes.sh(AMS, `drbdsetup show ${RES} | grep -c 'connection {' || true`)).toBe('1');
  }, 400_000);

  it('par added: the plan adjusts ams and fra live and brings par up, nothing forced', async () => {
    const three = await inventoryWith([AMS, FRA, PAR], 'three.yaml');
    // par's packages first, as for any new server: the plan can then read every node's DRBD state
    const prepared = join(dir, 'packages.yaml');
    await writeFile(prepared, `name: packages\nsteps:\n${DRBD_RESOURCE_STEPS.slice(0, DRBD_RESOURCE_STEPS.indexOf('  - id: drbd-data'))}`);
    converged(await cli(['apply', three, prepared, '--json']));
    const p = await cli(['plan', three, playbook, '--json']);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const plan = json<PlanDoc>(p);
    console.log(`plan with par added:\n${planned(plan).join('\n')}`);
    for (const n of [AMS, FRA]) {
      const s = plan.nodes.find((x) => x.name === n)!.steps.find((x) => x.id === 'drbd-data')!;
      expect(s.status, n).toBe('change');
      expect(s.changes.map((c) => c.argv?.join(' ') ?? c.kind)).toEqual(['upload', `drbdadm adjust ${RES}`]);
    }
    expect(plan.nodes.find((x) => x.name === PAR)!.steps.find((x) => x.id === 'drbd-data')!.status).toBe('change');
    // nothing forced, nothing recreated, nothing restarted, anywhere
    const argvs = plan.nodes.flatMap((n) => n.steps.flatMap((s) => s.changes.map((c) => `${n.name}: ${c.argv?.join(' ') ?? c.kind}`)));
    expect(argvs.filter((a) => /primary --force|mkfs|down|create-md/.test(a) && !a.startsWith(`${PAR}: drbdadm create-md`))).toEqual([]);
    // the application keeps writing on ams while par is synced (~10 s at 10M/s): 40 files, one every 0.4 s
    await nodes.sh(
      AMS,
      `nohup sh -c 'for i in $(seq 1 40); do dd if=/dev/urandom of=/mnt/data/during-$i bs=64k count=4 conv=fsync status=none; sleep 0.4; done; touch /tmp/writer-done' >/dev/null 2>&1 &`,
    );
    const r = await cli(['apply', three, playbook, '--json']);
    const report = converged(r);
    const ran = execsByNode(report, [AMS, FRA, PAR]);
    console.log(`apply with par added, commands per node:\n${JSON.stringify(ran, null, 2)}`);
    expect(ran).toEqual({
      [AMS]: [`drbd-data: drbdadm adjust ${RES}`],
      [FRA]: [`drbd-data: drbdadm adjust ${RES}`],
      [PAR]: [`md-data: drbdadm create-md --max-peers=7 ${RES}`, `up-data: drbdadm up ${RES}`],
    });
    // the running Primary was adjusted, not restarted; its filesystem stayed mounted
    expect(await standinPid(AMS)).toBe(amsStandin);
    expect(await nodes.sh(AMS, 'drbdadm role data; findmnt -n -o SOURCE /mnt/data')).toBe('Primary\n/dev/drbd0');
    await until(
      'par UpToDate, synced from the others',
      async () => {
        const ev = (await nodes.try(PAR, `drbdsetup events2 --now ${RES}`)).out;
        const peers = ev.split('\n').filter((l) => l.startsWith('exists peer-device '));
        return /^exists device .* disk:UpToDate /m.test(ev) && peers.length === 2 && peers.every((l) => / peer-disk:UpToDate /.test(l)) ? true : undefined;
      },
      120_000,
    ).catch(async (e: unknown) => {
      console.log(`par not UpToDate:\n${await diagnostics()}`);
      throw e;
    });
    expect(await nodes.sh(AMS, 'blkid -p -s UUID -o value /dev/drbd0')).toBe(fsUuid);
    await until('the writer on ams done', async () => ((await nodes.try(AMS, 'test -e /tmp/writer-done')).code === 0 ? true : undefined), 60_000);
    written = await nodes.sh(AMS, 'cd /mnt/data && sha256sum during-*');
    expect(written.split('\n')).toHaveLength(40);
    // one source at a time: par took its resync from one node, the other waited and then had nothing to send
    const parLog = await nodes.sh(PAR, `journalctl -u drbd-standin-${RES} --no-pager -o cat`);
    console.log(
      parLog
        .split('\n')
        .filter((l) => /resync/.test(l))
        .join('\n'),
    );
    const again = await cli(['apply', three, playbook, '--json']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(applyKeys(json<ApplyReport>(again), 'changed')).toEqual([]);
  }, 600_000);

  it('switch-over to par: the file written before is there, the filesystem the same', async () => {
    await nodes.sh(AMS, `umount /mnt/data && drbdadm secondary ${RES}`);
    await nodes.sh(PAR, `drbdadm primary ${RES} && mkdir -p /mnt/data && mount /dev/drbd0 /mnt/data`);
    expect(await nodes.sh(PAR, 'cat /mnt/data/before')).toBe(token);
    // what ams wrote while par was being synced, as ams had it
    expect(await nodes.sh(PAR, 'cd /mnt/data && sha256sum during-*')).toBe(written);
    expect(await nodes.sh(PAR, 'blkid -p -s UUID -o value /dev/drbd0')).toBe(fsUuid);
    // the same data area as ams's: the same peer slots (7, the default) on the same disk size
    expect(await nodes.sh(PAR, 'blockdev --getsize64 /dev/drbd0')).toBe(await nodes.sh(AMS, 'blockdev --getsize64 /dev/drbd0'));
    await nodes.sh(PAR, `umount /mnt/data && drbdadm secondary ${RES}`);
    await nodes.sh(AMS, `drbdadm primary ${RES} && mount /dev/drbd0 /mnt/data`);
  }, 120_000);

  it('par removed from the inventory: ams and fra disconnect and forget it, after a plan that shows it', async () => {
    const parId = (await nodes.sh(AMS, `drbdsetup status ${RES} --verbose | sed -n 's/^  ${PAR} node-id:\\([0-9]*\\) .*/\\1/p'`)).trim();
    expect(parId).toMatch(/^\d+$/);
    const two = await inventoryWith([AMS, FRA], 'two.yaml');
    const p = await cli(['plan', two, playbook, '--json']);
    expect(p.code, p.stdout + p.stderr).toBe(0);
    const plan = json<PlanDoc>(p);
    console.log(`plan with par removed:\n${planned(plan).join('\n')}`);
    expect(planned(plan).filter((l) => !l.endsWith(' pending'))).toEqual([`${AMS}: drbd-data change`, `${FRA}: drbd-data change`]);
    for (const n of [AMS, FRA]) {
      const s = plan.nodes.find((x) => x.name === n)!.steps.find((x) => x.id === 'drbd-data')!;
      expect(s.changes.map((c) => c.argv?.join(' ') ?? c.kind)).toEqual(['upload', `drbdadm adjust ${RES}`, `drbdsetup forget-peer ${RES} ${parId}`]);
    }
    const r = await cli(['apply', two, playbook, '--json']);
    const ran = execsByNode(converged(r), [AMS, FRA]);
    console.log(`apply with par removed, commands per node:\n${JSON.stringify(ran, null, 2)}`);
    for (const n of [AMS, FRA]) {
      expect(ran[n]).toEqual([`drbd-data: drbdadm adjust ${RES}`, `drbd-data: drbdsetup forget-peer ${RES} ${parId}`]);
      expect(await nodes.sh(n, `drbdsetup status ${RES}`)).not.toContain(PAR);
    }
    expect(await standinPid(AMS)).toBe(amsStandin);
    expect(await nodes.sh(AMS, 'cat /mnt/data/before')).toBe(token);
    const again = await cli(['plan', two, playbook, '--detailed-exitcode']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  }, 300_000);
});
