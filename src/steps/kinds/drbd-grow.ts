/**
 * `drbd-grow`: a DRBD resource uses all the space its backing devices have.
 * After a backing device grew on every node of the resource (a partition
 * or a logical volume made larger while the resource runs), `drbdadm resize
 * NAME` on one node makes DRBD use it: the metadata moves to the new end of
 * each backing device and the new area is synced from the Primary. The
 * filesystem on top is grown by the mkfs step (`grow`, on by default).
 *
 * One step for the whole resource, run once on one node (the playbook
 * targets the inventory's primary, as for the initial sync): a resize is a
 * cluster-wide change that DRBD commits on every connected node, and the
 * size it agrees on is the smallest any node's backing device allows. So
 * the step reads every host of the resource (`hosts`, the names of its
 * nodes: `!ref cluster.drbd.NAME.members` as for drbd-resource) on that
 * node: the backing device's size, the metadata's peer slots and activity
 * log (which set how much of it internal metadata takes: drbdDataBytes in
 * facts/drbd.ts), and the size DRBD uses now.
 *
 * Done: the DRBD device is as large as the smallest data area its nodes'
 * backing devices allow (DRBD cannot use more: a node that grew more than
 * the others keeps the rest unused, and that is not a change to make).
 * Changes: that smallest data area larger than the DRBD device ->
 * `drbdadm resize NAME` (DRBD then resyncs the new area; the step does not
 * wait for that resync: the Primary's data is complete).
 * Wait: a resync running (DRBD refuses a resize during a resync).
 * Refused:
 * - a backing device that leaves less than DRBD uses now: it was shrunk
 *   under DRBD (a shrink would cut the end off the filesystem on top). Never
 *   resized here, with or without an override: restore the device's size,
 *   or shrink the filesystem, then DRBD (`drbdadm resize --size=...`), then
 *   the device, by hand.
 * - growth possible but a peer not Connected (DRBD would keep the size it
 *   last agreed on), or a node where the resource is not up, has no disk,
 *   or whose metadata drbdmeta cannot read (this one included: DRBD
 *   resizes from a node with a disk);
 * - the resource not up on this node, or this node not one of `hosts`.
 */
import { z } from 'zod';
import type { Change, FactProbe } from '../contract.js';
import { defineStep, exec, on, refuse, wait } from '../define.js';
import { drbdDataBytes, drbdSizeProbe, eventsProbe, type DrbdResource, type DrbdSizeFact } from '../../facts/drbd.js';
import { resourceName, SYNCING } from '../drbd-params.js';

export const drbdGrowParams = z
  .object({
    resource: resourceName,
    /** The resource's nodes (inventory names, which are their `uname -n`): names, or objects with a `name` such as drbd-resource's hosts. */
    hosts: z
      .array(z.union([z.string().min(1), z.object({ name: z.string().min(1) }).passthrough()]))
      .min(2)
      .transform((hs) => hs.map((h) => (typeof h === 'string' ? h : h.name)))
      .refine((hs) => new Set(hs).size === hs.length, 'host names must differ'),
    sudo: z.boolean().default(false),
  })
  .strict();
export type DrbdGrowParams = z.infer<typeof drbdGrowParams>;

const MiB = (bytes: number): string => `${(bytes / 1048576).toFixed(1).replace(/\.0$/, '')} MiB`;

/** The probe id of a host's sizes. */
export const sizeId = (host: string): string => `size-${host}`;

