/** The pure half of normalising (src/inventory/model.ts): defaults, networks, DRBD, filesystems, virtual IPs, settings, masking. */
import { describe, expect, it } from 'vitest';
import { formatInputError } from '../../../src/inventory/errors.js';
import {
  clusterModel,
  clusterSecretValues,
  defaultStateDir,
  drbdResources,
  durationMs,
  hostKeysOf,
  maskable,
  nodeNetworks,
  settingsOf,
  sharedSecretProblems,
} from '../../../src/inventory/model.js';
import { Inventory } from '../../../src/inventory/schema.js';
import { SKIPPED_NAMED_SECRET, SKIPPED_SECRET } from '../../../src/inventory/secrets.js';
import { parseYamlSource } from '../../../src/inventory/source.js';

const TEXT = `cluster: c
vars: {site: x}
ssh: {user: root, auth: {agent: true}, known_hosts: kh}
networks:
  lan: {cidr: 192.168.1.0/24}
  rep: {cidr: 10.0.0.0/16}
nodes:
  a: {ssh: {host: 10.0.0.1, host_key_policy: accept-new}, roles: [primary], networks: {lan: {address: 192.168.1.1, interface: eth0}, rep: {address: 10.0.0.1, prefix: 24}}}
  b: {ssh: {host: 10.0.0.2, known_hosts: ~/kh2}, networks: {lan: {address: 192.168.1.2}, rep: {address: 10.0.0.2}}}
drbd:
  - {name: r0, minor: 0, port: 7788, network: rep, disk: /dev/sdb, nodes: {a: {}, b: {disk: /dev/sdc}}}
  - {name: r1, minor: 1, port: 7789, network: rep, disk: /dev/sdd, device: /dev/drbd_r1, protocol: A, meta_disk: /dev/sde, sync_rate: 50M, nodes: {b: {}}}
filesystems:
  - {name: fs0, drbd: r0, directory: /srv, fstype: ext4, options: noatime}
  - {name: fs1, device: /dev/sdf, directory: /data, fstype: xfs}
vips:
  - {name: ip0, ip: 192.168.1.10, cidr_netmask: 24, nic: eth0, network: lan}
  - {name: ip1, ip: 192.168.1.11, cidr_netmask: 32, nic: eth0, hostnames: [mail]}
`;
const parsed = parseYamlSource('inv.yaml', TEXT);
const inv = Inventory.parse(parsed.data);
const file = (p: string) => `/abs/${p}`;

describe('inventory model', () => {
  it('durations and the default state folder', () => {
    expect([durationMs(30), durationMs('500ms'), durationMs('90s'), durationMs('10m'), durationMs('1h')]).toEqual([30_000, 500, 90_000, 600_000, 3_600_000]);
    expect(defaultStateDir('/x/lab.yaml')).toBe('.ha-provision/lab');
    expect(defaultStateDir('/x/.yml')).toBe('.ha-provision/inventory');
  });

  it("a node's networks take the network's prefix unless their own is given", () => {
    expect(nodeNetworks(inv, 'a')).toEqual({ lan: { address: '192.168.1.1', interface: 'eth0', prefix: 24 }, rep: { address: '10.0.0.1', prefix: 24 } });
    expect(nodeNetworks(inv, 'b')).toEqual({ lan: { address: '192.168.1.2', prefix: 24 }, rep: { address: '10.0.0.2', prefix: 16 } });
  });

  it('host keys: the node settings over the defaults, strict by default', () => {
    expect(hostKeysOf(inv, 'a', file)).toEqual({ knownHostsPath: '/abs/kh', mode: 'accept-new' });
    expect(hostKeysOf(inv, 'b', file)).toEqual({ knownHostsPath: '/abs/~/kh2', mode: 'strict' });
  });

  it('settings: defaults, and a state folder named after the inventory file', () => {
    expect(settingsOf(inv, '/x/lab.yaml', file)).toEqual({ concurrency: 10, maxFailPercent: 0, stepTimeoutMs: 600_000, strategy: 'linear', stateDir: '/abs/.ha-provision/lab' });
  });

  it('DRBD resources: defaults, hosts in inventory order with their disk and replication address, the shared secret by index', () => {
    const [r0, r1] = drbdResources(inv, ['s3cret', undefined]);
    expect(r0).toEqual({
      name: 'r0', device: '/dev/drbd0', minor: 0, port: 7788, network: 'rep', metaDisk: 'internal', protocol: 'C', nodes: ['a', 'b'],
      // issue 18: peer slots for new metadata (7 by default, the same on every node), no DRBD quorum
      maxPeers: 7, quorum: 'off', onNoQuorum: 'io-error',
      hosts: { a: { disk: '/dev/sdb', address: '10.0.0.1', port: 7788, nodeId: 0 }, b: { disk: '/dev/sdc', address: '10.0.0.2', port: 7788, nodeId: 1 } },
      sharedSecret: 's3cret',
    });
    expect(r1).toMatchObject({ device: '/dev/drbd_r1', metaDisk: '/dev/sde', protocol: 'A', syncRate: '50M', nodes: ['b'], maxPeers: 7 });
    expect(r1).not.toHaveProperty('sharedSecret');
  });

  it('refuses a shared secret that cannot be written between double quotes, at its place in the file', () => {
    expect(sharedSecretProblems(inv, ['fine', undefined], parsed.source)).toEqual([]);
    const [e, ...rest] = sharedSecretProblems(inv, ['a"b', undefined], parsed.source);
    expect(rest).toEqual([]);
    expect(formatInputError(e!)).toMatch(/^inv\.yaml:11:5 drbd\[0\]\.shared_secret: the shared secret of DRBD resource r0: /);
  });

  it('the cluster: networks, filesystems on DRBD devices, virtual IPs, primary, no fencing', () => {
    const c = clusterModel(inv, drbdResources(inv, []), { k: 'v' }, 'a');
    expect(c.networks).toEqual([
      { name: 'lan', cidr: '192.168.1.0/24', address: '192.168.1.0', prefix: 24 },
      { name: 'rep', cidr: '10.0.0.0/16', address: '10.0.0.0', prefix: 16 },
    ]);
    expect(c.filesystems).toEqual([
      { name: 'fs0', device: '/dev/drbd0', directory: '/srv', fstype: 'ext4', options: 'noatime', drbd: 'r0' },
      { name: 'fs1', device: '/dev/sdf', directory: '/data', fstype: 'xfs' },
    ]);
    expect(c.vips).toEqual([
      { name: 'ip0', ip: '192.168.1.10', cidrNetmask: 24, nic: 'eth0', hostnames: [], network: 'lan' },
      { name: 'ip1', ip: '192.168.1.11', cidrNetmask: 32, nic: 'eth0', hostnames: ['mail'] },
    ]);
    expect(c).toMatchObject({ name: 'c', vars: { site: 'x' }, primary: 'a', secrets: { k: 'v' }, fencing: { enabled: false, devices: [], drbd: 'off' } });
    expect(clusterModel(inv, drbdResources(inv, []), {}, undefined)).not.toHaveProperty('primary');
  });

  it('masks each secret once, never an empty value or a placeholder; cluster secrets in file order', () => {
    expect(maskable(['a', '', 'b', 'a', SKIPPED_SECRET, SKIPPED_NAMED_SECRET])).toEqual(['a', 'b']);
    expect(clusterSecretValues({ named: { x: 'n1', y: '' }, drbd: [undefined, 'd1', ''] })).toEqual(['n1', 'd1']);
  });
});
