/** The normalised model: the Kopano chapter's values, defaults, secrets, jump hosts. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatInputError } from '../../../src/inventory/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';

const repo = join(import.meta.dirname, '../../..');
const fixtures = join(repo, 'test/fixtures/inventory');

describe('inventory/kopano-bob-alice.yaml (the chapter)', () => {
  it('holds the chapter values exactly', async () => {
    const r = await loadInventory({ path: join(repo, 'inventory/kopano-bob-alice.yaml'), secrets: 'skip', homeDir: '/home/op' });
    if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
    const inv = r.value;
    expect(inv.cluster.name).toBe('kopano');
    expect(inv.nodes.map((n) => n.name)).toEqual(['bob', 'alice']);
    expect(inv.nodes.map((n) => n.networks)).toEqual([
      { lan: { address: '192.168.122.25', interface: 'eth0', prefix: 24 }, replication: { address: '10.0.0.25', interface: 'eth1', prefix: 24 } },
      { lan: { address: '192.168.122.26', interface: 'eth0', prefix: 24 }, replication: { address: '10.0.0.26', interface: 'eth1', prefix: 24 } },
    ]);
    expect(inv.cluster.primary).toBe('bob');
    expect(inv.cluster.networks).toEqual([
      { name: 'lan', cidr: '192.168.122.0/24', address: '192.168.122.0', prefix: 24 },
      { name: 'replication', cidr: '10.0.0.0/24', address: '10.0.0.0', prefix: 24 },
    ]);
    expect(inv.cluster.drbd.map((d) => [d.name, d.device, d.minor, d.port, d.protocol, d.metaDisk, d.syncRate])).toEqual([
      ['mysql', '/dev/drbd0', 0, 7788, 'C', 'internal', '50M'],
      ['kopano', '/dev/drbd1', 1, 7799, 'C', 'internal', '50M'],
    ]);
    expect(inv.cluster.drbd[0]!.hosts).toEqual({
      bob: { disk: '/dev/sdb1', address: '10.0.0.25', port: 7788, nodeId: 0 },
      alice: { disk: '/dev/sdb1', address: '10.0.0.26', port: 7788, nodeId: 1 },
    });
    expect(inv.cluster.drbd[1]!.hosts['alice']).toEqual({ disk: '/dev/sdb2', address: '10.0.0.26', port: 7799, nodeId: 1 });
    expect(inv.cluster.filesystems).toEqual([
      { name: 'mysql_fs', device: '/dev/drbd0', directory: '/var/lib/mysql', fstype: 'ext4', options: 'noatime', drbd: 'mysql' },
      { name: 'kopano_fs', device: '/dev/drbd1', directory: '/var/lib/kopano', fstype: 'ext4', drbd: 'kopano' },
    ]);
    expect(inv.cluster.vips).toEqual([
      { name: 'mysql_ip', ip: '192.168.122.101', cidrNetmask: 32, nic: 'eth0', hostnames: [], network: 'lan' },
      { name: 'kopano_ip', ip: '192.168.122.100', cidrNetmask: 32, nic: 'eth0', hostnames: [], network: 'lan' },
    ]);
    const bob = inv.nodes[0]!;
    expect(bob.endpoint).toEqual({ name: 'bob', host: '192.168.122.25', port: 22, user: 'root', auth: { kind: 'agent' } });
    expect(bob.hostKeys).toEqual({ knownHostsPath: '/home/op/.ssh/known_hosts', mode: 'strict' });
    expect(inv.settings).toEqual({ concurrency: 2, maxFailPercent: 0, stepTimeoutMs: 600_000, strategy: 'linear', stateDir: join(repo, 'inventory/.ha-provision/kopano-bob-alice') });
    expect(inv.playbookPath).toBe(join(repo, 'playbooks/kopano-drbd.yaml'));
  });
});

describe('three nodes, jump hosts and secrets (valid/three-node-qdevice.yaml)', () => {
  const path = 'three-node-qdevice.yaml';
  const readFileAt = (p: string) => readFile(join(fixtures, 'valid', p), 'utf8');
  const env = { HA_SUDO: 'sudo-pw', DRBD_SECRET: 'drbd-s3cret' };

  it('reads secrets from env and asks a prompt once, and masks them', async () => {
    const asked: string[] = [];
    const r = await loadInventory({ path, readFile: readFileAt, env, homeDir: '/home/op', prompt: async (q) => (asked.push(q), 'arb-pw') });
    if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
    const [a, b, arb] = r.value.nodes;
    expect(asked).toEqual(['SSH password (nodes.arbiter.ssh.auth.password in three-node-qdevice.yaml): ']);
    expect(a!.endpoint.auth).toEqual({ kind: 'key', privateKeyPath: join(process.cwd(), 'keys/id_ed25519'), passphraseEnv: 'HA_KEY_PASS' });
    expect(a!.endpoint.become).toEqual({ method: 'sudo', password: 'sudo-pw' });
    expect(a!.endpoint.jump).toEqual({ name: 'jump:bastion.example.org', host: 'bastion.example.org', port: 2222, user: 'jumper', auth: a!.endpoint.auth });
    expect(b!.hostKeys.mode).toBe('accept-new');
    expect(a!.hostKeys.knownHostsPath).toBe(join(process.cwd(), 'known_hosts'));
    // The arbiter jumps through nodea, which itself goes through the bastion.
    expect(arb!.endpoint.auth).toEqual({ kind: 'password', password: 'arb-pw' });
    expect(arb!.endpoint.jump?.name).toBe('nodea');
    expect(arb!.endpoint.jump?.jump?.host).toBe('bastion.example.org');
    expect(arb!.roles).toEqual(['qdevice']);
    expect(arb!.vars).toEqual({ instance: 'mail1' });
    expect(r.value.cluster.drbd[0]!.nodes).toEqual(['nodea', 'nodeb']);
    expect(r.value.cluster.drbd[0]!.hosts['nodeb']).toEqual({ disk: '/dev/sde', address: '10.1.0.12', port: 7788, nodeId: 1 });
    expect(r.value.cluster.drbd[0]!.sharedSecret).toBe('drbd-s3cret');
    expect(arb!.secrets.sort()).toEqual(['arb-pw', 'drbd-s3cret', 'sudo-pw']);
    expect(r.value.secrets.sort()).toEqual(['arb-pw', 'drbd-s3cret', 'sudo-pw']);
  });

  it('reports every missing secret at the position of its reference', async () => {
    const r = await loadInventory({ path, readFile: readFileAt, env: { HA_SUDO: '' }, homeDir: '/home/op' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map(formatInputError)).toEqual([
      'three-node-qdevice.yaml:10:42 ssh.become.password.env: expected environment variable HA_SUDO to hold the sudo password, found it empty',
      'three-node-qdevice.yaml:28:63 nodes.arbiter.ssh.auth.password: expected to prompt for the SSH password, but no terminal is available (use {env: VAR} for unattended runs)',
      'three-node-qdevice.yaml:38:26 drbd[0].shared_secret.env: expected environment variable DRBD_SECRET to hold the shared secret of DRBD resource mail1, found it unset',
    ]);
    expect(r.errors.every((e) => e.code === 'INVENTORY_SECRET_MISSING')).toBe(true);
  });

  it("with secrets: 'skip' reads no secret and asks nothing", async () => {
    const r = await loadInventory({ path, readFile: readFileAt, secrets: 'skip', prompt: async () => { throw new Error('asked'); } });
    if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
    expect(r.value.secrets).toEqual([]);
    expect(r.value.nodes[2]!.endpoint.auth).toEqual({ kind: 'password', password: '********' });
    expect(r.value.nodes.every((n) => n.secrets.length === 0)).toBe(true);
  });
});

describe('files', () => {
  it('a missing file is an error, not an exception', async () => {
    const r = await loadInventory({ path: 'nope/missing.yaml', secrets: 'skip' });
    expect(r).toEqual({ ok: false, errors: [{ file: 'nope/missing.yaml', line: 1, column: 1, path: '', message: 'cannot read the file: no such file', code: 'FILE_NOT_FOUND' }] });
  });
});

describe('the state folder (lock, journal, run logs)', () => {
  it('belongs to one inventory file by default: two inventories in one folder share nothing', async () => {
    const load = async (name: string) => {
      const r = await loadInventory({ path: join(repo, 'inventory', name), secrets: 'skip', homeDir: '/home/op', readFile: () => readFile(join(repo, 'inventory/kopano-bob-alice.yaml'), 'utf8') });
      if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
      return r.value.settings.stateDir;
    };
    const a = await load('site-a.yaml');
    const b = await load('site-b.yml');
    expect(a).toBe(join(repo, 'inventory/.ha-provision/site-a'));
    expect(b).toBe(join(repo, 'inventory/.ha-provision/site-b'));
  });
});
