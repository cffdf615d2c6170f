/**
 * Issue 18: a DRBD resource beyond two nodes. drbd-resource renders three
 * hosts (a node-id each, one connection-mesh naming all of them) with
 * DRBD's quorum as an option; drbd-create-md's peer-slot default and the
 * parser of its slots probe (captured on a test-bed node); the inventory's
 * drbd keys (max_peers, quorum, on_no_quorum) and their rules.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMdSlots } from '../../../src/facts/drbd.js';
import { drbdCreateMdParams, slotsFor } from '../../../src/steps/kinds/drbd-create-md.js';
import { drbdResourceParams, renderResource } from '../../../src/steps/kinds/drbd-resource.js';

const fixture = (f: string) => readFileSync(join(import.meta.dirname, '../../fixtures/drbd', f), 'utf8');
const hosts = [
  { name: 'ams', node_id: 0, address: '10.0.0.1' },
  { name: 'fra', node_id: 1, address: '10.0.0.2' },
  { name: 'par', node_id: 2, address: '10.0.0.3' },
];

describe('drbd-resource with three hosts', () => {
  it('renders an on section per host and a connection-mesh of all three, with quorum', () => {
    const p = drbdResourceParams.parse({ name: 'r0', minor: 0, port: 7788, disk: '/dev/vdb', hosts, quorum: 'majority' });
    expect(renderResource(p)).toBe(fixture('three-nodes-quorum.res'));
  });

  it('on-no-quorum as given; nothing of quorum when off', () => {
    const p = drbdResourceParams.parse({ name: 'r0', minor: 0, port: 7788, disk: '/dev/vdb', hosts, quorum: 'majority', on_no_quorum: 'suspend-io' });
    expect(renderResource(p)).toContain('  options {\n    quorum majority;\n    on-no-quorum suspend-io;\n  }\n');
    const off = drbdResourceParams.parse({ name: 'r0', minor: 0, port: 7788, disk: '/dev/vdb', hosts, on_no_quorum: 'io-error' });
    expect(renderResource(off)).not.toContain('quorum');
  });

  it('refuses quorum with two hosts', () => {
    const r = drbdResourceParams.safeParse({ name: 'r0', minor: 0, port: 7788, disk: '/dev/vdb', hosts: hosts.slice(0, 2), quorum: 'majority' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/DRBD quorum needs 3 or more hosts/);
  });
});

describe('drbd-create-md peer slots', () => {
  it('default: 7 whatever the peers (the same layout on every node), more peers when more, capped at 31; max_peers wins', () => {
    expect([slotsFor(undefined, 1), slotsFor(undefined, 2), slotsFor(undefined, 7), slotsFor(undefined, 8), slotsFor(undefined, 31), slotsFor(3, 2)]).toEqual([7, 7, 7, 8, 31, 3]);
    expect(drbdCreateMdParams.parse({ resource: 'r0' }).max_peers).toBeUndefined();
    expect(drbdCreateMdParams.safeParse({ resource: 'r0', max_peers: 32 }).success).toBe(false);
  });

  it('parses the slots probe as captured on a test-bed node', () => {
    const run = (stdout: string) => parseMdSlots({ exitCode: 0, stdout, stderr: '' });
    expect(run(fixture('md-slots-3-hosts-1-slot.txt'))).toEqual({ hosts: 3, slots: 1 });
    expect(run(fixture('md-slots-3-hosts-no-md.txt'))).toEqual({ hosts: 3 });
    expect(run(fixture('md-slots-unknown-resource.txt'))).toEqual({});
    expect(() => parseMdSlots({ exitCode: 2, stdout: '', stderr: 'sh: 1: Syntax error' })).toThrow(/probe md failed \(exit 2\)/);
  });

  it('reads max-peers from drbdmeta dump-md as it prints it', () => {
    // the probe keeps only this line of `drbdadm -- --force dump-md` (test/fixtures/drbd/dump-md-max-peers-3.txt, captured)
    const line = fixture('dump-md-max-peers-3.txt')
      .split('\n')
      .find((l) => l.startsWith('max-peers '));
    expect(line).toBe('max-peers 3;');
  });
});
