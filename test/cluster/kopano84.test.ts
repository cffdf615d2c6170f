/**
 * Issue 15.1's stretch: the Kopano playbook (playbooks/kopano-drbd.yaml,
 * unchanged) on two fresh bed nodes whose DRBD stand-in plays 8.4.11
 * (docker/standin/README.md, section 3): the tool writes 8.4 resource files
 * and v08 metadata, brings both resources up and syncs them with drbd-utils'
 * drbdadm-84, and Pacemaker's REAL ocf:linbit:drbd agent drives them on an
 * 8.4 module (no events2 there: the agent reads `drbdsetup sh-status`).
 * A plan saved on the fresh nodes is applied (apply --plan); every resource
 * ends Started on one node, DRBD Promoted there and UpToDate on both; every
 * change apply made was in the plan; a second apply changes nothing.
 * No fencing devices (as the lab: stonith-enabled=false); the failover
 * drills of test/cluster/kopano.test.ts are not repeated on 8.4.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { applyKeys, cli, converged, json, Nodes, planKeys, ROOT, until, type ApplyReport, type PlanDoc } from '../storage/support.js';
import { activeNode, parseStatus, writeKopanoInventory } from './support.js';

const PLAYBOOK = join(ROOT, 'playbooks/kopano-drbd.yaml');
const NODES = ['bob', 'alice'];
const GROUPED = ['mysql_fs', 'mysql_ip', 'mysqld', 'kopano_fs', 'kopano_ip', 'kopano-server', 'kopano-spooler', 'kopano-dagent', 'kopano-monitor', 'kopano-gateway', 'kopano-ical'];
const PROMOTABLE = ['drbd_mysql', 'drbd_kopano'];

let bed: Bed;
let nodes: Nodes;
let dir: string;
let inventory: string;
let plan: PlanDoc;
let report: ApplyReport;

describe('playbooks/kopano-drbd.yaml on two DRBD 8.4 bed nodes', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: NODES, networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '512M', drbd: '8.4' });
    dir = await mkdtemp(join(tmpdir(), 'ha-kopano84-'));
    ({ path: inventory } = await writeKopanoInventory(bed, dir, PLAYBOOK, { primary: 'bob' }));
    nodes = new Nodes(bed);
    await nodes.connectAll();
  });

  afterAll(async () => {
    await nodes?.close();
    await bed?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('converges in one run through a plan saved on the fresh nodes (apply --plan)', async () => {
    const saved = join(dir, 'plan.json');
    const p = await cli(['plan', inventory, PLAYBOOK, '-o', saved, '--json']);
    expect(p.code, p.stderr).toBe(0);
    plan = json<PlanDoc>(p);
    for (const n of plan.nodes) for (const s of n.steps) expect(['ok', 'change', 'pending'], `${n.name}/${s.id}: ${s.status} ${s.reason ?? ''}`).toContain(s.status);
    report = converged(await cli(['apply', '--plan', saved, '--json']));
    expect(report.outcome).toBe('changed');
  }, 600_000);

  it('every resource Started on one node, DRBD Promoted there (the real ocf:linbit:drbd on 8.4), UpToDate on both', async () => {
    const st = await until(
      'every resource Started on one node',
      async () => {
        const s = parseStatus(await nodes.sh('bob', 'crm_mon -1 --output-as=xml'));
        return activeNode(s, GROUPED, PROMOTABLE, NODES) ? s : undefined;
      },
      90_000,
    );
    const active = activeNode(st, GROUPED, PROMOTABLE, NODES)!;
    expect(st.resources.filter((r) => r.failed)).toEqual([]);
    for (const n of NODES) {
      expect(await nodes.sh(n, 'drbdadm --version 2>/dev/null | grep DRBDADM_API_VERSION=')).toBe('DRBDADM_API_VERSION=1');
      for (const res of ['mysql', 'kopano']) {
        expect(await nodes.sh(n, `drbdadm dstate ${res}`)).toBe('UpToDate/UpToDate');
        expect((await nodes.sh(n, `drbdadm role ${res}`)).split('/')[0]).toBe(n === active ? 'Primary' : 'Secondary');
        expect(await nodes.sh(n, `cat /etc/drbd.d/${res}.res`)).not.toMatch(/node-id|connection-mesh/);
      }
    }
    expect(await nodes.sh(active, 'findmnt -n -o SOURCE,FSTYPE /var/lib/kopano')).toMatch(/^\/dev\/drbd1\s+ext4$/);
  }, 120_000);

  it('the plan listed every (node, step) apply changed, and the changes it knew of were made', () => {
    const changed = applyKeys(report, 'changed');
    expect(changed.filter((k) => !planKeys(plan, ['change', 'pending']).includes(k))).toEqual([]);
    expect(planKeys(plan, ['change']).filter((k) => !changed.includes(k))).toEqual([]);
  });

  it('a second apply changes nothing', async () => {
    const r = await cli(['apply', inventory, PLAYBOOK, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const again = json<ApplyReport>(r);
    expect(applyKeys(again, 'changed')).toEqual([]);
    expect(again.steps.filter((s) => s.outcome !== 'ok')).toEqual([]);
  }, 240_000);
});
