/**
 * playbooks/arbitrator.yaml (004: two data nodes and a small arbitrator) on
 * three fresh test-bed nodes (named unlike the lab: oslo, bergen, witness;
 * the primary is the second data node): one apply ends with both data nodes in one
 * corosync cluster whose quorum device is corosync-qnetd on the arbiter
 * (3 votes), the data service on one data node; a second apply changes
 * nothing; `ha-provision drill --node-failure` on the active data node
 * (fenced with a reboot through the bed's hypervisor): the service runs on
 * the other data node, which kept quorum with the arbitrator, and the node
 * comes back; then the active data node hard-stopped, the other keeps quorum (its
 * vote + the arbitrator's), fences it (fence_virsh through the bed's
 * hypervisor: the data nodes are fenced, the arbitrator runs no Pacemaker)
 * and starts the service.
 *
 * The quorum device speaks TLS (qdevice tls: on): the certificate exchange
 * ran through the controller (plan: the carries known after apply; apply:
 * both data nodes hold the same cluster certificate, qnetd sees their
 * client certificates verified), and the private key that went from the
 * first data node to the second (its .p12) appears nowhere: output, plan
 * files, journal, run log.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { bedInventory } from '../support/bed-inventory.js';
import { renderDrill } from '../../src/cli/drill.js';
import type { DrillReport } from '../../src/drill/model.js';
import { applyKeys, converged, cli, json, Nodes, ROOT, until, type ApplyReport } from '../storage/support.js';
import { addBedFencing, clusterStatus, filesUnder, followPorts, lanAddress, recordHypervisorKeys, slowClusterBoot, writeClusterInventory, type ClusterStatus } from './support.js';

const PLAYBOOK = join(ROOT, 'playbooks/arbitrator.yaml');
// Named unlike the lab, the primary (initial sync, mkfs) on the second data node.
const [D1, D2, ARB] = ['oslo', 'bergen', 'witness'];
const DATA = [D1, D2];
const MEMBERS = ['data_fs', 'data_ip', 'data_service'];

let bed: Bed;
let nodes: Nodes;
let dir: string;
let inventory: string;
let active: string;
const fencePassword = `fence-${randomBytes(9).toString('base64url')}`;
/** Every CLI output of this file (stdout and stderr), for the leak check. */
const outputs: string[] = [];
const P12 = '/etc/corosync/qdevice/net/nssdb/qdevice-net-node.p12';

async function run(args: string[]): Promise<Awaited<ReturnType<typeof cli>>> {
  const r = await cli(args);
  outputs.push(r.stdout, r.stderr);
  return r;
}

interface PlanChange {
  kind: string;
  from?: string;
  source?: string;
  path?: string;
  mode?: string;
}
interface PlanFile {
  nodes: { name: string; steps: { id: string; status: string; reason?: string; changes: PlanChange[] }[] }[];
}
function planStep(plan: PlanFile, node: string, id: string) {
  return plan.nodes.find((n) => n.name === node)!.steps.find((s) => s.id === id)!;
}

function serviceAt(s: ClusterStatus): string | undefined {
  const at = new Set(MEMBERS.map((id) => s.resources.find((r) => r.id === id && r.role === 'Started' && !r.failed)?.node ?? '-'));
  const promoted = s.resources.filter((r) => r.id === 'drbd_data' && r.role === 'Promoted').map((r) => r.node);
  if (at.size !== 1 || at.has('-') || promoted.length !== 1 || !at.has(promoted[0]!)) return undefined;
  return promoted[0];
}

