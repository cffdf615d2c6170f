/**
 * Issue 12.4: no value can inject structure into a configuration file. A
 * value that would end its field, open or close a section, start a comment
 * or a new statement in the file it is written into is refused by
 * `validate` (exit 2, located at its key, naming the character), for every
 * writer: DRBD .res (drbd-resource), corosync.conf, /etc/hosts, crm objects
 * (crm-configure) and lines (line); and the inventory's own values that
 * reach those files (DRBD disks, the DRBD shared secret). Nothing is
 * contacted. Cases are the broken-input corpus's valid base
 * (test/fixtures/broken/base) with one step added or one value changed.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli-inproc.js';

const base = join(import.meta.dirname, '../../fixtures/broken/base');
let dir: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ha-inject-'));
  cpSync(base, join(dir, 'base'), { recursive: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const basePlaybook = () => readFileSync(join(base, 'playbook.yaml'), 'utf8');
const baseInventory = () => readFileSync(join(base, 'inventory.yaml'), 'utf8');

/** The base playbook with `step` (YAML, indented as a list item of steps) appended. */
function withStep(step: string): string {
  return basePlaybook().trimEnd() + '\n' + step.replace(/^\n/, '');
}

async function validatePlaybook(text: string, extra: string[] = [], env: Record<string, string> = {}) {
  const name = `pb-${n++}.yaml`;
  writeFileSync(join(dir, name), text);
  const r = await runCli(['validate', 'base/inventory.yaml', '--playbook', name, ...extra], dir, env);
  return { ...r, name, out: r.stdout + r.stderr };
}

async function validateInventory(text: string, extra: string[] = [], env: Record<string, string> = {}) {
  const name = `base/inv-${n++}.yaml`;
  writeFileSync(join(dir, name), text);
  const r = await runCli(['validate', name, '--playbook', 'base/playbook.yaml', ...extra], dir, env);
  return { ...r, name, out: r.stdout + r.stderr };
}

function refused(r: { code: number; out: string; connects: number; name: string }, key: string, what: string, char: string): void {
  expect(r.code, r.out).toBe(2);
  expect(r.connects).toBe(0);
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  expect(r.out).toMatch(new RegExp(`${esc(r.name)}:\\d+:\\d+:? ${esc(key)}: expected a value that ${esc(what)} can hold, found ${esc(char)} at character \\d+`));
}

const AUTHKEY = 'k'.repeat(200);

