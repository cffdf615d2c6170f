/** The resource names of reads/writes (src/steps/contract.ts) and the built-in kinds' declarations. */
import { describe, expect, it } from 'vitest';
import { mayAffect, resourcesOverlap } from '../../../src/steps/contract.js';
import { builtinRegistry } from '../../../src/steps/builtin.js';

describe('resourcesOverlap', () => {
  it.each([
    ['/etc', '/etc/hosts', true],
    ['/etc/hosts', '/etc/hostname', false],
    ['/', '/var/lib/x', true],
    ['dev:/dev/vdb', 'dev:/dev/vdb1', true],
    ['dev:/dev/vdb', 'dev:/dev/vdb12', true],
    ['dev:/dev/vdb', 'dev:/dev/vdc', false],
    ['dev:/dev/sda', 'dev:/dev/sdaa', false],
    ['dev:/dev/nvme0n1', 'dev:/dev/nvme0n1p1', true],
    ['dev:/dev/nvme0n1', 'dev:/dev/nvme0n10', false],
    ['dev:/dev/drbd0', 'dev:/dev/vdb1', true], // its backing device is in the configuration only
    ['dev:/dev/disk/by-id/virtio-x', 'dev:/dev/vdc', true], // an alias of any device
    ['dev:', 'dev:/dev/vdb', true],
    ['dev:/dev/vdb', '/dev/vdb', false], // a device's state is not the file system
    ['unit:corosync', 'unit:corosync.service', true],
    ['unit:', 'unit:mariadb', true],
    ['unit:mariadb', 'unit:apache2', false],
    ['drbd:mysql', 'drbd:kopano', false],
    ['drbd:', 'drbd:kopano', true],
    ['pkgdb:', 'unit:x', false],
    ['cluster:', 'unit:mariadb', true], // the cluster acts: services, DRBD, files, the CIB
    ['cluster:', 'drbd:mysql', true],
    ['cluster:', '/var/lib/mysql', true],
    ['cluster:', 'cib:', true],
    ['cluster:', 'dev:/dev/vdb', false],
    ['cluster:', 'pkgdb:', false],
    ['cluster:', 'host:name', false],
    ['no-scheme', 'dev:/dev/vdb', true], // unknown: overlaps everything
  ])('%s ~ %s: %s', (a, b, want) => {
    expect(resourcesOverlap(a, b)).toBe(want);
    expect(resourcesOverlap(b, a)).toBe(want);
  });
});

describe('mayAffect', () => {
  it('undeclared (undefined) reads or writes: anything, on any node', () => {
    expect(mayAffect(undefined, ['dev:/dev/vdb'], false)).toBe(true);
    expect(mayAffect(['/x'], undefined, false)).toBe(true);
  });
  it("another node's names carry over only when shared (drbd:, cib:, cluster:)", () => {
    expect(mayAffect(['/etc/hosts'], ['/etc/hosts'], true)).toBe(true);
    expect(mayAffect(['/etc/hosts'], ['/etc/hosts'], false)).toBe(false);
    expect(mayAffect(['drbd:mysql'], ['drbd:mysql'], false)).toBe(true);
    expect(mayAffect(['cluster:'], ['unit:mariadb'], false)).toBe(true);
    expect(mayAffect(['/etc/corosync/corosync.conf'], ['cluster:'], false)).toBe(true);
    expect(mayAffect(['unit:'], ['unit:x'], false)).toBe(false);
  });
});

