/**
 * `drbd-create-md`: DRBD metadata on the resource's backing device (the
 * device comes from the configuration: `drbdadm sh-ll-dev NAME`).
 *
 * Peer slots: DRBD 9 metadata holds one bitmap per peer, as many as
 * create-md's `--max-peers` made (drbdmeta: "max-peers N" in `dump-md`);
 * attaching a disk with more peers configured than slots fails in the
 * kernel ("Not enough free bitmap slots (available=A, needed=N)"). The
 * resource's peers are counted in the configuration on the node (its `on
 * HOST` sections in `drbdadm dump NAME`, minus this node). `max_peers`
 * defaults to 7 (more when the resource has more peers): the same on every
 * node whatever the resource's size, because the slots decide the size of
 * the metadata at the end of the backing device, hence of the data area,
 * and DRBD refuses a node whose data area is smaller than the running
 * resource's ("The peer's disk size is too small"): a default counted from
 * the peers would give a node added later a smaller area than the others.
 * Room for up to 8 nodes; each slot costs 32 KiB of metadata per GiB of
 * data. A `max_peers` below the peer count is refused.
 *
 * Done: `drbdadm get-gi NAME` reads generation identifiers (metadata exists,
 * whether the resource is up or not) and, when dump-md shows its slots,
 * they are at least the resource's peers.
 * Changes: `drbdadm create-md --max-peers=N NAME` with an empty, closed
 * stdin, only after the probes made sure it will not ask (it asks only when
 * it finds data or metadata): never `yes |`, never `--force`.
 * Refused: the backing device is missing; blkid finds DRBD metadata that
 * drbdadm cannot read (another version, damaged); it holds a filesystem or
 * another signature, or any non-zero byte in its first 68 KiB (what
 * drbdmeta's check_for_existing_data reads: "Found some data"), unless
 * `allow_overwrite: true`: then `wipefs --all` and zeroing those 68 KiB come
 * first, shown in the plan, so create-md finds nothing to ask about.
 * Existing metadata with fewer slots than the resource has peers is refused
 * with what was found and what to do: it is never recreated by this step
 * (that would discard the node's data and its sync state).
 *
 * DRBD 8.4 (the node's module, facts/drbd-kernel.ts): `drbdadm create-md
 * NAME` runs drbdadm-84, which always makes v08 metadata (`drbdmeta MINOR
 * v08 DEV internal create-md`, user/v84/drbdadm_main.c _admm_generic): one
 * peer, no slots, so no `--max-peers` (a DRBD 9 option) and no slot checks;
 * `max_peers` does not apply. Metadata drbdadm-84 cannot read (v09 from a
 * DRBD 9 module) is refused like any unreadable metadata. No module, or one
 * these steps do not drive: refused.
 */
import { z } from 'zod';
import type { Change, FactProbe } from '../contract.js';
import { defineStep, exec, refuse, sudoOf } from '../define.js';
import { describeBlkid, parseBlkid } from '../../facts/blockdev.js';
import { getGiProbe, mdSlotsProbe } from '../../facts/drbd.js';
import { drbdKernelProbe, noDialect } from '../../facts/drbd-kernel.js';
import { DRBD_CONFIG, resourceName } from '../drbd-params.js';

/** DRBD's limit: node ids 0..31, so at most 31 peers. */
const MAX_SLOTS = 31;

/** The default peer slots, whatever the resource's size (see above). */
export const DEFAULT_SLOTS = 7;

/** The slots to create: `max_peers`, else DEFAULT_SLOTS or the peers when more, capped at DRBD's 31. */
export function slotsFor(maxPeers: number | undefined, peers: number): number {
  return maxPeers ?? Math.min(MAX_SLOTS, Math.max(DEFAULT_SLOTS, peers));
}

export const drbdCreateMdParams = z
  .object({
    resource: resourceName,
    /**
     * Peer slots of new metadata (bitmaps, one per peer that may ever connect).
     * Default: the resource's peers in the configuration plus one, at most 31.
     */
    max_peers: z.number().int().min(1).max(31).optional(),
    allow_overwrite: z.boolean().default(false),
    sudo: z.boolean().default(false),
  })
  .strict();
export type DrbdCreateMdParams = z.infer<typeof drbdCreateMdParams>;

/** `dev PATH` (or `nodev`), then blkid's export and `blkid-exit N`. */
const BACKING_SCRIPT = [
  'd=$(drbdadm sh-ll-dev "$1" 2>/dev/null | head -n 1)',
  'if [ -z "$d" ]; then echo nodev; exit 0; fi',
  'echo "dev $d"',
  'if [ ! -b "$d" ]; then echo notblock; exit 0; fi',
  'blkid -p -o export "$d"',
  'echo "blkid-exit $?"',
  // drbdmeta asks ("Found some data") when the first 68 KiB are not all zero
  'if cmp -s -n 69632 "$d" /dev/zero; then echo "head zero"; else echo "head data"; fi',
].join('\n');

export type BackingFact = { state: 'nodev' } | { state: 'notblock'; dev: string } | { state: 'block'; dev: string; vars: Record<string, string>; headZero: boolean };

export function parseBacking(stdout: string): BackingFact {
  const lines = stdout.split('\n').filter((l) => l !== '');
  if (lines[0] === 'nodev' || !lines[0]?.startsWith('dev ')) return { state: 'nodev' };
  const dev = lines[0].slice(4);
  if (lines[1] === 'notblock') return { state: 'notblock', dev };
  const exit = Number((lines.find((l) => l.startsWith('blkid-exit ')) ?? 'blkid-exit 2').slice(11));
  const body = lines
    .slice(1)
    .filter((l) => !l.startsWith('blkid-exit ') && !l.startsWith('head '))
    .join('\n');
  const headZero = lines.includes('head zero');
  const b = parseBlkid({ exitCode: exit, stdout: body, stderr: '' }, 'backing');
  return b.state === 'notblock' ? { state: 'notblock', dev } : { state: 'block', dev, vars: b.vars, headZero };
}

