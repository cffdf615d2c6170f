/**
 * Shared by the cluster tests: the Kopano playbook's inventory for a bed
 * (the bed inventory + cluster IPs on the lan subnet + corosync's key as an
 * owner-only file), and crm_mon's XML read into (resource, role, node) rows.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { SLOW_CLUSTER_BOOT, startBed, type Bed } from '../../docker/bed/testbed.js';
import { shQuote } from '../../src/ssh/quote.js';
import { bedInventory } from '../support/bed-inventory.js';
import { Nodes, ROOT } from '../storage/support.js';

/** The bed's lan address of a node with its last octet replaced (.100, .101: free, the bed uses .10, .11, ...). */
export function lanAddress(bed: Bed, last: number): string {
  const a = bed.nodes[0]!.addresses['lan']!.split('.');
  return [...a.slice(0, 3), String(last)].join('.');
}

/**
 * Writes a bed inventory for a cluster playbook: corosync's key as a new
 * owner-only file beside it (secrets.corosync_authkey), then the inventory.
 */
export async function writeClusterInventory(dir: string, inv: Record<string, unknown>, header = ''): Promise<{ path: string; authkey: string }> {
  const authkey = randomBytes(192).toString('base64');
  await writeFile(join(dir, 'corosync-authkey'), `${authkey}\n`, { mode: 0o600 });
  inv['secrets'] = { ...(inv['secrets'] as Record<string, unknown> | undefined), corosync_authkey: { file: 'corosync-authkey' } };
  const path = join(dir, 'inventory.yaml');
  await writeFile(path, header + stringify(inv));
  return { path, authkey };
}

/** Status of the cluster as `node` sees it. */
export async function clusterStatus(nodes: { sh(name: string, line: string): Promise<string> }, node: string): Promise<ClusterStatus> {
  return parseStatus(await nodes.sh(node, 'crm_mon -1 --output-as=xml'));
}

/**
 * The bed image's sudo user `ha` (NOPASSWD by default) now needs a password
 * for sudo, as on a typical server: set out of band (docker exec, the
 * password on stdin), as an admin would from a console.
 */
export async function requireSudoPassword(bed: Bed, password: string): Promise<void> {
  const run = (id: string, argv: string[], input: string) =>
    new Promise<void>((resolve, reject) => {
      const p = execFile('docker', ['exec', '-i', id, ...argv], (err, _out, stderr) => (err ? reject(new Error(`${argv.join(' ')}: ${stderr}`)) : resolve()));
      p.stdin!.end(input);
    });
  for (const n of bed.nodes) {
    await run(n.containerId, ['chpasswd'], `ha:${password}\n`);
    await run(n.containerId, ['sh', '-c', 'cat > /etc/sudoers.d/ha && chmod 0440 /etc/sudoers.d/ha && visudo -cq'], 'ha ALL=(ALL:ALL) ALL\n');
  }
}

/**
 * A restarted node's published ssh port changes (Docker picks a new one):
 * the inventory at `path` follows, as an operator would edit it when a
 * server's address changed. Comment lines at the top are kept.
 */