describe('the built-in kinds', () => {
  const registry = builtinRegistry();
  const node = { name: 'bob', roles: [], groups: [], networks: {}, vars: {}, secrets: [] };
  const params: Record<string, Record<string, unknown>> = {
    file: { path: '/etc/x', content: '' },
    line: { path: '/etc/x', line: 'a' },
    hosts: { name: 'c', entries: [{ address: '10.0.0.1', names: ['bob'] }] },
    hostname: { name: 'bob' },
    service: { name: 'drbd', enabled: false, state: 'stopped' },
    packages: { names: ['drbd-utils'] },
    partition: { disk: '/dev/vdb', partitions: [{ size: 'rest' }] },
    'drbd-resource': {
      name: 'r0',
      minor: 0,
      port: 7788,
      disk: '/dev/vdb1',
      hosts: [
        { name: 'bob', node_id: 0, address: '10.0.0.1' },
        { name: 'alice', node_id: 1, address: '10.0.0.2' },
      ],
    },
    'drbd-create-md': { resource: 'r0' },
    'drbd-up': { resource: 'r0' },
    'drbd-initial-sync': { resource: 'r0' },
    'drbd-grow': { resource: 'r0', hosts: ['bob', 'alice'] },
    mkfs: { device: '/dev/drbd0', fstype: 'ext4' },
    corosync: {
      cluster_name: 'c',
      nodes: [
        { name: 'bob', addrs: ['10.0.0.1'] },
        { name: 'alice', addrs: ['10.0.0.2'] },
      ],
      authkey: 'k'.repeat(128),
    },
    'crm-configure': {},
    'qnetd-certs': { sign: { node: 'bob', cluster_name: 'c' } },
    'qdevice-certs': { stage: 'share', qnetd: 'arbiter', requester: 'bob', cluster_name: 'c' },
    sbd: { sbd: { devices: ['/dev/disk/by-id/wwn-0x5000'] } },
    'sbd-device': { sbd: { devices: ['/dev/disk/by-id/wwn-0x5000'] } },
  };

  // `command`'s writes are what its step declares (below); without a declaration: anything
  it.each(registry.kinds().filter((k) => k !== 'command'))('%s declares what it reads and writes', (name) => {
    const kind = registry.kind(name);
    expect(kind.reads, name).toBeTypeOf('function');
    expect(kind.writes, name).toBeTypeOf('function');
    const p = kind.params.parse(params[name]);
    for (const list of [kind.reads!(p, node), kind.writes!(p, node)]) {
      if (list === undefined) continue; // declared: anything (crm-configure reads the whole cluster's state)
      for (const r of list) expect(r, name).toMatch(/^(\/|(dev|drbd|unit|pkgdb|host|cib|cluster):)/);
    }
  });

  it('no package install, service or DRBD step touches a block device: a refused partition stays refused after them', () => {
    const partition = registry.kind('partition');
    const reads = partition.reads!(partition.params.parse(params.partition), node);
    for (const name of ['hosts', 'hostname', 'packages', 'service', 'drbd-resource', 'drbd-up']) {
      const k = registry.kind(name);
      expect(mayAffect(k.writes!(k.params.parse(params[name]), node), reads, true), name).toBe(false);
    }
    for (const name of ['drbd-create-md', 'mkfs', 'drbd-initial-sync']) {
      const k = registry.kind(name);
      expect(mayAffect(k.writes!(k.params.parse(params[name]), node), reads, true), name).toBe(true);
    }
  });

  it('command: anything, anywhere unless the step declares its writes (and what its guard reads); creates must be inside the writes', () => {
    const k = registry.kind('command');
    const parse = (p: object) => k.params.parse(p);
    const problem = (p: object) => {
      const r = k.params.safeParse(p);
      return r.success ? 'no problem' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    };
    const plain = parse({ argv: ['mkdir', '-p', '/srv/app'], creates: '/srv/app' });
    expect(k.writes!(plain, node)).toBeUndefined();
    expect(k.reads!(plain, node)).toEqual(['/srv/app']);
    const declared = parse({ argv: ['mkdir', '-p', '/srv/app'], creates: '/srv/app', writes: ['/srv/app'] });
    expect(k.writes!(declared, node)).toEqual(['/srv/app']);
    // a later step reading /etc/motd on this node, or anything on another node, is not affected
    expect(mayAffect(k.writes!(declared, node), ['/etc/motd'], true)).toBe(false);
    expect(mayAffect(k.writes!(declared, node), ['/srv/app/version'], true)).toBe(true);
    expect(mayAffect(k.writes!(declared, node), ['/srv/app'], false)).toBe(false);
    expect(mayAffect(k.writes!(parse({ shell: 'crm_attribute -n x -v 1', unless: ['false'], writes: ['cib:'] }), node), ['cib:'], false)).toBe(true);
    // unless with reads: the guard's reads are known
    const guarded = parse({ argv: ['sh', '-c', 'echo x >> /srv/log'], unless: ['grep', '-qx', 'x', '/srv/log'], reads: ['/srv/log'], writes: ['/srv/log'] });
    expect(k.reads!(guarded, node)).toEqual(['/srv/log']);
    expect(k.reads!(parse({ argv: ['true'], unless: ['true'] }), node)).toBeUndefined();
    expect(problem({ argv: ['touch', '/srv/a'], creates: '/srv/a', writes: ['/srv'] })).toBe('no problem');
    expect(problem({ argv: ['touch', '/srv/a'], creates: '/srv/a', writes: ['/srv/b'] })).toBe('writes: expected "creates" (/srv/a) inside one of the paths the command writes');
    expect(problem({ argv: ['touch', '/srv/a'], creates: '/srv/a', writes: ['/srv/a/b'] })).toBe('writes: expected "creates" (/srv/a) inside one of the paths the command writes');
    expect(problem({ argv: ['touch', '/srv/a'], creates: '/srv/a', reads: ['/srv/a'] })).toBe('reads: "reads" says what "unless" reads: give it only with "unless"');
    expect(problem({ argv: ['touch', '/srv/a'], creates: '/srv/a', writes: ['srv/a'] })).toMatch(
      /^writes\.0: an absolute path, or dev:DEVICE, drbd:NAME, unit:NAME, pkgdb:, host:, cib: or cluster:/,
    );
  });
});
