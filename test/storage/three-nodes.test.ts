/**
 * Issue 18.1 and 18.2 on the test bed, through the built CLI: one DRBD
 * resource on three nodes with names of their own (ams, fra, par; `ams` is
 * the primary), DRBD quorum on, backing device the whole data disk.
 *
 * First the refusal: metadata made by hand on fra with `--max-peers=1`
 * under the three-host resource file: the plan refuses drbd-create-md there
 * (exit 7) saying what it found (1 slot, 2 peers) and what to do; apply
 * stops before its first change. Then, that metadata wiped by hand, one
 * apply converges: metadata with 7 slots (the default) on each node, up on
 * all three, every connection Connected, the initial sync from ams to both
 * others (a pattern written on ams's backing device before anything else is
 * found on fra's and par's afterwards), UpToDate everywhere, one current
 * UUID; the plan listed what apply changed; a second apply changes nothing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { bedInventory } from '../support/bed-inventory.js';
import { applyKeys, converged, cli, DRBD_DATA_STEPS, DRBD_RESOURCE_STEPS, execsByNode, json, Nodes, planKeys, type ApplyReport, type PlanDoc } from './support.js';

const NODES = ['ams', 'fra', 'par'];
const RES = 'data';
/** A pattern on ams's backing device, past the 68 KiB create-md checks and inside the data area. */
const PATTERN_AT = 4 << 20;

let bed: Bed;
let nodes: Nodes;
let dir: string;
let inventory: string;
let playbook: string;
let plan: PlanDoc;
let report: ApplyReport;

/** `drbdsetup events2 --now RES` on a node, as objects: connections and peer devices by peer name. */
async function events(node: string) {
  const out = await nodes.sh(node, `drbdsetup events2 --now ${RES}`);
  const rows = out
    .split('\n')
    .filter((l) => l.startsWith('exists ') && l !== 'exists -')
    .map((l) => {
      const [, kind, ...kv] = l.split(' ');
      return { kind: kind!, ...Object.fromEntries(kv.map((f) => [f.slice(0, f.indexOf(':')), f.slice(f.indexOf(':') + 1)])) } as Record<string, string>;
    });
  return rows;
}

