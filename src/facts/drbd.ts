/**
 * Read-only DRBD probes and pure parsers (DRBD 9, and 8.4 through
 * drbd-utils 9's drbdsetup-84 and drbdadm-84, which `drbdsetup` and
 * `drbdadm` run on an 8.4 kernel: see drbd-kernel.ts).
 *
 * - `drbdsetup events2 --now [NAME]`: one line per object, `exists <object>
 *   key:value ...`, ending with `exists -` (format from drbd-utils 9.x
 *   user/v9/drbdsetup_events2.c; the peer-device line carries `done:NN.NN`
 *   while a resync runs). Parsed as generic key:value so extra keys of other
 *   versions do not matter. drbdsetup-84 prints the same objects
 *   (print_notifications, user/v84/drbdsetup.c) with `peer-node-id:0
 *   conn-name:peer` on every connection and peer device (8.4 has neither
 *   node ids nor connection names), no `done:`, and 8.4 state names where
 *   DRBD 9 has none (CONNECTED_84 below).
 * - On 8.4, `drbdadm get-gi` prints the same line (dt_print_uuids in
 *   user/shared/shared_tool.c serves drbdsetup-84's get-gi and drbdmeta's
 *   v08 get-gi alike), and create-md's v08 metadata starts from the same
 *   UUID_JUST_CREATED (user/shared/drbdmeta.c v08_md_initialize).
 * - `drbdadm get-gi NAME`: `CURRENT:BITMAP:HIST1:HIST2:flags...` (captured
 *   from drbd-utils 9.22 drbdmeta; the kernel path prints the same format via
 *   dt_print_v9_uuids). Exit 1 without output when there is no metadata.
 */
import type { FactProbe, ProbeResult } from '../steps/contract.js';
import { sudoOf } from '../steps/define.js';
import { fileHashProbe, type FileFact } from './file.js';

export interface DrbdDevice {
  volume: number;
  minor: number;
  disk: string;
  client: boolean;
}
export interface DrbdConnection {
  peerNodeId: number;
  name: string;
  connection: string;
  role: string;
}
export interface DrbdPeerDevice {
  name: string;
  volume: number;
  replication: string;
  peerDisk: string;
  /** Percent (0..100) while a resync runs. */
  done?: number;
  /**
   * With `--statistics` only: out-of-sync KiB, and the resync's recent rate
   * as the kernel reports it (rs-db1-sectors over rs-dt1-ms, the same sample
   * `drbdsetup status --statistics` turns into dbdt1 and eta).
   */
  stats?: { outOfSyncKiB?: number; rsDb1Sectors?: number; rsDt1Ms?: number; etaSeconds?: number };
}
export interface DrbdResource {
  name: string;
  role: string;
  devices: DrbdDevice[];
  connections: DrbdConnection[];
  peerDevices: DrbdPeerDevice[];
}

/**
 * `drbdsetup events2 --now`: every resource, also when the step reads one
 * (`resource`), so that the steps of a node share one read per round trip
 * (src/run/link.ts runs a command asked for twice once). What a saved plan
 * depends on is the state of `resource` only (all when undefined): states,
 * not a resync's progress.
 */
export function eventsProbe(resource: string | undefined, sudo: boolean): FactProbe<Map<string, DrbdResource>> {
  return {
    argv: ['drbdsetup', 'events2', '--now'],
    ...sudoOf(sudo),
    parse: parseEvents,
    digest: (r, id) =>
      [...parseEvents(r, id).values()]
        .filter((x) => resource === undefined || x.name === resource)
        .map((x) => ({ ...x, peerDevices: x.peerDevices.map(({ done: _done, stats: _stats, ...pd }) => pd) })),
  };
}

function kv(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) {
    const i = f.indexOf(':');
    if (i > 0) out[f.slice(0, i)] = f.slice(i + 1);
  }
  return out;
}

const num = (v: string | undefined): number | undefined => (v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);

