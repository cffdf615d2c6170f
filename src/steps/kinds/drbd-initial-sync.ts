/**
 * `drbd-initial-sync`: the first full sync of a new resource, started with
 * `drbdadm primary --force NAME` on exactly one node (the playbook targets
 * the inventory's primary; this kind just acts on the node it runs on).
 *
 * "Never synced" is read from the generation identifiers (`drbdadm get-gi`):
 * the current UUID is create-md's 0000000000000004 (ignoring its primary
 * bit) with no bitmap or history UUID. Never a marker file.
 *
 * Changes: `primary --force` only when this node never synced, is Secondary
 * and Inconsistent, and every peer is Connected, Secondary and Inconsistent;
 * then wait until the sync is over.
 * Wait (nothing is run; the engine polls and times out): a peer not yet
 * Connected or its disk state not yet known; a sync running (progress from
 * `done:NN.NN`); after the force, until the sync starts/ends.
 * Done: this node and all its peers UpToDate, this node's current UUID not
 * the initial one (Primary or Secondary alike).
 * With `wait: false` the step is done once the sync runs (a later step of
 * the same resource with `wait: true` waits for its end): a playbook starts
 * the initial syncs of two resources, then waits for each, so that they run
 * side by side (playbooks/kopano-drbd.yaml).
 * Refused: the resource is not up here; this node never synced but a peer
 * has data (UpToDate/Consistent/Outdated) or is Primary; this node is
 * Primary or has data without having been synced by this procedure; a
 * StandAlone connection (split brain, refused authentication): no automatic
 * recovery.
 */
import { z } from 'zod';
import type { Change } from '../contract.js';
import { defineStep, exec, refuse, wait } from '../define.js';
import { eventsProbe, getGiProbe, neverSynced } from '../../facts/drbd.js';
import { resourceName, SYNCING } from '../drbd-params.js';

export const drbdInitialSyncParams = z
  .object({
    resource: resourceName,
    /** Wait until the sync is over (false: done once it runs). */
    wait: z.boolean().default(true),
    sudo: z.boolean().default(false),
  })
  .strict();
export type DrbdInitialSyncParams = z.infer<typeof drbdInitialSyncParams>;

export const drbdInitialSyncStep = defineStep({
  kind: 'drbd-initial-sync',
  params: drbdInitialSyncParams,
  reads: (p) => [`drbd:${p.resource}`, 'pkgdb:'],
  // the sync writes the data areas of the backing devices (which only the configuration names)
  writes: (p) => [`drbd:${p.resource}`, 'dev:'],
  probes: (p: DrbdInitialSyncParams) => ({ events: eventsProbe(p.resource, p.sudo), gi: getGiProbe(p.resource, p.sudo) }),
  diff(p, facts): Change[] {
    const name = p.resource;
    const r = facts.events.get(name);
    if (!r) return [refuse(`resource ${name} is not up on this node (run drbd-up first)`)];
    const gi = facts.gi.ids;
    if (!gi) return [refuse(`cannot read the generation identifiers of ${name} (drbdadm get-gi ${name}: ${facts.gi.stderr.trim().slice(0, 200)})`)];
    const disks = r.devices.map((d) => d.disk);
    const alone = r.connections.filter((c) => c.connection === 'StandAlone');
    if (alone.length)
      return [
        refuse(`${name}: connection to ${alone.map((c) => c.name).join(', ')} is StandAlone (split brain or refused peer?): no automatic recovery; see drbdadm status ${name}`),
      ];

    const syncing = r.peerDevices.filter((d) => SYNCING.has(d.replication));
    if (syncing.length && !p.wait) return [];
    if (syncing.length) {
      const done = syncing.map((d) => d.done).filter((x): x is number => x !== undefined);
      const pct = done.length ? Math.min(...done) : undefined;
      return [
        wait(
          `${name}: sync running (${syncing.map((d) => `${d.replication} with ${d.name}`).join(', ')}${pct !== undefined ? `, ${pct.toFixed(2)}% done` : ''})`,
          pct !== undefined ? pct / 100 : undefined,
        ),
      ];
    }
    const allUp = disks.length > 0 && disks.every((d) => d === 'UpToDate') && r.peerDevices.length > 0 && r.peerDevices.every((d) => d.peerDisk === 'UpToDate');
    if (allUp && !neverSynced(gi)) return [];

    const notConnected = r.connections.filter((c) => c.connection !== 'Connected');
    if (neverSynced(gi)) {
      if (r.role === 'Primary') return [refuse(`${name} is Primary here but was never synced: not forcing anything`)];
      if (!disks.every((d) => d === 'Inconsistent')) return [refuse(`${name}: local disk is ${disks.join('/')}, expected Inconsistent for an initial sync`)];
      const primaryPeer = r.connections.filter((c) => c.role === 'Primary');
      if (primaryPeer.length) return [refuse(`${name}: peer ${primaryPeer.map((c) => c.name).join(', ')} is Primary: this resource is in use, no initial sync`)];
      const withData = r.peerDevices.filter((d) => ['UpToDate', 'Consistent', 'Outdated'].includes(d.peerDisk));
      if (withData.length) return [refuse(`${name}: peer ${withData.map((d) => `${d.name} has ${d.peerDisk} data`).join(', ')}: it was synced before, no initial sync here`)];
      if (r.connections.length === 0 || notConnected.length) {
        return [wait(`${name}: waiting for the peers to connect (${r.connections.length ? notConnected.map((c) => `${c.name} ${c.connection}`).join(', ') : 'no connection'})`)];
      }
      const unknown = r.peerDevices.filter((d) => d.peerDisk !== 'Inconsistent');
      if (unknown.length || r.peerDevices.length === 0)
        return [wait(`${name}: waiting for the peers' disk states (${unknown.map((d) => `${d.name} ${d.peerDisk}`).join(', ') || 'none yet'})`)];
      return [
        exec(['drbdadm', 'primary', '--force', name], `start the initial sync of ${name} from this node (primary --force; peers Connected and Inconsistent, never synced)`, {
          sudo: p.sudo,
        }),
        wait(`${name}: initial sync starting`),
      ];
    }
    // synced before (not the initial UUID)
    if (disks.every((d) => d === 'UpToDate')) {
      if (notConnected.length) return [wait(`${name}: UpToDate here, waiting for ${notConnected.map((c) => `${c.name} (${c.connection})`).join(', ')} to connect and sync`)];
      const behind = r.peerDevices.filter((d) => d.peerDisk !== 'UpToDate');
      return [wait(`${name}: UpToDate here, waiting for ${behind.map((d) => `${d.name} (${d.peerDisk}, ${d.replication})`).join(', ')} to sync`)];
    }
    return [
      refuse(`${name} was synced before (current UUID ${gi.current}) but its disk here is ${disks.join('/')} and nothing syncs: no initial sync; see drbdadm status ${name}`),
    ];
  },
});