describe('playbooks/arbitrator.yaml on two data nodes and an arbitrator', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: [...DATA, ARB], networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '256M', hypervisor: { password: fencePassword } });
    dir = await mkdtemp(join(tmpdir(), 'ha-arbitrator-'));
    const inv = await bedInventory(bed, { dir, cluster: 'arb', primary: D2, playbook: PLAYBOOK, vars: { data_disk: '/dev/vdb' } });
    (inv['nodes'] as Record<string, Record<string, unknown>>)[ARB]!['groups'] = ['arbitrator'];
    const members = { [D1]: {}, [D2]: {} };
    inv['drbd'] = [{ name: 'data', minor: 0, port: 7788, network: 'replication', disk: '/dev/vdb1', protocol: 'C', sync_rate: '100M', nodes: members }];
    inv['filesystems'] = [{ name: 'data_fs', drbd: 'data', directory: '/srv/data', fstype: 'ext4' }];
    inv['vips'] = [{ name: 'data_ip', ip: lanAddress(bed, 120), cidr_netmask: 32, nic: 'eth0', network: 'lan' }];
    await addBedFencing(dir, inv, DATA, { hypervisor: bed.hypervisor!, password: fencePassword, action: 'off' });
    ({ path: inventory } = await writeClusterInventory(dir, inv));
    nodes = new Nodes(bed);
    await nodes.connectAll();
    await recordHypervisorKeys(nodes, bed, DATA);
  });

  afterAll(async () => {
    await nodes?.close();
    await bed?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('plans the certificate exchange on fresh nodes: known after apply (its tools come with the packages)', async () => {
    const r = await run(['plan', inventory, '-o', join(dir, 'plan-fresh.json')]);
    expect([0, 6], r.stderr).toContain(r.code);
    const plan = JSON.parse(await readFile(join(dir, 'plan-fresh.json'), 'utf8')) as PlanFile;
    for (const [node, id] of [
      [ARB, 'qnetd-certs'],
      [D1, 'qdevice-request'],
      [ARB, 'qnetd-sign'],
      [D1, 'qdevice-import'],
      [D2, 'qdevice-share'],
    ] as const) {
      expect(planStep(plan, node, id)).toMatchObject({ status: 'pending', reason: expect.stringMatching(/^known after apply/) });
    }
  }, 60_000);

  it('applies it in one run', async () => {
    const r = await run(['apply', inventory, '--json']);
    converged(r);
    // the arbitrator got only qnetd: no pacemaker, no corosync member
    expect((await nodes.try(ARB, 'systemctl is-active corosync-qnetd')).out).toBe('active');
    expect((await nodes.try(ARB, 'dpkg-query -W -f "${db:Status-Status}" pacemaker')).out).not.toBe('installed');
  }, 400_000);

  it('the data nodes are one cluster with the arbitrator’s vote (3 votes, quorum device), the service on one data node', async () => {
    const q = await until(
      'the quorum device voting',
      async () => {
        const out = (await nodes.try(D1, 'corosync-quorumtool -s')).out;
        return /Total votes:\s+3/.test(out) && /Qdevice/.test(out) ? out : undefined;
      },
      60_000,
    );
    expect(q).toMatch(/Quorate:\s+Yes/);
    const qnetd = await nodes.sh(ARB, 'corosync-qnetd-tool -l -v');
    expect(qnetd.match(/Node ID/g)?.length, qnetd).toBe(2);
    // TLS: both data nodes connected with their (shared) cluster certificate, verified
    expect(qnetd.match(/TLS active:\s+Yes \(client certificate verified\)/g)?.length, qnetd).toBe(2);
    const fp = async (n: string) => nodes.sh(n, 'certutil -L -d /etc/corosync/qdevice/net/nssdb -n "Cluster Cert" | grep -A1 "Fingerprint (SHA-256)" | tail -1');
    expect(await fp(D1)).toBe(await fp(D2));
    for (const n of DATA) expect(await nodes.sh(n, `stat -c %a ${P12}`)).toBe('600');
    const s = await until(
      'the data service started',
      async () => {
        const st = await clusterStatus(nodes, D1);
        return serviceAt(st) ? st : undefined;
      },
      60_000,
    ).catch(async (e: unknown) => {
      const diag = await nodes.try(D1, 'crm_mon -1 -r -f; ls -ld /srv/data; ls -l /dev/drbd*; grep -i "Filesystem\\|data_fs" /var/log/pacemaker/pacemaker.log | tail -30');
      throw new Error(`${String(e)}\n${diag.out}\n${diag.err}`);
    });
    expect(s.online).toEqual([...DATA].sort());
    active = serviceAt(s)!;
    expect(await nodes.sh(active, 'findmnt -n -o SOURCE /srv/data')).toBe('/dev/drbd0');
  }, 120_000);

  it('a data node that lost its cluster certificate: the plan shows the .p12 carried from the first one (content not shown), apply restores it', async () => {
    await nodes.sh(D2, 'certutil -F -d /etc/corosync/qdevice/net/nssdb -n "Cluster Cert" -f /etc/corosync/qdevice/net/nssdb/pwdfile.txt');
    const r = await run(['plan', inventory, '-o', join(dir, 'plan-lost.json')]);
    expect(r.code, r.stderr).toBe(0);
    const share = planStep(JSON.parse(await readFile(join(dir, 'plan-lost.json'), 'utf8')) as PlanFile, D2, 'qdevice-share');
    expect(share.status).toBe('change');
    expect(share.changes.map((c) => c.kind)).toEqual(['carry', 'exec', 'exec']);
    expect(share.changes[0]).toMatchObject({ from: D1, source: P12, path: P12, mode: '0600' });
    expect(r.stdout).toContain(`carry ${D1}:${P12} -> ${P12} (0600 root:root, through the controller, content not shown)`);
    const a = await run(['apply', inventory, '--json']);
    expect(a.code, a.stderr).toBe(0);
    expect(applyKeys(json<ApplyReport>(a), 'changed')).toEqual([`${D2}/qdevice-share`]);
    await until(
      'both data nodes on qnetd with TLS again',
      async () => ((await nodes.sh(ARB, 'corosync-qnetd-tool -l -v')).match(/TLS active:\s+Yes \(client certificate verified\)/g)?.length === 2 ? true : undefined),
      30_000,
    );
  }, 90_000);

  it('a second apply changes nothing', async () => {
    const r = await run(['apply', inventory, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(applyKeys(json<ApplyReport>(r), 'changed')).toEqual([]);
  }, 120_000);

  it('the private key carried between the data nodes appears nowhere: output, plan files, journal, run log', async () => {
    const p12 = Buffer.from(await nodes.sh(D1, `base64 -w0 ${P12}`), 'base64');
    expect(p12.length).toBeGreaterThan(1000);
    // the key itself, read from the .p12 here (empty password, as corosync-qdevice-net-certutil makes it);
    // its public half (the modulus, also in the certificate that probes print) is no secret: left out
    const cert = (await nodes.sh(D1, 'certutil -L -d /etc/corosync/qdevice/net/nssdb -n "Cluster Cert" -a')).replace(/\r/g, '');
    const keyPem = execFileSync('openssl', ['pkcs12', '-nocerts', '-nodes', '-passin', 'pass:'], { input: p12 }).toString();
    const keyDer = execFileSync('openssl', ['pkey', '-outform', 'DER'], { input: keyPem });
    const keyLines = keyPem.split('\n').filter((l) => /^[A-Za-z0-9+/]{64}$/.test(l) && !cert.includes(l));
    expect(keyLines.length).toBeGreaterThan(15);
    const b64 = p12.toString('base64');
    const keyB64 = keyDer.toString('base64');
    const needles = [
      ...keyLines,
      ...[600, 900, 1200].map((o) => keyB64.slice(o, o + 60)),
      createHash('sha256').update(keyDer).digest('hex'),
      createHash('sha256').update(p12).digest('hex'),
      ...[500, 1000, 2000, 3000].map((o) => b64.slice(o, o + 48)),
      p12.toString('hex').slice(2000, 2080),
    ];
    const files = await filesUnder(dir);
    expect(files.some((f) => f.endsWith('.jsonl'))).toBe(true);
    expect(files.some((f) => f.endsWith('plan-lost.json'))).toBe(true);
    const texts = [...(await Promise.all(files.map(async (f) => [f, await readFile(f, 'utf8')] as const))), ...outputs.map((o, i) => [`output ${i}`, o] as const)];
    const hits = texts.flatMap(([where, text]) => needles.flatMap((n, i) => (text.includes(n) ? [`needle ${i} in ${where}`] : [])));
    expect(hits).toEqual([]);
    // and the carry is in the run log, told by its size only
    const logs = (await Promise.all(files.filter((f) => f.includes('/state/')).map((f) => readFile(f, 'utf8')))).join('\n');
    expect(logs).toMatch(/bytes read for a carry, not shown/);
  }, 60_000);

  it('drill --node-failure on the active data node: fenced (reboot), the service runs on the other one, which keeps quorum with the arbitrator; the node comes back', async () => {
    await slowClusterBoot(nodes, DATA);
    const survivor = DATA.find((n) => n !== active)!;
    // the cluster's action is off; the drill reboots so that the node comes back by itself
    const r = await cli(['drill', inventory, '--node-failure', active, '--action', 'reboot', '--yes', '--json', '--timeout', '280']);
    const d = json<DrillReport>(r);
    console.log(`004 node-failure:\n${renderDrill(d)}`);
    expect(r.code, r.stderr + JSON.stringify(d.reasons)).toBe(0);
    expect(d.verdict).toBe('passed');
    expect(d.drill).toMatchObject({ kind: 'node-failure', node: active, method: 'fence', action: 'reboot', from: survivor });
    expect(d.fenced).toMatchObject({ target: active, action: 'reboot', status: 'success' });
    expect(
      d.timeline.some((e) => e.event === 'service-running' && e.detail === `data runs on ${survivor}`),
      JSON.stringify(d.timeline),
    ).toBe(true);
    expect(d.markers.find((m) => m.file === '/srv/data/.ha-provision-drill')).toMatchObject({ ok: true });
    expect(d.nodeBack).toBe(true);
    expect(JSON.stringify(d)).not.toContain(fencePassword);
    await bed.node(active).started();
    await nodes.connect(active);
    await followPorts(inventory, bed);
    // the survivor kept quorum with the arbitrator's vote while the node was away; all 3 votes again now
    await until('3 votes again', async () => (/Total votes:\s+3/.test((await nodes.try(survivor, 'corosync-quorumtool -s')).out) ? true : undefined), 60_000);
    const s = await until(
      'the data service started',
      async () => {
        const st = await clusterStatus(nodes, survivor);
        return serviceAt(st) && st.online.length === 2 ? st : undefined;
      },
      120_000,
    );
    active = serviceAt(s)!;
  }, 400_000);

  it('the active data node hard-stopped: the other keeps quorum with the arbitrator, fences it and starts the service', async () => {
    const survivor = DATA.find((n) => n !== active)!;
    await nodes.sh(active, 'echo before-stop > /srv/data/mark && sync -f /srv/data/mark');
    const t0 = Date.now();
    await bed.node(active).kill();
    await until(
      `${active} fenced by ${survivor}`,
      async () => (/off of \S+ successful/.test((await nodes.try(survivor, `stonith_admin --history ${active}`)).out) ? true : undefined),
      120_000,
    );
    const tFenced = Date.now();
    await until(`the service on ${survivor}`, async () => serviceAt(await clusterStatus(nodes, survivor)) === survivor || undefined, 120_000);
    console.log(
      `004: ${active} fenced ${((tFenced - t0) / 1000).toFixed(1)} s after its hard stop; the service on ${survivor} ${((Date.now() - tFenced) / 1000).toFixed(1)} s after the fencing`,
    );
    const q = await nodes.sh(survivor, 'corosync-quorumtool -s');
    expect(q).toMatch(/Quorate:\s+Yes/);
    expect(q).toMatch(/Total votes:\s+2/);
    expect(await nodes.sh(survivor, 'cat /srv/data/mark')).toBe('before-stop');
  }, 150_000);
});
