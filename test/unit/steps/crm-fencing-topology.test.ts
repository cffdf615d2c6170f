/**
 * Fencing levels in crm-configure (the `fencing_topology` that puts the ping
 * check before each node's device): parsed from the CIB's
 * `<fencing-topology>`, compared, shown in crm syntax in the plan, written
 * into the configuration in place, with the levels not declared kept.
 */
import { describe, expect, it } from 'vitest';
import { parseCib } from '../../../src/facts/cib.js';
import { serializeXml } from '../../../src/facts/xml.js';
import { newConfiguration } from '../../../src/steps/crm/configuration.js';
import { configDiff, type Declared } from '../../../src/steps/crm/difference.js';
import { renderObject, sameObject, wantedObjects } from '../../../src/steps/crm/objects.js';
import { FencingParam } from '../../../src/steps/fencing.js';
import { crmConfigureParams, withFencing } from '../../../src/steps/kinds/crm-configure.js';

const cib = (topology: string, epoch = 7) =>
  parseCib({
    exitCode: 0,
    stderr: '',
    stdout: `<cib admin_epoch="0" epoch="${epoch}" num_updates="3"><configuration><crm_config/><nodes/><resources/><constraints/>${topology}</configuration></cib>`,
  });

function declared(over: Partial<Declared> = {}): Declared {
  return { properties: {}, rsc_defaults: {}, primitives: [], groups: [], clones: [], colocations: [], orders: [], locations: [], fencing_levels: [], ...over };
}

/** The CIB after the commit: what newConfiguration writes, read back. */
function committed(before: ReturnType<typeof cib>, d: Declared) {
  const conf = serializeXml(newConfiguration(before, configDiff(d, before).writes));
  return parseCib({ exitCode: 0, stderr: '', stdout: `<cib admin_epoch="0" epoch="8" num_updates="0">\n${conf}</cib>\n` });
}

const fencing = FencingParam.parse({
  enabled: true,
  delay_max: 5,
  devices: [
    { name: 'fence_bob', agent: 'fence_ipmilan', fences: ['bob'], params: { ip: '10.0.0.1' } },
    { name: 'fence_alice', agent: 'fence_ipmilan', fences: ['alice'], params: { ip: '10.0.0.2' } },
  ],
  heuristics: { name: 'ping_gw', targets: ['192.168.122.1', 'gw.example.com'], count: 5, good_count: 3, interval: 1, timeout: 2, maxfail: 1 },
});

