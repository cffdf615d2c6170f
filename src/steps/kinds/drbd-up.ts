/**
 * `drbd-up`: the resource exists in the kernel on this node, its disk
 * attached and its connections configured (Connecting is enough: being up
 * is per node; waiting for Connected belongs to drbd-initial-sync).
 *
 * Facts: `drbdsetup events2 --now NAME` (a missing DRBD module or resource
 * means not up; `drbdadm up` loads the module).
 * Changes: not up -> `drbdadm up NAME`; half up: a Diskless volume ->
 * `drbdadm attach NAME`; no connection at all -> `drbdadm adjust NAME`; a
 * StandAlone connection -> `drbdadm connect NAME` (no split-brain recovery:
 * if DRBD finds one it drops to StandAlone again and says so in its log).
 * Done: every volume has a disk (not Diskless) and every connection is
 * neither StandAlone nor missing.
 * Refused: a volume whose disk Failed (backing device I/O errors).
 */
import { z } from 'zod';
import type { Change } from '../contract.js';
import { defineStep, exec, refuse } from '../define.js';
import { eventsProbe } from '../../facts/drbd.js';
import { resourceName } from '../drbd-params.js';

export const drbdUpParams = z.object({ resource: resourceName, sudo: z.boolean().default(false) }).strict();
export type DrbdUpParams = z.infer<typeof drbdUpParams>;

export const drbdUpStep = defineStep({
  kind: 'drbd-up',
  params: drbdUpParams,
  // events2 of the resource (a missing drbdsetup reads as "not up")
  reads: (p) => [`drbd:${p.resource}`, 'pkgdb:'],
  writes: (p) => [`drbd:${p.resource}`],
  probes: (p: DrbdUpParams) => ({ events: eventsProbe(p.resource, p.sudo) }),
  diff(p, { events }): Change[] {
    const r = events.get(p.resource);
    const run = (verb: string, description: string): Change => exec(['drbdadm', verb, p.resource], description, { sudo: p.sudo });
    if (!r) return [run('up', `bring up DRBD resource ${p.resource}`)];
    const failed = r.devices.filter((d) => d.disk === 'Failed');
    if (failed.length) return [refuse(`${p.resource}: the disk of minor ${failed.map((d) => d.minor).join(', ')} Failed (I/O errors on the backing device)`)];
    const changes: Change[] = [];
    const diskless = r.devices.filter((d) => d.disk === 'Diskless' && !d.client);
    if (r.devices.length === 0 || r.connections.length === 0)
      return [run('adjust', `complete the half-up resource ${p.resource} (${r.devices.length} volume(s), ${r.connections.length} connection(s))`)];
    if (diskless.length) changes.push(run('attach', `attach the backing disk of ${p.resource} (minor ${diskless.map((d) => d.minor).join(', ')} is Diskless)`));
    const alone = r.connections.filter((c) => c.connection === 'StandAlone');
    if (alone.length) changes.push(run('connect', `connect ${p.resource} to ${alone.map((c) => c.name).join(', ')} (StandAlone)`));
    return changes;
  },
});
