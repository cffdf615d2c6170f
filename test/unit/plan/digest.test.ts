/**
 * A saved plan's staleness follows what a step decides on, not raw output
 * (issue 11, point 2): the facts digest of real captures is unchanged when
 * only timestamps, update counters or a resync's progress move, and changes
 * when the state a step reads changes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cibProbe } from '../../../src/facts/cib.js';
import { crmMonProbe } from '../../../src/facts/crm-mon.js';
import { eventsProbe } from '../../../src/facts/drbd.js';
import { factsDigest } from '../../../src/plan/digest.js';
import type { Probe, ProbeResult } from '../../../src/steps/contract.js';
import { engineProbes } from '../../../src/steps/define.js';

const REAL = join(__dirname, '../../fixtures/steps/crm-configure/real');
const read = (f: string) => readFileSync(join(REAL, f), 'utf8');
const ok = (stdout: string): ProbeResult => ({ exitCode: 0, stdout, stderr: '' });
const digestOf = (probe: Probe, stdout: string) => factsDigest({ [probe.id]: ok(stdout) }, [], [probe]);

describe('facts digest', () => {
  it('crm_mon: the same status at another time has the same digest; a resource that moved does not', () => {
    const probe = engineProbes({ status: crmMonProbe() })[0]!;
    const xml = read('crm_mon-kopano.xml');
    const later = xml
      .replace(/last_updated="[^"]*"/g, 'last_updated="2026-11-25 09:00:00Z"')
      .replace(/<last_update time="[^"]*"/, '<last_update time="Wed Nov 25 09:00:01 2026"')
      .replace(/<last_change time="[^"]*"/, '<last_change time="Wed Nov 25 08:59:00 2026"');
    expect(later).not.toBe(xml);
    expect(digestOf(probe, later)).toBe(digestOf(probe, xml));
    // the raw output alone (no probe declared) does differ: the normalisation is what makes them equal
    expect(factsDigest({ status: ok(later) }, [])).not.toBe(factsDigest({ status: ok(xml) }, []));
    const stopped = xml.replace(/role="Started"/, 'role="Stopped"');
    expect(stopped).not.toBe(xml);
    expect(digestOf(probe, stopped)).not.toBe(digestOf(probe, xml));
  });

  it('CIB: num_updates and cib-last-written move on their own; a property edited by hand changes the digest', () => {
    const probe = engineProbes({ cib: cibProbe() })[0]!;
    const xml = read('cib-kopano.xml');
    const later = xml.replace(/num_updates="\d+"/, 'num_updates="97"').replace(/cib-last-written="[^"]*"/, 'cib-last-written="Wed Nov 25 09:00:00 2026"');
    expect(later).not.toBe(xml);
    expect(digestOf(probe, later)).toBe(digestOf(probe, xml));
    const edited = xml.replace(/epoch="21"/, 'epoch="22"').replace(/name="no-quorum-policy" value="ignore"/, 'name="no-quorum-policy" value="stop"');
    expect(edited).not.toBe(xml);
    expect(digestOf(probe, edited)).not.toBe(digestOf(probe, xml));
  });

  it('DRBD events2: a resync’s progress is not a change; a disconnected peer is', () => {
    const probe = engineProbes({ events: eventsProbe('r0', false) })[0]!;
    const line = (done: string, conn = 'Connected') =>
      [
        'exists resource name:r0 role:Primary suspended:no',
        'exists device name:r0 volume:0 minor:0 disk:UpToDate client:no',
        `exists connection name:r0 peer-node-id:1 conn-name:alice connection:${conn} role:Secondary`,
        `exists peer-device name:r0 peer-node-id:1 conn-name:alice volume:0 replication:SyncSource peer-disk:Inconsistent done:${done}`,
        'exists -',
      ].join('\n');
    expect(digestOf(probe, line('12.50'))).toBe(digestOf(probe, line('73.10')));
    expect(digestOf(probe, line('12.50', 'Connecting'))).not.toBe(digestOf(probe, line('12.50')));
  });

  it('DRBD events2 reads every resource (one read per node for all steps); a step digests only its own resource', () => {
    const r0 = engineProbes({ events: eventsProbe('r0', false) })[0]!;
    const r1 = engineProbes({ events: eventsProbe('r1', false) })[0]!;
    expect(r0.argv).toEqual(['drbdsetup', 'events2', '--now']);
    expect(r1.argv).toEqual(r0.argv);
    const both = (r1Conn: string) =>
      [
        'exists resource name:r0 role:Primary suspended:no',
        'exists connection name:r0 peer-node-id:1 conn-name:alice connection:Connected role:Secondary',
        'exists resource name:r1 role:Secondary suspended:no',
        `exists connection name:r1 peer-node-id:1 conn-name:alice connection:${r1Conn} role:Secondary`,
        'exists -',
      ].join('\n');
    // r1 lost its peer: a plan of r0's step is not stale because of it; one of r1's is
    expect(digestOf(r0, both('Connecting'))).toBe(digestOf(r0, both('Connected')));
    expect(digestOf(r1, both('Connecting'))).not.toBe(digestOf(r1, both('Connected')));
  });

  it('masks secrets before hashing and keeps unreadable output distinct', () => {
    const probe = engineProbes({ status: crmMonProbe() })[0]!;
    const a = factsDigest({ status: { exitCode: 1, stdout: '<oops', stderr: '' } }, [], [probe]);
    const b = factsDigest({ status: { exitCode: 0, stdout: read('crm_mon-kopano.xml'), stderr: '' } }, [], [probe]);
    expect(a).not.toBe(b);
    const withSecret = (s: string) => factsDigest({ f: ok(`key=${s}`) }, [s]);
    expect(withSecret('s3cr3t-one')).toBe(factsDigest({ f: ok('key=********') }, []));
  });
});