describe('fencing levels', () => {
  it('parses a level for a node by name; one by pattern stays "other"', () => {
    const c = cib(
      '<fencing-topology><fencing-level id="fl-bob-1" target="bob" index="1" devices="ping_gw,fence_bob"/><fencing-level id="fl-any" target-pattern="node[0-9]" index="1" devices="fence_all"/></fencing-topology>',
    );
    expect(c.objects.get('fl-bob-1')).toEqual({ type: 'fencing-level', id: 'fl-bob-1', target: 'bob', index: 1, devices: ['ping_gw', 'fence_bob'] });
    expect(c.objects.get('fl-any')).toEqual({ type: 'other', id: 'fl-any', element: 'fencing-level' });
  });

  it('renders as crm fencing_topology text, one level a line with its index and id', () => {
    const [l1, l2] = wantedObjects(
      crmConfigureParams.parse({
        fencing_levels: [
          { id: 'fl-bob-1', target: 'bob', index: 1, devices: ['ping_gw', 'fence_bob'] },
          { id: 'fl-bob-2', target: 'bob', index: 2, devices: ['ping_gw', 'fence_bob_pdu'] },
        ],
      }),
    );
    expect(renderObject(l1!)).toBe('# fencing level 1 of bob (fl-bob-1)\nfencing_topology bob: ping_gw,fence_bob\n');
    expect(renderObject(l2!)).toBe('# fencing level 2 of bob (fl-bob-2)\nfencing_topology bob: ping_gw,fence_bob_pdu\n');
    const live = cib('<fencing-topology><fencing-level id="fl-bob-1" target="bob" index="1" devices="ping_gw, fence_bob"/></fencing-topology>');
    expect(sameObject(l1!, live.objects.get('fl-bob-1')!)).toBe(true);
    expect(sameObject(l2!, live.objects.get('fl-bob-1')!)).toBe(false);
  });

  it('the inventory\'s heuristics: the check device (no location: it runs where the level runs) and per node "check,its device"', () => {
    const w = withFencing(crmConfigureParams.parse({ fencing }));
    expect(w.refusals).toEqual([]);
    const check = w.params.primitives.find((x) => x.id === 'ping_gw')!;
    expect(check).toEqual({
      id: 'ping_gw',
      agent: 'stonith:fence_heuristics_ping',
      params: {
        ping_targets: '192.168.122.1,gw.example.com',
        ping_count: '5',
        ping_good_count: '3',
        ping_interval: '1',
        ping_timeout: '2',
        ping_maxfail: '1',
        pcmk_host_list: 'bob alice',
      },
      meta: {},
      ops: [{ name: 'monitor', interval: '60s' }],
    });
    expect(w.params.locations.map((l) => l.resource)).toEqual(['fence_bob', 'fence_alice']);
    expect(w.params.fencing_levels).toEqual([
      { id: 'fl-bob-1', target: 'bob', index: 1, devices: ['ping_gw', 'fence_bob'] },
      { id: 'fl-alice-1', target: 'alice', index: 1, devices: ['ping_gw', 'fence_alice'] },
    ]);
    // the devices keep their delay, the check has none
    expect(w.params.primitives.find((x) => x.id === 'fence_bob')!.params['pcmk_delay_max']).toBe('5s');
    expect(check.params['pcmk_delay_max']).toBeUndefined();
  });

  it('a node fenced by two devices gets two levels, each with the check first', () => {
    const f = FencingParam.parse({
      ...fencing,
      devices: [...fencing.devices, { name: 'fence_pdu', agent: 'fence_apc', fences: ['bob', 'alice'], params: { ip: '10.0.0.9' } }],
    });
    expect(withFencing(crmConfigureParams.parse({ fencing: f })).params.fencing_levels.map((l) => `${l.id}=${l.devices.join(',')}`)).toEqual([
      'fl-bob-1=ping_gw,fence_bob',
      'fl-bob-2=ping_gw,fence_pdu',
      'fl-alice-1=ping_gw,fence_alice',
      'fl-alice-2=ping_gw,fence_pdu',
    ]);
  });

  it('no heuristics: no topology (every device Pacemaker finds for a node may fence it)', () => {
    const { heuristics: _h, ...without } = fencing;
    expect(withFencing(crmConfigureParams.parse({ fencing: without })).params.fencing_levels).toEqual([]);
  });

  it('refuses a check id the playbook or a device uses, and a level the playbook declares for the same node and index', () => {
    const clash = withFencing(crmConfigureParams.parse({ primitives: [{ id: 'ping_gw', agent: 'ocf:pacemaker:Dummy' }], fencing }));
    expect(clash.refusals).toEqual([expect.stringContaining('the heuristics device ping_gw has the id of an object the playbook declares')]);
    const dev = withFencing(crmConfigureParams.parse({ fencing: { ...fencing, heuristics: { ...fencing.heuristics!, name: 'fence_bob' } } }));
    expect(dev.refusals).toEqual([expect.stringContaining('the heuristics device fence_bob has the name of a fence device')]);
    const level = withFencing(crmConfigureParams.parse({ fencing_levels: [{ id: 'mine', target: 'bob', index: 1, devices: ['fence_bob'] }], fencing }));
    expect(level.refusals).toEqual([expect.stringContaining('fencing levels mine and fl-bob-1 are both level 1 of bob')]);
  });

  it('plan: the check device and the levels are new; the commit writes <fencing-topology> and keeps a level not declared; a second run finds nothing', () => {
    const before = cib('<fencing-topology><fencing-level id="fl-carol-1" target="carol" index="1" devices="fence_carol"/></fencing-topology>');
    const d = withFencing(crmConfigureParams.parse({ fencing })).params;
    const diff = configDiff(d, before);
    expect(diff.refusals).toEqual([]);
    expect(diff.summary).toEqual(expect.arrayContaining(['+ primitive ping_gw', '+ fencing-level fl-bob-1', '+ fencing-level fl-alice-1']));
    expect(diff.text).toContain('primitive ping_gw stonith:fence_heuristics_ping \\\n\tparams ping_targets=192.168.122.1,gw.example.com');
    expect(diff.text).toContain('fencing_topology bob: ping_gw,fence_bob\n');
    expect(diff.text).toContain('fencing_topology alice: ping_gw,fence_alice\n');
    const conf = newConfiguration(before, diff.writes);
    const topology = conf.children.find((c) => c.name === 'fencing-topology')!;
    expect(topology.children.map((c) => c.attrs)).toEqual([
      { id: 'fl-carol-1', target: 'carol', index: '1', devices: 'fence_carol' },
      { id: 'fl-bob-1', target: 'bob', index: '1', devices: 'ping_gw,fence_bob' },
      { id: 'fl-alice-1', target: 'alice', index: '1', devices: 'ping_gw,fence_alice' },
    ]);
    const after = committed(before, d);
    expect(configDiff(d, after).text).toBe('');
    expect(after.objects.get('fl-carol-1')).toEqual(before.objects.get('fl-carol-1'));
  });

  it('a level changed by hand is rewritten in place (same position and id); a live level of the same node and index under another id is refused', () => {
    const d = declared({ fencing_levels: [{ id: 'fl-bob-1', target: 'bob', index: 1, devices: ['ping_gw', 'fence_bob'] }] });
    const changed = cib(
      '<fencing-topology><fencing-level id="fl-bob-1" target="bob" index="1" devices="fence_bob"/><fencing-level id="x" target="alice" index="1" devices="fence_alice"/></fencing-topology>',
    );
    const diff = configDiff(d, changed);
    expect(diff.summary).toEqual(['~ fencing-level fl-bob-1']);
    expect(diff.before).toBe('# fencing level 1 of bob (fl-bob-1)\nfencing_topology bob: fence_bob\n');
    const topology = newConfiguration(changed, diff.writes).children.find((c) => c.name === 'fencing-topology')!;
    expect(topology.children.map((c) => `${c.attrs['id']}=${c.attrs['devices']}`)).toEqual(['fl-bob-1=ping_gw,fence_bob', 'x=fence_alice']);
    const other = cib('<fencing-topology><fencing-level id="by-hand" target="bob" index="1" devices="fence_bob"/></fencing-topology>');
    expect(configDiff(d, other).refusals).toEqual([expect.stringContaining('the CIB has fencing level 1 of bob as by-hand (fence_bob), the playbook declares it as fl-bob-1')]);
  });
});