export const drbdGrowStep = defineStep({
  kind: 'drbd-grow',
  params: drbdGrowParams,
  // every node's backing device and DRBD state: reads on other nodes, so
  // left undefined (anything, anywhere; contract.ts Probe.node)
  reads: () => undefined,
  // the resize changes the resource on every node and the data areas of their backing devices
  writes: (p) => [`drbd:${p.resource}`, 'dev:'],
  probes(p: DrbdGrowParams, node) {
    const set: Record<string, FactProbe<unknown>> = { events: eventsProbe(p.resource, p.sudo) };
    for (const h of p.hosts) set[sizeId(h)] = h === node.name ? drbdSizeProbe(p.resource, p.sudo) : on(h, drbdSizeProbe(p.resource, p.sudo));
    return set;
  },
  diff(p, facts, node): Change[] {
    const name = p.resource;
    if (!p.hosts.includes(node.name)) return [refuse(`${node.name} is not one of the hosts of ${name} (${p.hosts.join(', ')})`)];
    const r = (facts.events as Map<string, DrbdResource>).get(name);
    if (!r) return [refuse(`resource ${name} is not up on this node (run drbd-up first)`)];
    const sizes = p.hosts.map((h) => ({ host: h, fact: facts[sizeId(h)] as DrbdSizeFact }));
    // the size DRBD uses: this node's, else a peer's (this node may be diskless for now)
    const known = sizes.map((s) => (s.fact.state === 'block' ? s.fact.sizeKiB : undefined));
    const ownKiB = known[p.hosts.indexOf(node.name)];
    const anyKiB = ownKiB ?? known.find((k) => k !== undefined);
    if (anyKiB === undefined) return []; // up nowhere with a disk: nothing DRBD could grow (drbd-up's job first)
    const used = anyKiB * 1024;

    // what each node's backing device allows; the problems that keep it unknown
    const unknown: string[] = [];
    const allows: { host: string; dev: string; bytes: number; backing: number }[] = [];
    for (const { host, fact } of sizes) {
      if (fact.state === 'nodev') unknown.push(`${host}: no backing device for this host in the configuration of ${name}`);
      else if (fact.state === 'notblock') unknown.push(`${host}: the backing device ${fact.dev} is not a block device`);
      else if (fact.maxPeers === undefined) unknown.push(`${host}: drbdadm dump-md ${name} cannot read the metadata on ${fact.dev}`);
      else {
        if (fact.sizeKiB === undefined) unknown.push(`${host}: ${name} is not up with a disk`);
        allows.push({ host, dev: fact.dev, bytes: drbdDataBytes(fact.backingBytes, fact.maxPeers, fact.alSectors), backing: fact.backingBytes });
      }
    }
    const shrunk = allows.filter((a) => a.bytes < used);
    if (shrunk.length)
      return [
        refuse(
          `${name} uses ${MiB(used)} (${used} bytes) but ${shrunk
            .map((a) => `on ${a.host} the backing device ${a.dev} (${MiB(a.backing)}) leaves ${MiB(a.bytes)} for data`)
            .join(
              ', ',
            )}: it was shrunk under DRBD${unknown.length ? ` (and unknown: ${unknown.join('; ')})` : ''}. Not resizing: DRBD would cut the end off its data (and the filesystem on it). ` +
            `Restore the device's size; to shrink on purpose, by hand: shrink the filesystem first, then \`drbdadm resize --size=... ${name}\`, then the device`,
        ),
      ];
    // nothing grew (on the nodes that can be read): nothing to do
    const target = allows.length ? Math.min(...allows.map((a) => a.bytes)) : used;
    if (target <= used) return [];
    const grown = allows
      .filter((a) => a.bytes > used)
      .map((a) => a.host)
      .join(', ');
    if (unknown.length) return [refuse(`the backing devices of ${name} grew (${grown}) but DRBD can only grow once every node's can be read: ${unknown.join('; ')}`)];
    const notConnected = r.connections.filter((c) => c.connection !== 'Connected');
    if (notConnected.length || r.connections.length === 0)
      return [
        refuse(
          `${name} can grow from ${MiB(used)} to ${MiB(target)}, but DRBD agrees on a new size only with every peer connected: ${
            notConnected.map((c) => `${c.name} is ${c.connection}`).join(', ') || 'no connection'
          }`,
        ),
      ];
    const syncing = r.peerDevices.filter((d) => SYNCING.has(d.replication));
    if (syncing.length) return [wait(`${name}: waiting for the resync to end before growing (${syncing.map((d) => `${d.replication} with ${d.name}`).join(', ')})`)];
    const each = allows.map((a) => `${a.host} ${a.dev} ${MiB(a.backing)}`).join(', ');
    return [exec(['drbdadm', 'resize', name], `grow ${name} from ${MiB(used)} to ${MiB(target)}, the data area all its backing devices now allow (${each})`, { sudo: p.sudo })];
  },
});
