/** Parsers and renderers of the cluster kinds, on outputs captured from a real Pacemaker 2.1.5 / corosync 3.1.7 cluster. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCib, withoutStatus } from '../../../src/facts/cib.js';
import { renderCorosyncConf } from '../../../src/facts/corosync.js';
import { parseCrmMon, parseTransition } from '../../../src/facts/crm-mon.js';
import { parseXml } from '../../../src/facts/xml.js';
import { durationMs, renderObject } from '../../../src/steps/crm/objects.js';

const real = (kind: string, f: string) => readFileSync(join(import.meta.dirname, '../../fixtures/steps', kind, 'real', f), 'utf8');
const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: '' });

describe('parseXml', () => {
  it('reads elements, attributes and entities', () => {
    const x = parseXml('<?xml version="1.0"?>\n<!-- c --><a x="1 &amp; 2" y=\'&apos;q&apos;\'><b/><c z="&#65;">text</c></a>');
    expect(x).toEqual({
      name: 'a',
      attrs: { x: '1 & 2', y: "'q'" },
      children: [
        { name: 'b', attrs: {}, children: [] },
        { name: 'c', attrs: { z: 'A' }, children: [] },
      ],
    });
  });
  it.each([
    ['<a><b></a>', 'XML: 1:10: unexpected close tag'],
    ['<a>', 'XML: 1:3: unclosed tag: a'],
    ['<a/><b/>', 'documents may contain only one root'],
    ['<a x="1" x="2"/>', 'duplicate attribute: x'],
    ['<a x=1/>', 'unquoted attribute value'],
    ['', 'document must contain a root element'],
    ['<a>&nope;</a>', 'undefined entity'],
    ['<a/>x', 'text data outside of root node'],
    ['<a x="<"/>', 'disallowed character'],
    ['<crm_mon><nodes><node name="bob"', 'unclosed tag'],
  ])('rejects %j', (text, msg) => expect(() => parseXml(text)).toThrow(msg));
});

describe('parseCib (real cibadmin --query)', () => {
  const cib = parseCib(ok(real('crm-configure', 'cib-kopano.xml')));
  it('reads the version that guards a commit', () => expect(cib.version).toEqual({ adminEpoch: 0, epoch: 21, numUpdates: 16 }));
  it('reads properties, rsc_defaults and nodes', () => {
    expect(cib.properties['stonith-enabled']).toBe('false');
    expect(cib.rscDefaults).toEqual({ 'resource-stickiness': '100' });
    expect(cib.rscDefaultsSet).toBe('rsc-options');
    expect(cib.nodes).toEqual(['c6-bob', 'c6-alice']);
  });
  it('reads nested resources and constraints', () => {
    expect(cib.objects.get('mysql')).toEqual({ type: 'group', id: 'mysql', members: ['mysql_fs', 'mysql_ip'], meta: {} });
    expect(cib.objects.get('ms_drbd_mysql')).toMatchObject({ type: 'clone', child: 'drbd_mysql', legacyMaster: false, meta: { promotable: 'true', notify: 'true' } });
    expect(cib.objects.get('drbd_mysql')).toMatchObject({
      type: 'primitive',
      agent: 'ocf:pacemaker:Stateful',
      ops: [
        { name: 'monitor', attrs: { role: 'Promoted', interval: '59s', timeout: '30s' } },
        { name: 'monitor', attrs: { role: 'Unpromoted', interval: '60s', timeout: '30s' } },
      ],
    });
    expect(cib.objects.get('mysql_on_drbd')).toEqual({
      type: 'colocation',
      id: 'mysql_on_drbd',
      score: 'INFINITY',
      rsc: 'mysql',
      withRsc: 'ms_drbd_mysql',
      withRscRole: 'Promoted',
    });
    expect(cib.objects.get('mysql_after_drbd')).toEqual({
      type: 'order',
      id: 'mysql_after_drbd',
      kind: 'Mandatory',
      first: 'ms_drbd_mysql',
      firstAction: 'promote',
      then: 'mysql',
      thenAction: 'start',
    });
  });
  it('gives the same model without the status section (what the probe sends)', () => {
    const a = parseCib(ok(withoutStatus(real('crm-configure', 'cib-kopano.xml'))));
    expect([...a.objects.entries()]).toEqual([...cib.objects.entries()]);
    expect(withoutStatus(real('crm-configure', 'cib-kopano.xml'))).not.toContain('<status>');
  });
  it('fails loudly on a failed probe', () => expect(() => parseCib({ exitCode: 102, stdout: '', stderr: 'Could not connect to the CIB' })).toThrow('exit 102'));
});

describe('parseCrmMon (real crm_mon --output-as=xml)', () => {
  it('reads nodes and instances', () => {
    const m = parseCrmMon(ok(real('crm-configure', 'crm_mon-kopano.xml')));
    if (m.state !== 'up') throw new Error('expected up');
    expect(m.dc).toBe('c6-alice');
    expect(m.nodes.map((n) => [n.name, n.online])).toEqual([
      ['c6-alice', true],
      ['c6-bob', true],
    ]);
    expect(m.instances.filter((i) => i.id === 'drbd_mysql').map((i) => [i.role, i.nodes])).toEqual([
      ['Promoted', ['c6-bob']],
      ['Unpromoted', ['c6-alice']],
    ]);
  });
  it('reads failed operations, resource from op_key, without their time', () => {
    const m = parseCrmMon(ok(readFileSync(join(import.meta.dirname, '../../fixtures/status/mysqld-killed/bob.crm_mon.xml'), 'utf8')));
    if (m.state !== 'up') throw new Error('expected up');
    expect(m.failed).toEqual([{ resource: 'mysqld', node: 'bob', task: 'monitor', why: 'not running: failed' }]);
    const healthy = parseCrmMon(ok(real('crm-configure', 'crm_mon-kopano.xml')));
    expect(healthy.state === 'up' && healthy.failed).toEqual([]);
  });
  it('reports a node without pacemaker as down', () => {
    expect(parseCrmMon({ exitCode: 102, stdout: real('crm-configure', 'crm_mon-down.xml'), stderr: '' })).toEqual({ state: 'down', message: 'Not connected' });
  });
});

describe('parseTransition (real crm_simulate -LS)', () => {
  it('nothing to do', () => expect(parseTransition(ok(real('crm-configure', 'sim-settled.txt')))).toEqual({ pending: [], blocked: [] }));
  it('blocked actions are not pending', () => {
    const t = parseTransition(ok(real('crm-configure', 'sim-blocked.txt')));
    expect(t.pending).toEqual([]);
    expect(t.blocked).toEqual([
      'Start kopano_fs ( c6-alice ) due to unrunnable mysql running (blocked)',
      'Start kopano-server ( c6-alice ) due to unrunnable mysql running (blocked)',
    ]);
  });
});

describe('crm syntax', () => {
  it('renders as crmsh prints, quoting values with spaces', () => {
    expect(
      renderObject({
        type: 'primitive',
        id: 'p',
        agent: 'ocf:heartbeat:IPaddr2',
        params: { ip: '10.0.0.1', x: 'a b' },
        meta: {},
        ops: [{ name: 'monitor', attrs: { interval: '30s' } }],
      }),
    ).toBe('primitive p ocf:heartbeat:IPaddr2 \\\n\tparams ip=10.0.0.1 x="a b" \\\n\top monitor interval=30s\n');
  });
  it.each([
    ['30', 30000],
    ['30s', 30000],
    ['1m', 60000],
    ['500ms', 500],
    ['0', 0],
    ['PT30S', undefined],
  ])('duration %s', (v, ms) => expect(durationMs(v)).toBe(ms));
});

describe('renderCorosyncConf', () => {
  it('is byte for byte the file corosync 3.1.7 ran with on the test cluster', () => {
    const conf = renderCorosyncConf({
      clusterName: 'c6',
      nodes: [
        { name: 'c6-bob', nodeid: 1, addrs: ['172.27.0.2'] },
        { name: 'c6-alice', nodeid: 2, addrs: ['172.27.0.3'] },
      ],
      cryptoCipher: 'aes256',
      cryptoHash: 'sha256',
      twoNode: true,
    });
    expect(conf).toBe(real('corosync', 'rendered-c6.conf'));
  });
  it('with a quorum device (ffsplit needs votes: 1): the file corosync-qdevice 3.0.3 ran with against corosync-qnetd', () => {
    const conf = renderCorosyncConf({
      clusterName: 'c6',
      nodes: [
        { name: 'c6-bob', nodeid: 1, addrs: ['172.27.0.2'] },
        { name: 'c6-alice', nodeid: 2, addrs: ['172.27.0.3'] },
      ],
      cryptoCipher: 'aes256',
      cryptoHash: 'sha256',
      twoNode: false,
      qdevice: { host: '172.27.0.4', port: 5403, algorithm: 'ffsplit', tls: 'off' },
    });
    expect(conf).toBe(real('corosync', 'rendered-c6-qdevice.conf'));
    expect(real('corosync', 'quorumtool-qdevice.txt')).toMatch(/0\s+1\s+Qdevice/);
  });
});