describe('a DRBD resource on three nodes (ams, fra, par)', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: NODES, networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '96M' });
    dir = await mkdtemp(join(tmpdir(), 'ha-storage-three-'));
    const doc = await bedInventory(bed, { dir, cluster: 'trio', primary: 'ams', stepTimeout: '4m' });
    doc.drbd = [
      {
        name: RES,
        minor: 0,
        port: 7788,
        network: 'replication',
        disk: '/dev/vdb',
        protocol: 'C',
        sync_rate: '100M',
        nodes: Object.fromEntries(NODES.map((n) => [n, {}])),
        quorum: 'majority',
      },
    ];
    doc.filesystems = [];
    inventory = join(dir, 'inventory.yaml');
    await writeFile(inventory, stringify(doc));
    playbook = join(dir, 'three-nodes.yaml');
    await writeFile(playbook, `name: three-nodes\nsteps:\n${DRBD_DATA_STEPS}`);
    nodes = new Nodes(bed);
    await nodes.connectAll();
    // what the initial sync must carry from ams to the others
    await nodes.sh('ams', `head -c 65536 /dev/urandom > /tmp/pattern && dd if=/tmp/pattern of=/dev/vdb bs=65536 seek=${PATTERN_AT / 65536} conv=notrunc,fsync status=none`);
  }, 180_000);

  afterAll(async () => {
    await nodes?.close();
    await bed?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('metadata with fewer peer slots than peers is refused in the plan (exit 7), saying what it found and what to do; apply changes nothing', async () => {
    const setupFile = join(dir, 'setup.yaml');
    await writeFile(setupFile, `name: setup\nsteps:\n${DRBD_RESOURCE_STEPS}`);
    const setup = await cli(['apply', inventory, setupFile, '--json']);
    expect(setup.code, setup.stdout + setup.stderr).toBe(0);
    const conf = await nodes.sh('fra', `cat /etc/drbd.d/${RES}.res`);
    expect(conf).toContain('  connection-mesh {\n    hosts ams fra par;\n  }');
    expect(conf).toContain('  options {\n    quorum majority;\n    on-no-quorum io-error;\n  }');
    // by hand, as the user did: one peer slot
    await nodes.sh('fra', `drbdadm create-md --max-peers=1 ${RES} </dev/null >/dev/null 2>&1`);
    expect(await nodes.sh('fra', `drbdadm -- --force dump-md ${RES} 2>/dev/null | grep '^max-peers'`)).toBe('max-peers 1;');
    // and what DRBD says to that
    const up = await nodes.try('fra', `drbdadm up ${RES}`);
    expect(up.code).not.toBe(0);
    expect(up.err).toContain('Not enough free bitmap slots (available=1, needed=2)');
    await nodes.sh('fra', `drbdadm down ${RES}`);

    const p = await cli(['plan', inventory, playbook, '--json']);
    expect(p.code, p.stderr).toBe(7);
    const doc = json<PlanDoc>(p);
    const md = doc.nodes.find((n) => n.name === 'fra')!.steps.find((s) => s.id === 'md-data')!;
    expect(md.status).toBe('refused');
    expect(md.reason).toMatch(
      /^the DRBD metadata of data on \/dev\/vdb has 1 peer slot\(s\) \(drbdmeta dump-md: max-peers 1\) but the resource has 2 peers in its configuration: DRBD cannot attach it \("Not enough free bitmap slots"\)\. The metadata must be recreated with at least 2 slots, .*`drbdadm down data; drbdadm create-md --max-peers=7 data`/,
    );
    // the others would just create theirs
    for (const n of ['ams', 'par']) {
      const s = doc.nodes.find((x) => x.name === n)!.steps.find((x) => x.id === 'md-data')!;
      expect(s.status, n).toBe('change');
      expect(s.changes.map((c) => c.argv?.join(' '))).toEqual([`drbdadm create-md --max-peers=7 ${RES}`]);
    }
    const a = await cli(['apply', inventory, playbook, '--json']);
    expect(a.code, a.stdout + a.stderr).toBe(7);
    expect(a.stderr + a.stdout).toMatch(/fra: md-data|"step": ?"md-data"/);
    for (const n of NODES) expect((await nodes.try(n, `drbdadm get-gi ${RES}`)).code, n).toBe(n === 'fra' ? 0 : 1);
    // out of the way for the rest: this node never held data
    await nodes.sh('fra', `drbdadm wipe-md --force ${RES} </dev/null >/dev/null 2>&1`);
  }, 200_000);

  it('plans, then converges in one apply', async () => {
    const p = await cli(['plan', inventory, playbook, '--json']);
    expect(p.code, p.stderr).toBe(0);
    plan = json<PlanDoc>(p);
    const r = await cli(['apply', inventory, playbook, '--json']);
    report = converged(r);
    // the commands that changed something, per node (issue 18's closing note)
    console.log(`three-node apply, commands per node:\n${JSON.stringify(execsByNode(report, NODES), null, 2)}`);
    expect(execsByNode(report, NODES)).toEqual({
      ams: [`md-data: drbdadm create-md --max-peers=7 ${RES}`, `up-data: drbdadm up ${RES}`, `sync-data: drbdadm primary --force ${RES}`],
      fra: [`md-data: drbdadm create-md --max-peers=7 ${RES}`, `up-data: drbdadm up ${RES}`],
      par: [`md-data: drbdadm create-md --max-peers=7 ${RES}`, `up-data: drbdadm up ${RES}`],
    });
  }, 300_000);

  it('every connection is Connected and every disk UpToDate, on each node towards both others; ams is Primary', async () => {
    for (const n of NODES) {
      const rows = await events(n);
      const peers = NODES.filter((x) => x !== n);
      expect(
        rows.filter((r) => r.kind === 'connection').map((r) => [r['conn-name'], r.connection]),
        n,
      ).toEqual(peers.map((x) => [x, 'Connected']));
      expect(
        rows.filter((r) => r.kind === 'device').map((r) => r.disk),
        n,
      ).toEqual(['UpToDate']);
      expect(
        rows.filter((r) => r.kind === 'peer-device').map((r) => [r['conn-name'], r.replication, r['peer-disk']]),
        n,
      ).toEqual(peers.map((x) => [x, 'Established', 'UpToDate']));
      expect(rows.find((r) => r.kind === 'resource')!.role, n).toBe(n === 'ams' ? 'Primary' : 'Secondary');
      expect(await nodes.sh(n, `drbdadm -- --force dump-md ${RES} 2>/dev/null | grep '^max-peers'`), n).toBe('max-peers 7;');
    }
  });

  it('the initial sync went from ams to both others: the same data area and current UUID everywhere, with what ams held', async () => {
    const size = Number(await nodes.sh('ams', 'blockdev --getsize64 /dev/drbd0'));
    expect(size).toBeGreaterThan(PATTERN_AT + 65536);
    const sums = await Promise.all(NODES.map((n) => nodes.sh(n, `head -c ${size} /dev/vdb | sha256sum | cut -d" " -f1`)));
    expect(new Set(sums).size, sums.join(' ')).toBe(1);
    const pattern = await nodes.sh('ams', 'sha256sum < /tmp/pattern | cut -d" " -f1');
    for (const n of NODES) expect(await nodes.sh(n, `dd if=/dev/vdb bs=65536 skip=${PATTERN_AT / 65536} count=1 status=none | sha256sum | cut -d" " -f1`), n).toBe(pattern);
    const gis = await Promise.all(NODES.map((n) => nodes.sh(n, `drbdadm get-gi ${RES} 2>/dev/null | head -n 1`)));
    const current = gis.map((g) => g.split(':')[0]);
    expect(new Set(current).size, gis.join('\n')).toBe(1);
    expect(current[0]).not.toMatch(/^000000000000000[45]$/);
  });

  it('the plan listed every (node, step) apply changed, and the changes it knew of were made', () => {
    const changed = applyKeys(report, 'changed');
    const planned = planKeys(plan, ['change', 'pending']);
    expect(changed.filter((k) => !planned.includes(k))).toEqual([]);
    expect(planKeys(plan, ['change']).filter((k) => !changed.includes(k))).toEqual([]);
    expect(planned.filter((k) => !changed.includes(k))).toEqual([]);
  });

  it('a second apply changes nothing, and a plan plans nothing', async () => {
    const r = await cli(['apply', inventory, playbook, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const again = json<ApplyReport>(r);
    expect(applyKeys(again, 'changed')).toEqual([]);
    expect(execsByNode(again, NODES)).toEqual({ ams: [], fra: [], par: [] });
    const p = await cli(['plan', inventory, playbook, '--detailed-exitcode']);
    expect(p.code, p.stdout + p.stderr).toBe(0);
  }, 120_000);
});