describe('DRBD .res (drbd-resource)', () => {
  it("the issue's example: a disk that adds a split-brain handler is refused at validation", async () => {
    const pb = basePlaybook().replace(
      '      hosts: !ref cluster.drbd.r0.members\n',
      '      hosts: !ref cluster.drbd.r0.members\n      disk: "/dev/sdb1;\\n  handlers { split-brain \\"/bin/sh -c ...\\"; }"\n',
    );
    expect(pb).toContain('handlers {');
    const r = await validatePlaybook(pb);
    refused(r, 'steps[4].with.disk', 'a DRBD .res file', 'a semicolon (;)');
  });
  it('a newline in a per-host disk, a brace in an address', async () => {
    const step = `
  - id: drbd-r1
    kind: drbd-resource
    on: group:storage
    with:
      name: r1
      minor: 1
      port: 7789
      hosts:
        - {name: bob, node_id: 0, address: 10.0.0.25, disk: "/dev/vdc1\\n}"}
        - {name: alice, node_id: 1, address: 10.0.0.26, disk: "/dev/vdc1"}
`;
    refused(await validatePlaybook(withStep(step)), 'steps[7].with.hosts[0].disk', 'a DRBD .res file', 'a newline (\\n)');
  });
  it('from the inventory: a DRBD disk with a semicolon or a "#"', async () => {
    const inv = baseInventory().replace('disk: /dev/vdb1,', 'disk: "/dev/vdb1;}",');
    refused(await validateInventory(inv), 'drbd[0].disk', 'a DRBD .res file', 'a semicolon (;)');
    const inv2 = baseInventory().replace('nodes: {bob: {}, alice: {}}', 'nodes: {bob: {disk: "/dev/vdb1#x"}, alice: {}}');
    refused(await validateInventory(inv2), 'drbd[0].nodes.bob.disk', 'a DRBD .res file', 'a "#" (a comment)');
  });
  it('from the inventory: a shared secret with a double quote (read with --check-secrets; the value is not shown)', async () => {
    const inv = baseInventory().replace('disk: /dev/vdb1,', 'disk: /dev/vdb1, shared_secret: {env: DRBD_SECRET},');
    const r = await validateInventory(inv, ['--check-secrets'], { DRBD_SECRET: 'abc"; } handlers { x' });
    expect(r.code, r.out).toBe(2);
    expect(r.out).toMatch(
      /drbd\[0\]\.shared_secret: the shared secret of DRBD resource r0: expected a value that a quoted string of a DRBD \.res file can hold, found a double quote \("\) at character 4/,
    );
    expect(r.out).not.toContain('handlers');
    expect(r.connects).toBe(0);
  });
});

describe('corosync.conf (corosync)', () => {
  const step = (nodes: string, cluster = 'corpus') => `
  - id: corosync
    kind: corosync
    wait_for: [packages]
    with:
      cluster_name: ${cluster}
      authkey: ${AUTHKEY}
      nodes: ${nodes}
`;
  it('an address that opens a section', async () => {
    refused(await validatePlaybook(withStep(step('[{name: bob, addrs: ["10.0.0.25\\n}\\nnodelist {"]}]'))), 'steps[7].with.nodes[0].addrs[0]', 'corosync.conf', 'a newline (\\n)');
  });
  it('a node name with a brace, a cluster name with a "#"', async () => {
    refused(await validatePlaybook(withStep(step('[{name: "bob}", addrs: [10.0.0.25]}]'))), 'steps[7].with.nodes[0].name', 'corosync.conf', 'a brace (})');
    refused(await validatePlaybook(withStep(step('[{name: bob, addrs: [10.0.0.25]}]', '"corpus#x"'))), 'steps[7].with.cluster_name', 'corosync.conf', 'a "#" (a comment)');
  });
});

describe('/etc/hosts (hosts)', () => {
  it('a name that adds a mapping of its own or a comment', async () => {
    const step = (names: string) => `
  - id: hosts-extra
    kind: hosts
    with:
      name: extra
      entries: [{address: 10.0.0.99, names: ${names}}]
`;
    refused(await validatePlaybook(withStep(step('["db\\n10.6.6.6 bob"]'))), 'steps[7].with.entries[0].names[0]', '/etc/hosts', 'a newline (\\n)');
    refused(await validatePlaybook(withStep(step('["db #"]'))), 'steps[7].with.entries[0].names[0]', '/etc/hosts', 'a space');
  });
});

describe('crm objects (crm-configure)', () => {
  const step = (primitive: string) => `
  - id: cluster
    kind: crm-configure
    on: role:primary
    with:
      primitives:
        - ${primitive}
`;
  it('a param value that closes its quotes and adds a primitive', async () => {
    refused(
      await validatePlaybook(withStep(step('{id: ip0, agent: "ocf:heartbeat:IPaddr2", params: {ip: "10.0.0.1\\" \\\\\\nprimitive evil ocf:heartbeat:Dummy"}}'))),
      'steps[7].with.primitives[0].params.ip',
      'crm shell syntax',
      'a double quote (")',
    );
  });
  it('a newline in a meta value; NUL in an op value', async () => {
    refused(
      await validatePlaybook(withStep(step('{id: ip0, agent: "ocf:heartbeat:IPaddr2", meta: {target-role: "Started\\nprimitive evil ocf:heartbeat:Dummy"}}'))),
      'steps[7].with.primitives[0].meta.target-role',
      'crm shell syntax',
      'a newline (\\n)',
    );
    refused(
      await validatePlaybook(withStep(step('{id: ip0, agent: "ocf:heartbeat:IPaddr2", ops: [{name: monitor, interval: "10s\\0"}]}'))),
      'steps[7].with.primitives[0].ops[0].interval',
      'crm shell syntax',
      'a NUL byte (\\0)',
    );
  });
  it('an op attribute name (written as NAME=VALUE) with a newline', async () => {
    const r = await validatePlaybook(withStep(step('{id: ip0, agent: "ocf:heartbeat:IPaddr2", ops: [{name: monitor, "x\\nprimitive evil ocf:heartbeat:Dummy": "1"}]}')));
    expect(r.code, r.out).toBe(2);
    // the key is quoted in the path: the error stays on its line
    expect(r.out).toContain(
      'steps[7].with.primitives[0].ops[0]["x\\nprimitive evil ocf:heartbeat:Dummy"]: expected an operation attribute name (letters, digits, "_", ".", "-"), found "x\\nprimitive',
    );
  });
});

describe('lines (line)', () => {
  it('a line must be one line: newline, carriage return and NUL are refused', async () => {
    const step = (line: string) => `
  - id: extra-line
    kind: line
    with:
      path: /etc/motd
      line: ${line}
`;
    refused(await validatePlaybook(withStep(step('"a\\nb"'))), 'steps[7].with.line', 'one line of a file', 'a newline (\\n)');
    refused(await validatePlaybook(withStep(step('"a\\rb"'))), 'steps[7].with.line', 'one line of a file', 'a carriage return (\\r)');
    refused(await validatePlaybook(withStep(step('"a\\0b"'))), 'steps[7].with.line', 'one line of a file', 'a NUL byte (\\0)');
  });
});

it('the valid base stays valid (the checks refuse only what a format cannot hold)', async () => {
  const r = await validatePlaybook(basePlaybook());
  expect(r.code, r.out).toBe(0);
});
