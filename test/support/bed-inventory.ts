/**
 * Writes an ha-provision inventory for a running test bed, so that tests can
 * point the real CLI (or library) at the bed's nodes: node names, the
 * loopback ssh host/port of each node, the bed's key and known_hosts (strict
 * host keys), the bed's networks with their real subnets and each node's
 * fixed address, and the chapter's two DRBD resources as in
 * inventory/lab.yaml (mysql: minor 0, port 7788, DATA_DISK1; kopano: minor
 * 1, port 7799, DATA_DISK2) with their ext4 filesystems.
 *
 *   const inv = await writeBedInventory(bed, { dir });            // -> dir/inventory.yaml
 *   node bin/ha-provision.js apply <inv> playbooks/storage.yaml
 *
 * A node's published ssh port changes when it is restarted: call it again
 * after `node.start()` (it rewrites the same file).
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { Bed } from '../../docker/bed/testbed.js';

const run = promisify(execFile);

export interface BedInventoryOptions {
  /** Where inventory.yaml (and the run state, `state/`) go. */
  dir: string;
  /** Cluster name (default `bed`). */
  cluster?: string;
  /** The node with role `primary` (default: the bed's first node). */
  primary?: string;
  /** Playbook file (absolute, or relative to `dir`) written as `playbook:`. */
  playbook?: string;
  /** Default 5m. */
  stepTimeout?: string;
  /** Cluster vars (merged over the defaults: data_disk /dev/vdb, mysql_size 100M). */
  vars?: Record<string, unknown>;
  /** DRBD resync rate for both resources (default 100M: a 100 MiB partition syncs in ~1 s). */
  syncRate?: string;
  /** File name inside `dir` (default inventory.yaml). */
  fileName?: string;
  /** Merged over the ssh defaults (root, the bed's key): e.g. `{user: 'ha', become: 'sudo'}` for the image's sudo user. */
  ssh?: Record<string, unknown>;
}

/** The subnet of a bed network, as Docker allocated it. */
async function subnetOf(dockerNetwork: string): Promise<string> {
  const { stdout } = await run('docker', ['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', dockerNetwork]);
  const subnet = stdout
    .trim()
    .split(/\s+/)
    .find((s) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(s));
  if (!subnet) throw new Error(`bed inventory: docker network ${dockerNetwork} has no IPv4 subnet (inspect said: ${stdout.trim()})`);
  return subnet;
}

/** The inventory as data (exported for tests that want to tweak it before writing). */
export async function bedInventory(bed: Bed, opts: BedInventoryOptions): Promise<Record<string, unknown>> {
  const primary = opts.primary ?? bed.nodes[0]!.name;
  const netNames = Object.keys(bed.networks);
  const networks: Record<string, { cidr: string }> = {};
  for (const n of netNames) networks[n] = { cidr: await subnetOf(bed.networks[n]!) };
  const replication = netNames.includes('replication') ? 'replication' : netNames[0]!;
  const vars = { data_disk: '/dev/vdb', mysql_size: '100M', ...opts.vars };
  const disk = String(vars.data_disk);
  const members = Object.fromEntries(bed.nodes.map((n) => [n.name, {}]));
  const syncRate = opts.syncRate ?? '100M';
  return {
    cluster: opts.cluster ?? 'bed',
    ...(opts.playbook !== undefined ? { playbook: opts.playbook } : {}),
    settings: { concurrency: bed.nodes.length, step_timeout: opts.stepTimeout ?? '5m', state_dir: 'state' },
    ssh: { user: 'root', auth: { key: bed.privateKeyPath }, known_hosts: bed.knownHostsPath, host_key_policy: 'strict', ...opts.ssh },
    networks,
    nodes: Object.fromEntries(
      bed.nodes.map((n) => [
        n.name,
        {
          ssh: { host: n.ssh.host, port: n.ssh.port },
          ...(n.name === primary ? { roles: ['primary'] } : {}),
          groups: ['storage'],
          networks: Object.fromEntries(netNames.map((net, j) => [net, { address: n.addresses[net]!, interface: `eth${j}` }])),
        },
      ]),
    ),
    vars,
    drbd: [
      { name: 'mysql', minor: 0, port: 7788, network: replication, disk: `${disk}1`, protocol: 'C', sync_rate: syncRate, nodes: members },
      { name: 'kopano', minor: 1, port: 7799, network: replication, disk: `${disk}2`, protocol: 'C', sync_rate: syncRate, nodes: members },
    ],
    filesystems: [
      { name: 'mysql_fs', drbd: 'mysql', device: '/dev/drbd0', directory: '/var/lib/mysql', fstype: 'ext4', options: 'noatime' },
      { name: 'kopano_fs', drbd: 'kopano', device: '/dev/drbd1', directory: '/var/lib/kopano', fstype: 'ext4' },
    ],
  };
}

/** Writes the bed's inventory; returns its path. */
export async function writeBedInventory(bed: Bed, opts: BedInventoryOptions): Promise<string> {
  await mkdir(opts.dir, { recursive: true });
  const path = join(opts.dir, opts.fileName ?? 'inventory.yaml');
  const doc = await bedInventory(bed, opts);
  await writeFile(path, `# Written by test/support/bed-inventory.ts for test bed ${bed.runId}\n${stringify(doc)}`);
  return path;
}
