/**
 * The inventory's `fencing:` section: the model (defaults, secrets resolved and
 * masked), `!ref cluster.fencing`, and what crm-configure and drbd-resource
 * make of it (src/steps/fencing.ts). The located errors are in the
 * broken-input corpus (test/fixtures/broken/inventory/089-096).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatInputError } from '../../../src/inventory/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { buildScope, resolveRef } from '../../../src/playbook/refs.js';
import { FencingParam, fencingObjects } from '../../../src/steps/fencing.js';
import { crmConfigureParams, withFencing } from '../../../src/steps/kinds/crm-configure.js';
import { drbdResourceParams, renderResource } from '../../../src/steps/kinds/drbd-resource.js';

const PW = 'Fence-pw-0123456789';
let dir: string;

async function load(fencing: string, nodes = ['n1', 'n2']) {
  const path = join(dir, 'inv.yaml');
  await writeFile(
    path,
    `cluster: c
ssh: {user: root, auth: {agent: true}}
nodes:
${nodes.map((n, i) => `  ${n}: {ssh: {host: 127.0.0.1, port: ${2201 + i}}}`).join('\n')}
secrets:
  fence_pw: {env: FENCE_PW}
${fencing}
`,
  );
  const r = await loadInventory({ path, env: { FENCE_PW: PW }, secrets: 'resolve', homeDir: '/home/op' });
  if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
  return r.value;
}

const device = (n: string) => `    - {name: fence_${n}, agent: fence_virsh, fences: [${n}], params: {ip: 10.1.2.3, username: fence, plug: ${n}, ssl_insecure: true}, secrets: {password: fence_pw}}`;

describe('inventory fencing:', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ha-fencing-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('no section: fencing off (crm-configure then sets stonith-enabled=false, which the plan calls UNSAFE)', async () => {
    const inv = await load('');
    expect(inv.cluster.fencing).toEqual({ enabled: false, devices: [], action: 'reboot', delayMaxS: 0, drbd: 'off' });
    const view = resolveRef('cluster.fencing', 'n1', buildScope(inv.nodes, inv.cluster));
    expect(view).toEqual({ ok: true, value: { enabled: false, action: 'reboot', delay_max: 0, drbd: 'off', devices: [] } });
  });

  it('devices with a secret password: resolved, masked on every node, defaults for two nodes (delay 5 s, reboot, resource-and-stonith)', async () => {
    const inv = await load(`fencing:\n  timeout: 90s\n  devices:\n${device('n1')}\n${device('n2')}`);
    const f = inv.cluster.fencing;
    expect(f).toMatchObject({ enabled: true, action: 'reboot', delayMaxS: 5, timeoutS: 90, drbd: 'resource-and-stonith' });
    expect(f.devices[0]).toEqual({ name: 'fence_n1', agent: 'fence_virsh', fences: ['n1'], params: { ip: '10.1.2.3', username: 'fence', plug: 'n1', ssl_insecure: 'true', password: PW }, secretParams: ['password'], monitorS: 60 });
    for (const n of inv.nodes) expect(n.secrets).toContain(PW);
    // the view crm-configure's `fencing` parameter takes, as it is
    const view = resolveRef('cluster.fencing', 'n1', buildScope(inv.nodes, inv.cluster));
    if (!view.ok) throw new Error(view.message);
    expect(FencingParam.parse(view.value).devices.map((d) => d.name)).toEqual(['fence_n1', 'fence_n2']);
  });

  it('three nodes: no delay by default; "delay_max: 0" and "action: off" are kept', async () => {
    expect((await load(`fencing:\n  devices:\n${device('n1')}\n${device('n2')}\n${device('n3')}`, ['n1', 'n2', 'n3'])).cluster.fencing.delayMaxS).toBe(0);
    const f = (await load(`fencing:\n  delay_max: 0\n  action: 'off'\n  drbd: resource-only\n  devices:\n${device('n1')}\n${device('n2')}`)).cluster.fencing;
    expect([f.delayMaxS, f.action, f.drbd]).toEqual([0, 'off', 'resource-only']);
  });

  it('heuristics: the agent\'s defaults (10 probes, 8 answered, 1 s apart, 2 s timeout, no target may fail) and the view crm-configure takes', async () => {
    const inv = await load(`fencing:\n  heuristics: {ping: [192.168.122.1]}\n  devices:\n${device('n1')}\n${device('n2')}`);
    expect(inv.cluster.fencing.heuristics).toEqual({ name: 'heuristics_ping', targets: ['192.168.122.1'], count: 10, goodCount: 8, intervalS: 1, timeoutS: 2, maxfail: 0 });
    const view = resolveRef('cluster.fencing', 'n1', buildScope(inv.nodes, inv.cluster));
    if (!view.ok) throw new Error(view.message);
    expect(FencingParam.parse(view.value).heuristics).toEqual({ name: 'heuristics_ping', targets: ['192.168.122.1'], count: 10, good_count: 8, interval: 1, timeout: 2, maxfail: 0 });
    const custom = await load(
      `fencing:\n  timeout: 30s\n  heuristics: {name: gw_check, ping: [10.0.0.1, gw.example.com, 'fd00::1'], count: 3, interval: 2s, timeout: 1, maxfail: 1}\n  devices:\n${device('n1')}\n${device('n2')}`,
    );
    // fewer probes than the default good_count: all of them must be answered
    expect(custom.cluster.fencing.heuristics).toEqual({ name: 'gw_check', targets: ['10.0.0.1', 'gw.example.com', 'fd00::1'], count: 3, goodCount: 3, intervalS: 2, timeoutS: 1, maxfail: 1 });
  });

  it('sbd with a disk: sbd\'s defaults (watchdog /dev/watchdog, 5 s, msgwait twice that), the view, and a fence_sbd device in crm-configure', async () => {
    const inv = await load(`fencing:\n  sbd: {devices: [/dev/disk/by-id/wwn-0x6001405a]}`);
    const f = inv.cluster.fencing;
    expect(f.devices).toEqual([]);
    expect(f.sbd).toEqual({ devices: ['/dev/disk/by-id/wwn-0x6001405a'], watchdog: '/dev/watchdog', watchdogTimeoutS: 5, msgwaitS: 10, startmode: 'always', name: 'fence_sbd', overwrite: false });
    const view = resolveRef('cluster.fencing', 'n1', buildScope(inv.nodes, inv.cluster));
    if (!view.ok) throw new Error(view.message);
    const w = withFencing(crmConfigureParams.parse({ fencing: view.value }));
    expect(w.refusals).toEqual([]);
    expect(w.params.primitives.map((x) => [x.id, x.agent, x.params])).toEqual([['fence_sbd', 'stonith:fence_sbd', { devices: '/dev/disk/by-id/wwn-0x6001405a', pcmk_delay_max: '5s' }]]);
    expect(w.params.locations).toEqual([]);
    // the view the sbd and sbd-device kinds take
    const sbdView = resolveRef('cluster.fencing.sbd', 'n1', buildScope(inv.nodes, inv.cluster));
    expect(sbdView).toEqual({ ok: true, value: { name: 'fence_sbd', devices: ['/dev/disk/by-id/wwn-0x6001405a'], watchdog: '/dev/watchdog', watchdog_timeout: 5, msgwait: 10, startmode: 'always', overwrite: false } });
  });

  it('watchdog-only sbd on three nodes: stonith-watchdog-timeout twice the watchdog timeout, no device', async () => {
    const inv = await load(`fencing:\n  timeout: 60s\n  sbd: {watchdog: /dev/watchdog0, watchdog_timeout: 10s, startmode: clean}`, ['n1', 'n2', 'n3']);
    const view = resolveRef('cluster.fencing', 'n1', buildScope(inv.nodes, inv.cluster));
    if (!view.ok) throw new Error(view.message);
    const w = withFencing(crmConfigureParams.parse({ fencing: view.value }));
    expect(w.params.primitives).toEqual([]);
    expect(w.params.properties).toEqual({ 'stonith-watchdog-timeout': '20s', 'stonith-enabled': 'true', 'stonith-action': 'reboot', 'stonith-timeout': '60s' });
  });

  it('"enabled: false" keeps the devices out', async () => {
    const f = (await load(`fencing:\n  enabled: false\n  devices:\n${device('n1')}\n${device('n2')}`)).cluster.fencing;
    expect([f.enabled, f.devices]).toEqual([false, []]);
  });
});

describe('fencing in the steps', () => {
  const f = FencingParam.parse({
    enabled: true,
    timeout: 90,
    delay_max: 5,
    devices: [
      { name: 'fence_n1', agent: 'fence_ipmilan', fences: ['n1'], params: { ip: '10.0.0.1', password: PW }, secret_params: ['password'] },
      { name: 'fence_n2', agent: 'fence_ipmilan', fences: ['n2'], params: { ip: '10.0.0.2', password: PW }, secret_params: ['password'], monitor: 30 },
    ],
  });

  it('one stonith primitive per device, never on the node it fences, and stonith-enabled=true', () => {
    const o = fencingObjects(f, { ids: new Set(), properties: {} });
    expect(o.refusals).toEqual([]);
    expect(o.primitives.map((p) => [p.id, p.agent, p.params['pcmk_host_list'], p.params['pcmk_delay_max'], p.ops[0]?.interval])).toEqual([
      ['fence_n1', 'stonith:fence_ipmilan', 'n1', '5s', '60s'],
      ['fence_n2', 'stonith:fence_ipmilan', 'n2', '5s', '30s'],
    ]);
    expect(o.locations.map((l) => [l.resource, l.node, l.score])).toEqual([
      ['fence_n1', 'n1', '-INFINITY'],
      ['fence_n2', 'n2', '-INFINITY'],
    ]);
    expect(o.properties).toEqual({ 'stonith-enabled': 'true', 'stonith-action': 'reboot', 'stonith-timeout': '90s' });
  });

  it('refuses a playbook that turns stonith off against the inventory, or reuses a device id', () => {
    const p = crmConfigureParams.parse({ properties: { 'stonith-enabled': false }, primitives: [{ id: 'fence_n1', agent: 'ocf:pacemaker:Dummy' }], fencing: f });
    const r = withFencing(p).refusals;
    expect(r).toHaveLength(2);
    expect(r[0]).toContain('stonith-enabled=false');
    expect(r[1]).toContain('fence device fence_n1 has the id of an object the playbook declares');
  });

  it('keeps the playbook\'s own objects and adds the devices', () => {
    const p = crmConfigureParams.parse({ primitives: [{ id: 'web', agent: 'ocf:pacemaker:Dummy' }], properties: { 'no-quorum-policy': 'stop' }, fencing: f });
    const w = withFencing(p).params;
    expect(w.primitives.map((x) => x.id)).toEqual(['web', 'fence_n1', 'fence_n2']);
    expect(w.properties).toMatchObject({ 'no-quorum-policy': 'stop', 'stonith-enabled': 'true' });
  });

  it('drbd-resource: resource-level fencing with the crm-fence-peer.9.sh handlers; none when off', () => {
    const base = { name: 'r0', minor: 0, port: 7788, disk: '/dev/vdb1', hosts: [{ name: 'n1', node_id: 0, address: '10.0.0.1' }, { name: 'n2', node_id: 1, address: '10.0.0.2' }] };
    const on = renderResource(drbdResourceParams.parse({ ...base, fencing: 'resource-and-stonith' }));
    expect(on).toContain('  net {\n    protocol C;\n    fencing resource-and-stonith;\n  }');
    expect(on).toContain('  handlers {\n    fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh";\n    unfence-peer "/usr/lib/drbd/crm-unfence-peer.9.sh";\n  }');
    for (const off of [undefined, 'off']) {
      const text = renderResource(drbdResourceParams.parse({ ...base, ...(off ? { fencing: off } : {}) }));
      expect(text).not.toContain('fencing');
      expect(text).not.toContain('handlers');
    }
  });
});

describe('the shipped playbooks take fencing from the inventory', () => {
  const repo = join(import.meta.dirname, '../../..');
  const load = async (inventoryPath: string, playbook: string) => {
    const { loadProject } = await import('../../../src/playbook/resolve.js');
    const { builtinRegistry } = await import('../../../src/steps/builtin.js');
    const r = await loadProject({ inventoryPath, playbookPath: `playbooks/${playbook}`, registry: builtinRegistry(), secrets: 'skip', cwd: repo, homeDir: '/home/test' });
    if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
    return r.project;
  };

  it('the chapter (IPMI): kopano-drbd declares both devices, stonith on, resource-and-stonith on both DRBD resources', async () => {
    const project = await load('inventory/kopano-bob-alice.yaml', 'kopano-drbd.yaml');
    const crm = project.steps.find((s) => s.kind === 'crm-configure')!;
    const p = crmConfigureParams.parse(Object.values(crm.paramsByNode)[0]);
    expect(p.properties['stonith-enabled']).toBeUndefined();
    const w = withFencing(p);
    expect(w.refusals).toEqual([]);
    expect(w.params.properties['stonith-enabled']).toBe('true');
    expect(w.params.primitives.filter((x) => x.agent === 'stonith:fence_ipmilan').map((x) => [x.id, x.params['pcmk_host_list']])).toEqual([['fence_bob', 'bob'], ['fence_alice', 'alice']]);
    for (const step of project.steps.filter((s) => s.kind === 'drbd-resource')) {
      for (const params of Object.values(step.paramsByNode)) expect((params as { fencing?: string }).fencing).toBe('resource-and-stonith');
    }
  });

  it('an inventory without fencing: stonith-enabled=false (the plan calls it UNSAFE), DRBD fencing off', async () => {
    const project = await load('test/fixtures/playbooks/arbitrator-inventory.yaml', 'arbitrator.yaml');
    const crm = project.steps.find((s) => s.kind === 'crm-configure')!;
    const w = withFencing(crmConfigureParams.parse(Object.values(crm.paramsByNode)[0]));
    expect(w.params.properties).toMatchObject({ 'stonith-enabled': 'false', 'no-quorum-policy': 'stop' });
    expect(w.params.primitives.some((x) => x.agent.startsWith('stonith:'))).toBe(false);
  });
});
