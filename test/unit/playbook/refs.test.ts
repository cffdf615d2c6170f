/** `!ref` paths, resolved against the Kopano inventory (table-driven). */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatInputError } from '../../../src/inventory/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { buildScope, readParamTree, resolveRef, resolveTree, type RefScope } from '../../../src/playbook/refs.js';

const repo = join(import.meta.dirname, '../../..');
let scope: RefScope;

beforeAll(async () => {
  const r = await loadInventory({ path: join(repo, 'inventory/kopano-bob-alice.yaml'), secrets: 'skip', homeDir: '/h' });
  if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
  scope = buildScope(r.value.nodes, r.value.cluster);
});

const table: [expr: string, self: string, expected: unknown][] = [
  ['self.name', 'alice', 'alice'],
  ['self.networks.replication.address', 'bob', '10.0.0.25'],
  ['self.networks.replication.address', 'alice', '10.0.0.26'],
  ['self.networks.lan', 'alice', { address: '192.168.122.26', interface: 'eth0', prefix: 24, cidr: '192.168.122.0/24' }],
  ['nodes.alice.networks.lan.address', 'bob', '192.168.122.26'],
  ['primary.name', 'alice', 'bob'],
  ['nodes[*].networks.replication.address', 'bob', ['10.0.0.25', '10.0.0.26']],
  ['peers[*].name', 'bob', ['alice']],
  ['peers[*].networks.lan.address', 'alice', ['192.168.122.25']],
  ['cluster.networks.replication.address', 'bob', '10.0.0.0'],
  ['cluster.drbd.mysql.port', 'bob', 7788],
  ['cluster.drbd.kopano.port', 'bob', 7799],
  ['cluster.drbd.kopano.device', 'bob', '/dev/drbd1'],
  ['cluster.drbd.mysql.hosts.alice.disk', 'bob', '/dev/sdb1'],
  ['cluster.vips.kopano_ip.ip', 'bob', '192.168.122.100'],
  ['cluster.filesystems.mysql_fs.options', 'bob', 'noatime'],
  ['cluster.primary', 'alice', 'bob'],
  ['cluster.nodes', 'alice', ['bob', 'alice']],
  ['vars.mysql_bind_address', 'alice', '192.168.122.101'],
  ['self.roles.0', 'bob', 'primary'],
  ['group.storage[*].name', 'alice', ['bob', 'alice']],
  ['group.storage[1].networks.lan.address', 'bob', '192.168.122.26'],
  ['nodes[0].name', 'alice', 'bob'],
  ['nodes[1].networks.replication.address', 'bob', '10.0.0.26'],
  [
    'cluster.drbd.kopano.members',
    'bob',
    [
      { name: 'bob', node_id: 0, address: '10.0.0.25', port: 7799, disk: '/dev/sdb2' },
      { name: 'alice', node_id: 1, address: '10.0.0.26', port: 7799, disk: '/dev/sdb2' },
    ],
  ],
];

describe('resolveRef', () => {
  for (const [expr, self, expected] of table) {
    it(`${expr} on ${self}`, () => expect(resolveRef(expr, self, scope)).toEqual({ ok: true, value: expected }));
  }

  const failures: [string, string, string][] = [
    ['self.networks.storage.address', 'bob', 'self.networks has no "storage" (it has: lan, replication)'],
    ['nodes.carol.name', 'bob', 'no node named "carol" (nodes: bob, alice)'],
    ['nodes.alcie.name', 'bob', 'no node named "alcie" (did you mean "alice"?) (nodes: bob, alice)'],
    ['cluster.drbd.r0.port', 'bob', 'cluster.drbd has no "r0" (it has: mysql, kopano)'],
    ['cluster.vips.mysql_ip.ipp', 'bob', 'cluster.vips.mysql_ip has no "ipp" (did you mean "ip"?) (it has: name, ip, cidr_netmask, nic, network, hostnames)'],
    ['self.name.first', 'bob', 'self.name has no "first" (it is the value "bob")'],
    [
      'cluster.drbd.mysql.shared_secret',
      'bob',
      'cluster.drbd.mysql has no "shared_secret" (it has: name, minor, device, port, network, meta_disk, protocol, sync_rate, max_peers, quorum, on_no_quorum, nodes, hosts, members)',
    ],
  ];
  failures.push(
    ['group.strage[*].name', 'bob', 'no node is in group "strage" (did you mean "storage"?) (groups: storage)'],
    ['nodes[2].name', 'bob', 'nodes has no node [2] (it has 2: bob, alice)'],
  );
  for (const [expr, self, message] of failures) {
    it(`${expr} fails with a clear message`, () => expect(resolveRef(expr, self, scope)).toEqual({ ok: false, message }));
  }

  it('targets[*] are the nodes the step runs on; nodes[*] alone gives the node views (for hosts `nodes`, corosync `members`)', () => {
    expect(resolveRef('targets[*].name', 'alice', { ...scope, targets: ['alice'] })).toEqual({ ok: true, value: ['alice'] });
    expect(resolveRef('targets[0].name', 'bob', { ...scope, targets: ['alice', 'bob'] })).toEqual({ ok: true, value: 'alice' });
    const views = resolveRef('nodes[*]', 'bob', scope);
    expect(views.ok && (views.value as { name: string; networks: Record<string, { address: string }> }[]).map((v) => [v.name, v.networks['lan']!.address])).toEqual([
      ['bob', '192.168.122.25'],
      ['alice', '192.168.122.26'],
    ]);
  });
});

describe('parameter trees', () => {
  it('resolves anchors, !concat and nested refs per node, with YAML positions for problems', () => {
    const text = [
      'name: t',
      'steps:',
      '  - id: a',
      '    kind: k',
      '    with:',
      '      base: &b {port: !ref cluster.drbd.mysql.port}',
      '      copy: *b',
      '      addr: !concat [!ref self.networks.replication.address, ":", !ref cluster.drbd.mysql.port]',
      '      bad: !ref self.networks.nope',
      '',
    ].join('\n');
    const pb = parsePlaybook('t.yaml', text, ['k']);
    if (!pb.ok) throw new Error(pb.errors.map(formatInputError).join('\n'));
    const tree = readParamTree(pb.value.source, ['steps', 0, 'with']);
    expect(tree.problems).toEqual([]);
    const r = resolveTree(tree.tree, 'alice', scope);
    expect(r.value).toEqual({ base: { port: 7788 }, copy: { port: 7788 }, addr: '10.0.0.26:7788', bad: undefined });
    expect(r.problems).toEqual([
      { docPath: ['steps', 0, 'with', 'bad'], message: 'cannot resolve !ref self.networks.nope: self.networks has no "nope" (it has: lan, replication)' },
    ]);
  });

  it('an unknown YAML tag is a syntax error with its position', () => {
    const pb = parsePlaybook('t.yaml', 'name: t\nsteps:\n  - {id: a, kind: k, with: {x: !reff self.name}}\n', ['k']);
    expect(pb.ok ? [] : pb.errors.map(formatInputError)).toEqual(['t.yaml:3:32 invalid YAML: unresolved tag: !reff']);
  });
});
