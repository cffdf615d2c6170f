/**
 * Playbooks that name no node (issue 11, point 3): `hosts` takes its lines
 * from inventory nodes (`nodes` + `network`) and `corosync` its members
 * (`members` + `rings`); each gives the same result as the lists written
 * out by hand, and a node without an address on the network is refused at
 * validation with the node named.
 */
import { describe, expect, it } from 'vitest';
import { corosyncConfig, corosyncParams } from '../../../src/steps/kinds/corosync.js';
import { editHosts, hostsParams } from '../../../src/steps/kinds/hosts.js';

const carol = { name: 'carol', host: '127.0.0.1', roles: [], groups: ['storage'], networks: { lan: { address: '10.1.0.7', interface: 'eth0' }, repl: { address: '10.2.0.7' } } };
const dave = { name: 'dave', host: '127.0.0.1', roles: ['primary'], groups: ['storage'], networks: { lan: { address: '10.1.0.8' }, repl: { address: '10.2.0.8' } } };
const key = 'k'.repeat(200);

describe('members from the inventory', () => {
  it('hosts: one line per node, the same block as written-out entries', () => {
    const fromNodes = hostsParams.parse({ name: 'c', nodes: [carol, dave], network: 'lan' });
    const byHand = hostsParams.parse({
      name: 'c',
      entries: [
        { address: '10.1.0.7', names: ['carol'] },
        { address: '10.1.0.8', names: ['dave'] },
      ],
    });
    expect(editHosts('127.0.0.1 localhost\n', fromNodes)).toEqual(editHosts('127.0.0.1 localhost\n', byHand));
    expect(editHosts('', fromNodes)).toEqual({ content: '# BEGIN ha-provision c\n10.1.0.7 carol\n10.1.0.8 dave\n# END ha-provision c\n' });
  });

  it('hosts: a node without an address on the network is named', () => {
    const r = hostsParams.safeParse({ name: 'c', nodes: [carol, { ...dave, networks: { repl: { address: '10.2.0.8' } } }], network: 'lan' });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['nodes.1', 'node dave has no address on network "lan" (it has: repl)']]);
    expect(hostsParams.safeParse({ name: 'c', nodes: [carol] }).error?.issues[0]?.message).toMatch(/"nodes" and "network" go together/);
  });

  it('corosync: members on rings give the same configuration as nodes written out', () => {
    const fromMembers = corosyncParams.parse({ cluster_name: 'c', authkey: key, members: [carol, dave], rings: ['lan', 'repl'] });
    const byHand = corosyncParams.parse({
      cluster_name: 'c',
      authkey: key,
      nodes: [
        { name: 'carol', addrs: ['10.1.0.7', '10.2.0.7'] },
        { name: 'dave', addrs: ['10.1.0.8', '10.2.0.8'] },
      ],
    });
    expect(corosyncConfig(fromMembers)).toEqual(corosyncConfig(byHand));
    expect(corosyncConfig(fromMembers).twoNode).toBe(true);
  });

  it('corosync: members need rings, and every member an address on each ring', () => {
    expect(corosyncParams.safeParse({ cluster_name: 'c', authkey: key, members: [carol] }).error?.issues[0]?.message).toMatch(/give "rings"/);
    const r = corosyncParams.safeParse({ cluster_name: 'c', authkey: key, members: [carol, { ...dave, networks: { lan: { address: '10.1.0.8' } } }], rings: ['lan', 'repl'] });
    expect(r.error?.issues.map((i) => i.message)).toEqual(['node dave has no address on network "repl" (it has: lan)']);
    expect(corosyncParams.safeParse({ cluster_name: 'c', authkey: key }).error?.issues[0]?.message).toMatch(/exactly one of "nodes"/);
  });
});