/** `--statistics` keys of a peer-device line; undefined when there are none (no --statistics). */
function peerStats(o: Record<string, string>): DrbdPeerDevice['stats'] {
  const outOfSyncKiB = num(o['out-of-sync']);
  const rsDb1Sectors = num(o['rs-db1-sectors']);
  const rsDt1Ms = num(o['rs-dt1-ms']);
  if (outOfSyncKiB === undefined && rsDb1Sectors === undefined && rsDt1Ms === undefined) return undefined;
  const stats: NonNullable<DrbdPeerDevice['stats']> = {
    ...(outOfSyncKiB !== undefined ? { outOfSyncKiB } : {}),
    ...(rsDb1Sectors !== undefined ? { rsDb1Sectors } : {}),
    ...(rsDt1Ms !== undefined ? { rsDt1Ms } : {}),
  };
  // as drbdsetup status: rate = db1 / dt1 (sectors of 512 bytes per ms), eta = out-of-sync / rate
  if (outOfSyncKiB !== undefined && rsDb1Sectors && rsDt1Ms && rsDb1Sectors > 0 && rsDt1Ms > 0) {
    const kibPerSecond = rsDb1Sectors / 2 / (rsDt1Ms / 1000);
    stats.etaSeconds = Math.round(outOfSyncKiB / kibPerSecond);
  }
  return stats;
}

/**
 * Connection states of drbdsetup-84's events2 that DRBD 9 calls Connected.
 * An 8.4 kernel has one state for the connection and the replication
 * (enum drbd_conns); drbdsetup-84 names the connection state with
 * drbd_conn_str9 (user/v84/drbdsetup.c), which maps only WFConnection to
 * Connecting and WFReportParams to Connected and prints every other state
 * by its 8.4 name, so a connection that is up may read as one of these.
 * No DRBD 9 connection state has any of these names.
 */
const CONNECTED_84 = new Set([
  'StartingSyncS',
  'StartingSyncT',
  'WFBitMapS',
  'WFBitMapT',
  'WFSyncUUID',
  'SyncSource',
  'SyncTarget',
  'PausedSyncS',
  'PausedSyncT',
  'VerifyS',
  'VerifyT',
  'Ahead',
  'Behind',
]);

/**
 * All resources in the output, by name. A missing DRBD module (exit 20,
 * "Failed to modprobe drbd"; drbdsetup-84: "Could not stat /proc/drbd") or
 * an unknown resource (exit 10) means none.
 */