export async function followPorts(path: string, bed: Bed): Promise<void> {
  const text = await readFile(path, 'utf8');
  const header = text.match(/^(#[^\n]*\n)*/)![0];
  const inv = parse(text) as { nodes: Record<string, { ssh: { port?: number } }> };
  for (const [name, n] of Object.entries(inv.nodes)) {
    const node = bed.nodes.find((x) => x.name === name);
    if (node) n.ssh.port = node.ssh.port;
  }
  await writeFile(path, header + stringify(inv));
}

/** SLOW_CLUSTER_BOOT (docker/bed/testbed.ts) on these nodes: needed before a fence *reboot* (drill --node-failure) on the bed. */
export async function slowClusterBoot(nodes: { sh(name: string, line: string): Promise<string> }, names: readonly string[]): Promise<void> {
  const { path, content } = SLOW_CLUSTER_BOOT;
  for (const n of names) {
    await nodes.sh(n, `mkdir -p ${dirname(path)} && printf '%s' ${shQuote(content)} > ${path} && systemctl daemon-reload`);
  }
}

export interface BedFencing {
  /** The bed's hypervisor (startBed's `hypervisor`). */
  hypervisor: { address: string; user: string };
  /** Its password, written to an owner-only file beside the inventory (secrets.fence_password). */
  password: string;
  action?: 'reboot' | 'off';
  timeout?: string;
}

/**
 * The inventory's fencing for a bed with a hypervisor: one fence_virsh
 * device per node (fence_<node>, fencing that node through hv), the password
 * as a file secret, as an operator would write it for a libvirt host.
 */
export async function addBedFencing(dir: string, inv: Record<string, unknown>, nodes: readonly string[], f: BedFencing): Promise<void> {
  await writeFile(join(dir, 'fence-password'), `${f.password}\n`, { mode: 0o600 });
  inv['secrets'] = { ...(inv['secrets'] as Record<string, unknown> | undefined), fence_password: { file: 'fence-password' } };
  inv['fencing'] = {
    ...(f.action ? { action: f.action } : {}),
    ...(f.timeout ? { timeout: f.timeout } : {}),
    devices: nodes.map((n) => ({
      name: `fence_${n.replace(/-/g, '_')}`,
      agent: 'fence_virsh',
      fences: [n],
      params: { ip: f.hypervisor.address, username: f.hypervisor.user },
      secrets: { password: 'fence_password' },
    })),
  };
}

/** The bed nodes record the hypervisor's host keys, as an operator records a hypervisor's keys before fencing through it. */
export async function recordHypervisorKeys(nodes: { sh(name: string, line: string): Promise<string> }, bed: Bed, names: readonly string[]): Promise<void> {
  const keys = bed.hypervisor!.knownHosts.map((l) => `'${l}'`).join(' ');
  for (const n of names) await nodes.sh(n, `printf '%s\\n' ${keys} >> /etc/ssh/ssh_known_hosts`);
}

/**
 * The inventory of playbooks/mutual-failover.yaml on a two-node bed (its
 * DRBD resources mail1/mail2 with their file systems, the instances'
 * virtual IPs with host names under `domain`), as data: callers add what
 * they need (fencing) before writeClusterInventory.
 */
export async function mutualFailoverInventory(bed: Bed, dir: string, opts: { primary: string; playbook: string; domain: string }): Promise<Record<string, unknown>> {
  const inv = await bedInventory(bed, { dir, cluster: 'mail', primary: opts.primary, playbook: opts.playbook, vars: { data_disk: '/dev/vdb', mail1_size: '100M' } });
  const drbd = inv['drbd'] as Record<string, unknown>[];
  drbd[0]!['name'] = 'mail1';
  drbd[1]!['name'] = 'mail2';
  inv['filesystems'] = [
    { name: 'mail1_fs', drbd: 'mail1', directory: '/srv/mail1', fstype: 'ext4' },
    { name: 'mail2_fs', drbd: 'mail2', directory: '/srv/mail2', fstype: 'ext4' },
  ];
  inv['vips'] = [
    { name: 'mail1_ip', ip: lanAddress(bed, 110), cidr_netmask: 32, nic: 'eth0', network: 'lan', hostnames: [`mail1.${opts.domain}`] },
    { name: 'mail2_ip', ip: lanAddress(bed, 111), cidr_netmask: 32, nic: 'eth0', network: 'lan', hostnames: [`mail2.${opts.domain}`] },
  ];
  return inv;
}

export interface KopanoInventoryOptions {
  /** Fence the nodes through the bed's hypervisor. */
  fencing?: BedFencing;
  /** The node with role primary (default: the bed's first node). */
  primary?: string;
  /** Log in as the bed's sudo user `ha`, elevating with this environment variable's password. */
  sudoPasswordEnv?: string;
  /** The mysql resource's resync rate (default 100M: its 300 MB in about 3 s). */
  mysqlSyncRate?: string;
}

export async function writeKopanoInventory(
  bed: Bed,
  dir: string,
  playbook: string,
  opts: KopanoInventoryOptions = {},
): Promise<{ path: string; mysqlIp: string; kopanoIp: string; authkey: string }> {
  const inv = await bedInventory(bed, {
    dir,
    cluster: 'kopano',
    primary: opts.primary ?? bed.nodes[0]!.name,
    playbook,
    stepTimeout: '5m',
    vars: { data_disk: '/dev/vdb', mysql_size: '300M' },
  });
  if (opts.sudoPasswordEnv !== undefined) {
    inv['ssh'] = { ...(inv['ssh'] as Record<string, unknown>), user: 'ha', become: { method: 'sudo', password: { env: opts.sudoPasswordEnv } } };
  }
  if (opts.mysqlSyncRate !== undefined) (inv['drbd'] as { name: string; sync_rate: string }[]).find((r) => r.name === 'mysql')!.sync_rate = opts.mysqlSyncRate;
  const mysqlIp = lanAddress(bed, 101);
  const kopanoIp = lanAddress(bed, 100);
  inv['vips'] = [
    { name: 'mysql_ip', ip: mysqlIp, cidr_netmask: 32, nic: 'eth0', network: 'lan' },
    { name: 'kopano_ip', ip: kopanoIp, cidr_netmask: 32, nic: 'eth0', network: 'lan' },
  ];
  if (opts.fencing)
    await addBedFencing(
      dir,
      inv,
      bed.nodes.map((n) => n.name),
      opts.fencing,
    );
  const { path, authkey } = await writeClusterInventory(dir, inv, `# Written by test/cluster/support.ts for test bed ${bed.runId}\n`);
  return { path, mysqlIp, kopanoIp, authkey };
}

export interface ResourceRow {
  id: string;
  role: string;
  /** Where it runs (absent when stopped). */
  node?: string;
  failed: boolean;
}

export interface ClusterStatus {
  online: string[];
  offline: string[];
  resources: ResourceRow[];
}

/** `crm_mon -1 --output-as=xml` -> nodes online/offline and one row per resource instance. */
export function parseStatus(xml: string): ClusterStatus {
  const online: string[] = [];
  const offline: string[] = [];
  const nodesPart = /<nodes>([^]*?)<\/nodes>/.exec(xml)?.[1] ?? '';
  for (const m of nodesPart.matchAll(/<node name="([^"]+)"([^>]*)>/g)) {
    (/ online="true"/.test(m[2]!) ? online : offline).push(m[1]!);
  }
  const resources: ResourceRow[] = [];
  const resPart = /<resources>([^]*?)<\/resources>/.exec(xml)?.[1] ?? '';
  for (const m of resPart.matchAll(/<resource id="([^"]+)"([^>]*?)(\/>|>([^]*?)<\/resource>)/g)) {
    const attrs = m[2]!;
    const role = / role="([^"]+)"/.exec(attrs)?.[1] ?? '?';
    const node = /<node name="([^"]+)"/.exec(m[4] ?? '')?.[1];
    resources.push({ id: m[1]!, role, ...(node !== undefined ? { node } : {}), failed: / failed="true"/.test(attrs) });
  }
  return { online: online.sort(), offline: offline.sort(), resources };
}