function backingProbe(resource: string, sudo: boolean): FactProbe<BackingFact> {
  return {
    argv: ['sh', '-c', BACKING_SCRIPT, 'sh', resource],
    ...sudoOf(sudo),
    parse(r, id) {
      if (r.exitCode !== 0) throw new Error(`probe ${id} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
      return parseBacking(r.stdout);
    },
  };
}

export const drbdCreateMdStep = defineStep({
  kind: 'drbd-create-md',
  params: drbdCreateMdParams,
  // its metadata (get-gi); the backing device, which only the configuration
  // names for this host (sh-ll-dev): any device; drbdadm itself
  reads: (p) => [`drbd:${p.resource}`, ...DRBD_CONFIG, 'host:name', 'dev:', 'pkgdb:'],
  writes: (p) => [`drbd:${p.resource}`, 'dev:'],
  probes: (p: DrbdCreateMdParams) => ({
    kernel: drbdKernelProbe(p.sudo),
    gi: getGiProbe(p.resource, p.sudo),
    backing: backingProbe(p.resource, p.sudo),
    md: mdSlotsProbe(p.resource, p.sudo),
  }),
  diff(p, facts): Change[] {
    const k = facts.kernel;
    const no = noDialect(k);
    if (no) return [refuse(`${p.resource}: ${no}`)];
    const v84 = k.dialect === '8.4';
    // v08 metadata (8.4) has one peer and no slots: what dump-md says of slots does not apply
    const { hosts, slots } = v84 ? {} : facts.md;
    // hosts: the resource's `on` sections in the configuration (this node and its peers)
    const peers = hosts !== undefined && hosts >= 2 ? hosts - 1 : undefined;
    if (facts.gi.ids) {
      if (slots === undefined || peers === undefined || slots >= peers) return [];
      const dev = facts.backing.state === 'nodev' ? 'its backing device' : facts.backing.dev;
      const want = slotsFor(p.max_peers, peers);
      return [
        refuse(
          `the DRBD metadata of ${p.resource} on ${dev} has ${slots} peer slot(s) (drbdmeta dump-md: max-peers ${slots}) but the resource has ${peers} peers in its configuration: ` +
            `DRBD cannot attach it ("Not enough free bitmap slots"). The metadata must be recreated with at least ${peers} slots, which this step never does over existing metadata. ` +
            `By hand, on this node: \`drbdadm down ${p.resource}; drbdadm create-md --max-peers=${Math.max(want, peers)} ${p.resource}\` (it asks before overwriting; ` +
            `the internal metadata grows into the end of ${dev}, so whatever uses the data area must fit in less: shrink the filesystem first), ` +
            `then \`drbdadm up ${p.resource}\`: this node is then synced in full from a peer that has the data`,
        ),
      ];
    }
    if (p.max_peers !== undefined && peers !== undefined && p.max_peers < peers)
      return [
        refuse(`max_peers ${p.max_peers} is fewer than the ${peers} peers of ${p.resource} in its configuration: DRBD could not attach the disk ("Not enough free bitmap slots")`),
      ];
    const bk = facts.backing;
    if (bk.state === 'nodev') return [refuse(`resource ${p.resource} has no backing device for this host in the DRBD configuration (drbdadm sh-ll-dev ${p.resource})`)];
    if (bk.state === 'notblock') return [refuse(`the backing device ${bk.dev} of ${p.resource} is not a block device`)];
    const sudo = { sudo: p.sudo };
    const changes: Change[] = [];
    if (bk.vars.TYPE === 'drbd')
      return [
        refuse(
          `${bk.dev} holds DRBD metadata (${bk.vars.VERSION ?? 'unknown version'}) that drbdadm get-gi ${p.resource} cannot read${v84 ? ' (DRBD 8.4 reads v08 metadata)' : ''}: not overwriting it`,
        ),
      ];
    const signature = bk.vars.TYPE !== undefined || bk.vars.PTTYPE !== undefined;
    if (signature || !bk.headZero) {
      const what = signature ? describeBlkid(bk.vars) : 'data in its first 68 KiB (no known signature)';
      if (!p.allow_overwrite) return [refuse(`${bk.dev} holds ${what}: create-md would ask before destroying it; set allow_overwrite: true to erase it`)];
      if (signature) changes.push(exec(['wipefs', '--all', bk.dev], `erase ${what} from ${bk.dev}`, sudo));
      changes.push(
        exec(
          ['dd', 'if=/dev/zero', `of=${bk.dev}`, 'bs=69632', 'count=1', 'conv=notrunc,fsync', 'status=none'],
          `zero the first 68 KiB of ${bk.dev} (drbdmeta checks them for data)`,
          sudo,
        ),
      );
    }
    if (v84) {
      changes.push(
        exec(['drbdadm', 'create-md', p.resource], `create DRBD metadata for ${p.resource} on ${bk.dev} (DRBD ${k.version}: v08 metadata, one peer)`, { ...sudo, stdin: '' }),
      );
      return changes;
    }
    const n = slotsFor(p.max_peers, peers ?? 1);
    const why = p.max_peers !== undefined ? 'max_peers' : `the default for ${peers ?? 1} peer(s): the same on every node, room to add nodes`;
    changes.push(
      exec(['drbdadm', 'create-md', `--max-peers=${n}`, p.resource], `create DRBD metadata for ${p.resource} on ${bk.dev} (${n} peer slot(s): ${why})`, {
        ...sudo,
        stdin: '',
      }),
    );
    return changes;
  },
});
