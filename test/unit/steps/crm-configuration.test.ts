/**
 * The configuration a crm-configure commit writes (src/steps/crm/configuration.ts),
 * computed from a real `cibadmin --query` capture (Pacemaker 2.1.5): declared
 * changes land where Pacemaker expects them, everything else is kept as read,
 * and what the controller writes parses back to the model it declared.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCib, withoutStatus, type Cib } from '../../../src/facts/cib.js';
import { parseXml, serializeXml, type XmlElement } from '../../../src/facts/xml.js';
import { newConfiguration } from '../../../src/steps/crm/configuration.js';
import { configDiff, type Declared } from '../../../src/steps/crm/difference.js';
import { sameObject, wantedObjects } from '../../../src/steps/crm/objects.js';

const real = join(import.meta.dirname, '../../fixtures/steps/crm-configure/real');
const live = parseCib({ exitCode: 0, stdout: withoutStatus(readFileSync(join(real, 'cib-kopano.xml'), 'utf8')), stderr: '' });

function declared(over: Partial<Declared> = {}): Declared {
  return { properties: {}, rsc_defaults: {}, primitives: [], groups: [], clones: [], colocations: [], orders: [], locations: [], ...over };
}

/** The CIB the node would hold after the commit: the written configuration under the same version. */
function committed(cib: Cib, d: Declared): Cib {
  const conf = serializeXml(newConfiguration(cib, configDiff(d, cib).writes));
  const head = `<cib admin_epoch="${cib.version.adminEpoch}" epoch="${cib.version.epoch}" num_updates="0">`;
  return parseCib({ exitCode: 0, stdout: `${head}\n${conf}</cib>\n`, stderr: '' });
}

function ids(el: XmlElement): string[] {
  return [el.attrs['id'] ?? el.name, ...el.children.flatMap(ids)].filter((x) => x !== undefined);
}