/** The node every non-clone resource runs on, when they all run on one node, Started, and the clones are right. */
export function activeNode(s: ClusterStatus, plain: readonly string[], promotable: readonly string[], nodes: readonly string[]): string | undefined {
  const rows = s.resources;
  const at = new Set<string>();
  for (const id of plain) {
    const r = rows.filter((x) => x.id === id);
    if (r.length !== 1 || r[0]!.role !== 'Started' || r[0]!.failed || !r[0]!.node) return undefined;
    at.add(r[0]!.node);
  }
  if (at.size !== 1) return undefined;
  const active = [...at][0]!;
  for (const id of promotable) {
    const r = rows.filter((x) => x.id === id);
    const promoted = r.filter((x) => x.role === 'Promoted').map((x) => x.node);
    if (promoted.length !== 1 || promoted[0] !== active) return undefined;
  }
  return nodes.includes(active) ? active : undefined;
}

/** Every file under `d` (recursively): a test's state folder, plan files and inventory, for the secret leak checks. */
export async function filesUnder(d: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if ((await stat(p)).isFile()) out.push(p);
  }
  return out;
}

/**
 * What an operator would look at when a bed test's cluster does not do what
 * it should: each command's output on each node, for printing, never for
 * asserting. A command that fails is shown with its exit status.
 */
export async function nodeDiagnostics(
  nodes: { try(name: string, line: string): Promise<{ code: number; out: string; err: string }> },
  names: readonly string[],
  commands: readonly string[],
): Promise<string> {
  const out: string[] = [];
  for (const n of names) {
    for (const c of commands) {
      const r = await nodes.try(n, c);
      out.push(`--- ${n}: ${c} (exit ${r.code})\n${r.out}\n${r.err}`);
    }
  }
  return out.join('\n');
}

/** A two-node bed of playbooks/mutual-failover.yaml fenced through the bed's hypervisor (startFencedMutualFailover). */
export interface FencedMutualFailover {
  bed: Bed;
  nodes: Nodes;
  dir: string;
  inventory: string;
  stop(): Promise<void>;
}

/**
 * The bed the fencing tests share the shape of: two nodes on a lan and a
 * replication network with the hypervisor, the mutual-failover inventory
 * with its primary on the second node, one fence_virsh device per node
 * (`action`), the nodes knowing the hypervisor's keys. `amend` adds what a
 * test needs to the inventory (heuristics, DRBD fencing) before it is written.
 */
export async function startFencedMutualFailover(opts: {
  names: readonly [string, string];
  fencePassword: string;
  tmpPrefix: string;
  domain: string;
  action: 'off' | 'reboot';
  amend?: (inv: Record<string, unknown>, bed: Bed) => void;
}): Promise<FencedMutualFailover> {
  const names = [...opts.names];
  const bed = await startBed({ nodes: names, networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '256M', hypervisor: { password: opts.fencePassword } });
  let dir: string | undefined;
  let nodes: Nodes | undefined;
  const stop = async () => {
    await nodes?.close();
    await bed.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
  try {
    dir = await mkdtemp(join(tmpdir(), opts.tmpPrefix));
    const inv = await mutualFailoverInventory(bed, dir, { primary: names[1]!, playbook: join(ROOT, 'playbooks/mutual-failover.yaml'), domain: opts.domain });
    await addBedFencing(dir, inv, names, { hypervisor: bed.hypervisor!, password: opts.fencePassword, action: opts.action });
    opts.amend?.(inv, bed);
    const { path: inventory } = await writeClusterInventory(dir, inv);
    nodes = new Nodes(bed);
    await nodes.connectAll();
    await recordHypervisorKeys(nodes, bed, names);
    return { bed, nodes, dir, inventory, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