export function parseEvents(r: ProbeResult, probe = 'events'): Map<string, DrbdResource> {
  const res = new Map<string, DrbdResource>();
  // drbdsetup-84 (user/v84/drbdsetup.c, modprobe_drbd): "Could not stat /proc/drbd: ..." when no module loads
  if (r.exitCode === 20 && /modprobe|Could not stat \/proc\/drbd/.test(r.stderr)) return res;
  if (r.exitCode === 10 && /No such resource|not defined/i.test(r.stderr)) return res;
  if (r.exitCode !== 0) throw new Error(`probe ${probe} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
  const get = (name: string): DrbdResource => {
    let x = res.get(name);
    if (!x) res.set(name, (x = { name, role: 'Unknown', devices: [], connections: [], peerDevices: [] }));
    return x;
  };
  for (const line of r.stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== 'exists' || f.length < 3) continue;
    const o = kv(f.slice(2));
    if (o.name === undefined) continue;
    switch (f[1]) {
      case 'resource':
        get(o.name).role = o.role ?? 'Unknown';
        break;
      case 'device':
        get(o.name).devices.push({ volume: Number(o.volume ?? 0), minor: Number(o.minor ?? -1), disk: o.disk ?? 'Unknown', client: o.client === 'yes' });
        break;
      case 'connection':
        // no conn-name: drbdsetup-84 before the connection has addresses (8.4 has one peer, which its status calls "peer")
        get(o.name).connections.push({
          peerNodeId: Number(o['peer-node-id'] ?? -1),
          name: o['conn-name'] ?? 'peer',
          connection: CONNECTED_84.has(o.connection ?? '') ? 'Connected' : (o.connection ?? 'Unknown'),
          role: o.role ?? 'Unknown',
        });
        break;
      case 'peer-device': {
        const stats = peerStats(o);
        get(o.name).peerDevices.push({
          name: o['conn-name'] ?? 'peer',
          volume: Number(o.volume ?? 0),
          replication: o.replication ?? 'Off',
          peerDisk: o['peer-disk'] ?? 'DUnknown',
          ...(o.done !== undefined && Number.isFinite(Number(o.done)) ? { done: Number(o.done) } : {}),
          ...(stats ? { stats } : {}),
        });
        break;
      }
      default:
        break; // path and future objects
    }
  }
  return res;
}

// ---------- generation identifiers ----------

export interface GenerationIds {
  current: string;
  bitmap: string;
  history: [string, string];
}

/** The UUID drbdmeta writes on create-md (UUID_JUST_CREATED). The lowest bit is the "primary" flag. */
export const JUST_CREATED = '0000000000000004';

/** The generation identifiers (null: no metadata), and drbdadm's complaint when there are none. */
export interface GiFact {
  ids: GenerationIds | null;
  stderr: string;
}

export function getGiProbe(resource: string, sudo: boolean): FactProbe<GiFact> {
  return { argv: ['drbdadm', 'get-gi', resource], ...sudoOf(sudo), parse: (r) => ({ ids: parseGetGi(r), stderr: r.stderr }) };
}

/** `null` when there is no metadata (exit non-zero, no GI line). */
export function parseGetGi(r: ProbeResult): GenerationIds | null {
  const line = r.stdout.split('\n').find((l) => /^[0-9A-Fa-f]{16}:[0-9A-Fa-f]{16}:/.test(l.trim()));
  if (!line) return null;
  const f = line.trim().split(':');
  return { current: f[0]!.toUpperCase(), bitmap: f[1]!.toUpperCase(), history: [(f[2] ?? '').toUpperCase(), (f[3] ?? '').toUpperCase()] };
}

/** Never synced: current UUID is the create-md value and there is no bitmap or history UUID. */
export function neverSynced(gi: GenerationIds): boolean {
  const zero = '0000000000000000';
  const cur = (BigInt('0x' + gi.current) & ~1n).toString(16).toUpperCase().padStart(16, '0');
  return cur === JUST_CREATED && gi.bitmap === zero && gi.history.every((h) => h === zero || h === '');
}

/**
 * The resource's size in nodes and its metadata's peer slots: `hosts N`, the
 * `on HOST {` sections of `drbdadm dump NAME` (this node and its peers; only
 * counted, the dump itself, which holds the shared secret, never leaves the
 * node), and `max-peers N` from `drbdadm -- --force dump-md NAME` (drbdmeta
 * prints "max-peers N;" for v09 metadata; --force: the metadata of an
 * attached disk is "unclean" to drbdmeta, which then only reads with it).
 * No metadata, or an older format: no max-peers line.
 */
const MD_SLOTS_SCRIPT = [
  'echo "hosts $(drbdadm dump "$1" 2>/dev/null | grep -cE \'^[[:space:]]*on [^[:space:]]+ [{]\')"',
  'drbdadm -- --force dump-md "$1" 2>/dev/null | sed -n \'s/^max-peers \\([0-9][0-9]*\\);$/max-peers \\1/p\'',
  'exit 0',
].join('\n');

export interface MdSlotsFact {
  /** `on` sections of the resource in the configuration; undefined when unknown. */
  hosts?: number;
  /** Peer slots of the metadata; undefined when there is none or it cannot be read. */
  slots?: number;
}

export function parseMdSlots(r: ProbeResult, probe = 'md'): MdSlotsFact {
  if (r.exitCode !== 0) throw new Error(`probe ${probe} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
  const out: MdSlotsFact = {};
  for (const line of r.stdout.split('\n')) {
    const h = /^hosts (\d+)$/.exec(line.trim());
    if (h && Number(h[1]) > 0) out.hosts = Number(h[1]);
    const m = /^max-peers (\d+)$/.exec(line.trim());
    if (m) out.slots = Number(m[1]);
  }
  return out;
}

export function mdSlotsProbe(resource: string, sudo: boolean): FactProbe<MdSlotsFact> {
  return { argv: ['sh', '-c', MD_SLOTS_SCRIPT, 'sh', resource], ...sudoOf(sudo), parse: parseMdSlots };
}

// ---------- the resource file, with the shared secret masked on the node ----------

/** Every `shared-secret "..."` value replaced by ******** on the node, before the content leaves it. */
const MASK_SHARED_SECRET_SED = 's/(shared-secret[[:space:]]+)("[^"]*"|[^[:space:];]+)/\\1"********"/g';

/** facts/file.ts's hash probe of the .res file (its output, parsed by parseFileHash), secrets masked on the node. */
export function resFileProbe(path: string, wantedSha256: readonly string[], sudo: boolean): FactProbe<FileFact> {
  return fileHashProbe(path, wantedSha256, 65536, sudo, MASK_SHARED_SECRET_SED);
}

/** Mask shared-secret values in a rendered file the way resFileProbe does on the node. */
export function maskSharedSecret(text: string): string {
  return text.replace(/(shared-secret\s+)("[^"]*"|[^\s;]+)/g, '$1"********"');
}

// ---------- sizes: the backing device, the metadata's layout, what DRBD uses ----------

/**
 * What a resize reads on one node: `backing DEV BYTES` (the backing device
 * the configuration names for this host, `drbdadm sh-ll-dev NAME`, and its
 * size), the metadata's `max-peers`, `al-stripes`, `al-stripe-size-4k`
 * (`drbdadm -- --force dump-md NAME`; after an online grow drbdmeta finds the
 * metadata at its last known place through /var/lib/drbd/drbd-minor-N.lkbd),
 * and `size KIB`, the size of the DRBD device now (`drbdsetup status NAME
 * --verbose --statistics`: the volume's `size:`; absent when the resource is
 * not up or has no disk here). One volume per resource.
 */
const SIZES_SCRIPT = [
  'd=$(drbdadm sh-ll-dev "$1" 2>/dev/null | head -n 1)',
  'if [ -z "$d" ]; then echo nodev; exit 0; fi',
  'if [ ! -b "$d" ]; then echo "notblock $d"; exit 0; fi',
  'echo "backing $d $(blockdev --getsize64 "$d")"',
  'drbdadm -- --force dump-md "$1" 2>/dev/null | sed -n \'s/^\\(max-peers\\|al-stripes\\|al-stripe-size-4k\\) \\([0-9][0-9]*\\);$/\\1 \\2/p\'',
  'drbdsetup status "$1" --verbose --statistics 2>/dev/null | sed -n \'s/^[[:space:]]*size:\\([0-9][0-9]*\\) .*/size \\1/p\' | head -n 1',
  'exit 0',
].join('\n');

export type DrbdSizeFact =
  | { state: 'nodev' }
  | { state: 'notblock'; dev: string }
  | {
      state: 'block';
      dev: string;
      /** The backing device's size in bytes. */
      backingBytes: number;
      /** Peer slots and activity log of the metadata; undefined when drbdmeta cannot read it. */
      maxPeers?: number;
      alSectors: number;
      /** The DRBD device's size now, KiB; undefined when not up (or diskless) here. */
      sizeKiB?: number;
    };

export function parseDrbdSize(r: ProbeResult, probe = 'size'): DrbdSizeFact {
  if (r.exitCode !== 0) throw new Error(`probe ${probe} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
  const lines = r.stdout.split('\n').map((l) => l.trim());
  if (lines[0] === 'nodev') return { state: 'nodev' };
  if (lines[0]?.startsWith('notblock ')) return { state: 'notblock', dev: lines[0].slice(9) };
  const b = /^backing (\S+) (\d+)$/.exec(lines[0] ?? '');
  if (!b) throw new Error(`probe ${probe}: unexpected output "${(lines[0] ?? '').slice(0, 80)}"`);
  const val = (key: string): number | undefined => {
    const l = lines.find((x) => x.startsWith(`${key} `));
    return l !== undefined && /^\d+$/.test(l.slice(key.length + 1)) ? Number(l.slice(key.length + 1)) : undefined;
  };
  const maxPeers = val('max-peers');
  const sizeKiB = val('size');
  return {
    state: 'block',
    dev: b[1]!,
    backingBytes: Number(b[2]),
    ...(maxPeers !== undefined ? { maxPeers } : {}),
    alSectors: (val('al-stripes') ?? 1) * (val('al-stripe-size-4k') ?? 8) * 8,
    ...(sizeKiB !== undefined ? { sizeKiB } : {}),
  };
}

export function drbdSizeProbe(resource: string, sudo: boolean): FactProbe<DrbdSizeFact> {
  return { argv: ['sh', '-c', SIZES_SCRIPT, 'sh', resource], ...sudoOf(sudo), parse: parseDrbdSize };
}

/**
 * The data area, in bytes, that internal metadata with `maxPeers` bitmaps
 * leaves on a backing device of `backingBytes`: what DRBD 9 can use there
 * (drbd_md_set_sector_offsets, drbd_capacity_to_on_disk_bm_sect and
 * drbd_md_first_sector in DRBD 9.2): the superblock in the last 4 KiB-aligned
 * 4 KiB, the activity log before it, before that one bitmap per peer slot
 * (a bit per 4 KiB of data, in 64-bit words, the whole rounded up to 4 KiB).
 * drbdmeta's `dump-md` shows the same figure as `# bm_offset` on new metadata.
 */
export function drbdDataBytes(backingBytes: number, maxPeers: number, alSectors: number): number {
  const align = (x: bigint, a: bigint): bigint => ((x + a - 1n) / a) * a;
  const sect = BigInt(Math.floor(backingBytes / 512));
  const bits = align(align(sect, 8n) / 8n, 64n);
  const bmSect = align((bits / 8n) * BigInt(maxPeers), 4096n) / 512n;
  const mdSect = bmSect + 8n + BigInt(alSectors);
  const data = (sect & ~7n) - mdSect;
  return data > 0n ? Number(data * 512n) : 0;
}
