/**
 * playbooks/mutual-failover.yaml (003, mutual failover) on two fresh test-bed
 * nodes: a plan, then one apply ends with instance mail1 (DRBD Promoted, file
 * system, IP, service) on the first node and mail2 on the second, as their location
 * constraints prefer, each instance's host name on its IP in /etc/hosts; a
 * second apply changes nothing (mkfs on the primary meets mail2 Secondary
 * there: done, not refused); the second hard-stopped, the first runs both with mail2's
 * data; the second back, mail2 returns to it; the first stopped, the second runs both.
 * The nodes are named unlike the lab (lyon, nantes) and the primary is the
 * second: the playbook names no node (issue 11, point 3).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { applyKeys, converged, cli, json, Nodes, ROOT, until, type ApplyReport, type PlanDoc } from '../storage/support.js';
import { clusterStatus, lanAddress, mutualFailoverInventory, writeClusterInventory, type ClusterStatus } from './support.js';

const PLAYBOOK = join(ROOT, 'playbooks/mutual-failover.yaml');
// Named unlike the lab, the primary (initial sync, mkfs) on the second node.
const [FIRST, SECOND] = ['lyon', 'nantes'];
const NODES = [FIRST, SECOND];
const GROUP = (n: 1 | 2) => [`mail${n}_fs`, `mail${n}_ip`, `mail${n}_service`];

let bed: Bed;
let nodes: Nodes;
let dir: string;
let inventory: string;

/** Where every member of instance n runs Started (undefined unless all on one node, its DRBD Promoted there). */
function instanceAt(s: ClusterStatus, n: 1 | 2): string | undefined {
  const at = new Set(GROUP(n).map((id) => s.resources.find((r) => r.id === id && r.role === 'Started' && !r.failed)?.node ?? '-'));
  const promoted = s.resources.filter((r) => r.id === `drbd_mail${n}` && r.role === 'Promoted').map((r) => r.node);
  if (at.size !== 1 || at.has('-') || promoted.length !== 1 || !at.has(promoted[0]!)) return undefined;
  return promoted[0];
}

describe('playbooks/mutual-failover.yaml on two fresh test-bed nodes', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: NODES, networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '256M' });
    dir = await mkdtemp(join(tmpdir(), 'ha-mutual-'));
    const inv = await mutualFailoverInventory(bed, dir, { primary: SECOND, playbook: PLAYBOOK, domain: 'scalix.demo' });
    ({ path: inventory } = await writeClusterInventory(dir, inv));
    nodes = new Nodes(bed);
    await nodes.connectAll();
  });

  afterAll(async () => {
    await nodes?.close();
    await bed?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('plans with nothing refused, then applies in one run', async () => {
    const p = await cli(['plan', inventory, '--json']);
    expect(p.code, p.stderr).toBe(0);
    for (const n of json<PlanDoc>(p).nodes) for (const s of n.steps) expect(['ok', 'change', 'pending'], `${n.name}/${s.id}`).toContain(s.status);
    const r = await cli(['apply', inventory, '--json']);
    converged(r);
  }, 400_000);

  it('mail1 runs on the first node and mail2 on the second node, each with its DRBD Promoted there and its IP', async () => {
    const s = await until(
      'mail1 on the first node and mail2 on the second node',
      async () => {
        const st = await clusterStatus(nodes, FIRST);
        return instanceAt(st, 1) === FIRST && instanceAt(st, 2) === SECOND ? st : undefined;
      },
      60_000,
    ).catch(async (e: unknown) => {
      const diag = await nodes.try(
        FIRST,
        'crm_mon -1 -r -f; ls -ld /srv/mail1 /srv/mail2; grep -i -B2 -A8 "not installed\\|Filesystem" /var/log/pacemaker/pacemaker.log | tail -40',
      );
      throw new Error(`${String(e)}\n${diag.out}\n${diag.err}`);
    });
    expect(s.online).toEqual([...NODES].sort());
    expect(await nodes.sh(FIRST, 'findmnt -n -o SOURCE /srv/mail1')).toBe('/dev/drbd0');
    expect(await nodes.sh(SECOND, 'findmnt -n -o SOURCE /srv/mail2')).toBe('/dev/drbd1');
    expect(await nodes.sh(SECOND, 'ip -o -4 addr show dev eth0')).toContain(`inet ${lanAddress(bed, 111)}/32`);
    expect(await nodes.sh(FIRST, `ping -c 1 -W 2 ${lanAddress(bed, 111)} >/dev/null && echo up`)).toBe('up');
    // 003: each instance's host name resolves to its IP on both nodes, without DNS
    for (const n of NODES) {
      expect(await nodes.sh(n, 'getent hosts mail1.scalix.demo')).toMatch(new RegExp(`^${lanAddress(bed, 110).replace(/\./g, '\\.')}\\s+mail1\\.scalix\\.demo$`));
      expect(await nodes.sh(n, 'getent hosts mail2.scalix.demo')).toMatch(new RegExp(`^${lanAddress(bed, 111).replace(/\./g, '\\.')}\\s+mail2\\.scalix\\.demo$`));
    }
    expect(await nodes.sh(SECOND, 'ping -c 1 -W 2 mail1.scalix.demo >/dev/null && echo up')).toBe('up');
  }, 90_000);

  it('a second apply changes nothing', async () => {
    const r = await cli(['apply', inventory, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(applyKeys(json<ApplyReport>(r), 'changed')).toEqual([]);
  }, 120_000);

  it('the second node hard-stopped: the first node runs both instances, with the data mail2 held', async () => {
    await nodes.sh(SECOND, 'echo mail2-data > /srv/mail2/mark && sync -f /srv/mail2/mark');
    await bed.node(SECOND).kill();
    await until(
      'both instances on the first node',
      async () => {
        const st = await clusterStatus(nodes, FIRST);
        return instanceAt(st, 1) === FIRST && instanceAt(st, 2) === FIRST ? st : undefined;
      },
      120_000,
    );
    expect(await nodes.sh(FIRST, 'cat /srv/mail2/mark')).toBe('mail2-data');
    expect(await nodes.sh(FIRST, 'ip -o -4 addr show dev eth0')).toContain(`inet ${lanAddress(bed, 111)}/32`);
  }, 150_000);

  it('the second node back: mail2 returns to it (its location preference), with what the first node wrote meanwhile', async () => {
    await nodes.sh(FIRST, 'echo written-on-the first node >> /srv/mail2/mark && sync -f /srv/mail2/mark');
    await bed.node(SECOND).start();
    await nodes.connect(SECOND);
    await until(
      'mail2 back on the second node',
      async () => {
        const st = await clusterStatus(nodes, FIRST);
        return instanceAt(st, 1) === FIRST && instanceAt(st, 2) === SECOND ? st : undefined;
      },
      180_000,
    );
    expect(await nodes.sh(SECOND, 'cat /srv/mail2/mark')).toBe('mail2-data\nwritten-on-the first node');
  }, 200_000);

  it('the first node stopped: the second node runs both instances, with the data mail1 held', async () => {
    await nodes.sh(FIRST, 'echo mail1-data > /srv/mail1/mark && sync -f /srv/mail1/mark');
    await bed.node(FIRST).stop(); // graceful: Pacemaker moves mail1 away as the first node shuts down
    await until(
      'both instances on the second node',
      async () => {
        const st = await clusterStatus(nodes, SECOND);
        return instanceAt(st, 1) === SECOND && instanceAt(st, 2) === SECOND ? st : undefined;
      },
      120_000,
    );
    expect(await nodes.sh(SECOND, 'cat /srv/mail1/mark')).toBe('mail1-data');
  }, 150_000);
});
