/** Location constraints in crm-configure: parsed from the CIB, compared, rendered as crm text. */
import { describe, expect, it } from 'vitest';
import { parseCib } from '../../../src/facts/cib.js';
import { crmConfigureParams } from '../../../src/steps/kinds/crm-configure.js';
import { renderObject, sameObject, wantedObjects } from '../../../src/steps/crm/objects.js';

const cib = (constraints: string) => ({
  exitCode: 0,
  stderr: '',
  stdout: `<cib admin_epoch="0" epoch="7" num_updates="0"><configuration><crm_config/><nodes/><resources/><constraints>${constraints}</constraints></configuration></cib>`,
});

describe('crm-configure locations', () => {
  it('parses a simple rsc_location (with a role too); one with a rule stays "other"', () => {
    const c = parseCib(
      cib(
        '<rsc_location id="mail1_on_bob" rsc="mail1" node="bob" score="100"/>' +
          '<rsc_location id="r" rsc="mail1" score="-INFINITY"><rule id="r1" score="-INFINITY"><expression id="e" attribute="#uname" operation="eq" value="x"/></rule></rsc_location>' +
          '<rsc_location id="promoted" rsc="ms" node="bob" score="50" role="Promoted"/>',
      ),
    );
    expect(c.objects.get('mail1_on_bob')).toEqual({ type: 'location', id: 'mail1_on_bob', rsc: 'mail1', node: 'bob', score: '100' });
    expect(c.objects.get('r')?.type).toBe('other');
    expect(c.objects.get('promoted')).toEqual({ type: 'location', id: 'promoted', rsc: 'ms', role: 'Promoted', node: 'bob', score: '50' });
  });

  it('a declared location equals the live one with the same fields and renders as crm text', () => {
    const p = crmConfigureParams.parse({
      locations: [
        { id: 'mail1_on_bob', resource: 'mail1', node: 'bob', score: 100 },
        { id: 'never', resource: 'mail2', node: 'carol', score: '-inf' },
      ],
    });
    const [w, never] = wantedObjects(p);
    expect(renderObject(w!)).toBe('location mail1_on_bob mail1 100: bob\n');
    expect(renderObject(never!)).toBe('location never mail2 -inf: carol\n');
    const [promoted] = wantedObjects(crmConfigureParams.parse({ locations: [{ id: 'p', resource: 'ms', role: 'Master', node: 'bob', score: 50 }] }));
    expect(renderObject(promoted!)).toBe('location p ms role=Promoted 50: bob\n');
    expect(sameObject(promoted!, parseCib(cib('<rsc_location id="p" rsc="ms" node="bob" score="50" role="Promoted"/>')).objects.get('p')!)).toBe(true);
    const live = parseCib(cib('<rsc_location id="mail1_on_bob" rsc="mail1" node="bob" score="100"/>')).objects.get('mail1_on_bob')!;
    expect(sameObject(w!, live)).toBe(true);
    const moved = parseCib(cib('<rsc_location id="mail1_on_bob" rsc="mail1" node="alice" score="100"/>')).objects.get('mail1_on_bob')!;
    expect(sameObject(w!, moved)).toBe(false);
  });

  it('refuses a location id used twice', () => {
    const r = crmConfigureParams.safeParse({ orders: [{ id: 'x', first: 'a', then: 'b' }], locations: [{ id: 'x', resource: 'a', node: 'bob', score: 1 }] });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/id \\"x\\" is already used by orders\[0\]/);
  });
});

describe('crm-configure probes', () => {
  it('reads the next transition before the status (probes run in order): a status older than the transition can show a start that has finished since', async () => {
    const { crmConfigureStep } = await import('../../../src/steps/kinds/crm-configure.js');
    const p = crmConfigureParams.parse({ primitives: [{ id: 'x', agent: 'ocf:pacemaker:Dummy' }] });
    const ids = crmConfigureStep.probes(p, { name: 'n1', address: '127.0.0.1', secrets: [] } as never).map((x) => x.id);
    expect(ids.indexOf('transition')).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf('transition')).toBeLessThan(ids.indexOf('status'));
  });
});