describe('newConfiguration', () => {
  it('with nothing to write, is the configuration as read (every element, attribute and id)', () => {
    const conf = newConfiguration(live, { objects: [], properties: {}, rscDefaults: {} });
    expect(conf).toEqual(live.configuration);
    expect(parseXml(serializeXml(conf))).toEqual(live.configuration);
  });

  it('does not modify the configuration it was given', () => {
    const before = JSON.stringify(live.configuration);
    committed(
      live,
      declared({ properties: { 'stonith-enabled': 'true' }, primitives: [{ id: 'vip', agent: 'ocf:heartbeat:IPaddr2', params: { ip: '10.0.0.9' }, meta: {}, ops: [] }] }),
    );
    expect(JSON.stringify(live.configuration)).toBe(before);
  });

  it('changes one parameter in place: same element ids, the others untouched', () => {
    const d = declared({
      primitives: [{ id: 'mysql_ip', agent: 'ocf:pacemaker:Dummy', params: { fake: '192.168.0.9' }, meta: {}, ops: [{ name: 'monitor', interval: '30s' }] }],
    });
    const after = committed(live, d);
    const o = after.objects.get('mysql_ip');
    expect(o).toMatchObject({ type: 'primitive', params: { fake: '192.168.0.9' } });
    expect(ids(newConfiguration(live, configDiff(d, live).writes))).toEqual(ids(live.configuration));
    for (const [id, obj] of live.objects) if (id !== 'mysql_ip') expect(after.objects.get(id), id).toEqual(obj);
    expect(configDiff(d, after).text).toBe('');
  });

  it('creates a group of new primitives inside a new clone, with constraints, properties and rsc_defaults, and a second run finds nothing to do', () => {
    const d = declared({
      primitives: [
        {
          id: 'web_ip',
          agent: 'ocf:heartbeat:IPaddr2',
          params: { ip: '10.1.2.3', cidr_netmask: '24' },
          meta: { 'target-role': 'Started' },
          ops: [{ name: 'monitor', interval: '10s', timeout: '20s' }],
        },
        { id: 'web', agent: 'systemd:apache2', params: {}, meta: {}, ops: [] },
        { id: 'fence_a', agent: 'stonith:fence_virsh', params: { ip: '127.0.0.1', password: 'a&b<c>"d' }, meta: {}, ops: [] },
      ],
      groups: [{ id: 'webgroup', members: ['web_ip', 'web'], meta: {} }],
      clones: [{ id: 'webclone', resource: 'webgroup', promotable: false, meta: { 'clone-max': '2' } }],
      colocations: [{ id: 'web_with_mysql', score: '-INFINITY', resource: 'webclone', with: 'mysql' }],
      locations: [{ id: 'fence_a_not_on_bob', resource: 'fence_a', node: 'c6-bob', score: '-INFINITY' }],
      properties: { 'stonith-enabled': 'true', 'stonith-timeout': '90s' },
      rsc_defaults: { 'migration-threshold': '3' },
    });
    const conf = newConfiguration(live, configDiff(d, live).writes);
    const resources = conf.children.find((c) => c.name === 'resources')!;
    const clone = resources.children.find((c) => c.attrs['id'] === 'webclone')!;
    expect(clone.name).toBe('clone');
    expect(clone.children.map((c) => c.name)).toEqual(['meta_attributes', 'group']);
    expect(clone.children[1]!.children.map((c) => c.attrs['id'])).toEqual(['web_ip', 'web']);
    // the members moved inside: not also left at the top level
    expect(resources.children.map((c) => c.attrs['id'])).toEqual(['mysql', 'ms_drbd_mysql', 'kopano', 'fence_a', 'webclone']);
    // the password (with every XML special character) survives the text round trip
    const after = committed(live, d);
    expect(after.objects.get('fence_a')).toMatchObject({ params: { password: 'a&b<c>"d' } });
    expect(after.properties).toMatchObject({ 'stonith-enabled': 'true', 'stonith-timeout': '90s', 'cluster-name': 'debian' });
    expect(after.rscDefaults).toEqual({ 'resource-stickiness': '100', 'migration-threshold': '3' });
    for (const w of wantedObjects(d)) expect(sameObject(w, after.objects.get(w.id)!), w.id).toBe(true);
    expect(configDiff(d, after).text).toBe('');
    // an id used once in the whole configuration
    const all = ids(conf).filter((x) => /[-_]/.test(x) || live.objects.has(x));
    expect(new Set(all).size).toBe(all.length);
  });

  it('removes a parameter no longer declared (params are compared exactly)', () => {
    const d = declared({ primitives: [{ id: 'kopano-server', agent: 'ocf:pacemaker:Dummy', params: {}, meta: {}, ops: [{ name: 'monitor', interval: '30', timeout: '60' }] }] });
    expect(live.objects.get('kopano-server')).toMatchObject({ params: { fake: 'with space' } });
    const after = committed(live, d).objects.get('kopano-server') as { params: Record<string, string> };
    expect(after.params).toEqual({});
  });

  it('keeps a member the group no longer declares, as a resource of its own', () => {
    const d = declared({ groups: [{ id: 'mysql', members: ['mysql_ip'], meta: {} }] });
    const after = committed(live, d);
    expect(after.objects.get('mysql')).toMatchObject({ members: ['mysql_ip'] });
    expect(after.objects.get('mysql_fs')).toEqual(live.objects.get('mysql_fs'));
    const resources = newConfiguration(live, configDiff(d, live).writes).children.find((c) => c.name === 'resources')!;
    expect(resources.children.map((c) => c.attrs['id'])).toContain('mysql_fs');
  });

  it('keeps undeclared meta (target-role set by an operator) and replaces the operations exactly', () => {
    const d = declared({
      primitives: [{ id: 'mysql_fs', agent: 'ocf:pacemaker:Dummy', params: {}, meta: { 'migration-threshold': '2' }, ops: [{ name: 'monitor', interval: '15s' }] }],
    });
    const after = committed(live, d);
    expect(after.objects.get('mysql_fs')).toMatchObject({ meta: { 'target-role': 'Started', 'migration-threshold': '2' }, ops: [{ name: 'monitor', attrs: { interval: '15s' } }] });
  });

  it('rewrites a constraint in place, keeping its position and attribute order', () => {
    const d = declared({ orders: [{ id: 'mysql_after_drbd', kind: 'Optional', first: 'ms_drbd_mysql', first_action: 'promote', then: 'mysql', then_action: 'start' }] });
    const conf = newConfiguration(live, configDiff(d, live).writes);
    const cons = conf.children.find((c) => c.name === 'constraints')!;
    expect(cons.children.map((c) => c.attrs['id'])).toEqual(['mysql_on_drbd', 'mysql_after_drbd', 'kopano_after_mysql']);
    expect(Object.keys(cons.children[1]!.attrs)).toEqual(['id', 'kind', 'first', 'first-action', 'then', 'then-action']);
    expect(cons.children[1]!.attrs['kind']).toBe('Optional');
  });
});

describe('serializeXml', () => {
  it('escapes markup and control characters so that parseXml reads the same values back', () => {
    const el: XmlElement = { name: 'nvpair', attrs: { id: 'x', value: '<&>"\'\t\n end' }, children: [] };
    expect(parseXml(serializeXml(el))).toEqual(el);
  });
});
