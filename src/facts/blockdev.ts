/**
 * Read-only probes about block devices (partition tables, signatures, the
 * kernel's view) and pure parsers of their output. Formats captured from
 * util-linux 2.38.1 (Debian bookworm): `sfdisk --json`, `wipefs --json
 * --no-act`, `blkid -p -o export`, sysfs /sys/dev/block/MAJ:MIN.
 */
import type { FactProbe, ProbeResult } from '../steps/contract.js';
import { sudoOf } from '../steps/define.js';

function fail(probe: string, r: ProbeResult): never {
  throw new Error(`probe ${probe} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
}

// ---------- sfdisk --json ----------

export interface TablePartition {
  node: string;
  start: number;
  size: number;
  /** dos: hex id such as "83"; gpt: type GUID (upper case). */
  type: string;
}
export interface PartitionTable {
  label: 'dos' | 'gpt' | string;
  sectorSize: number;
  partitions: TablePartition[];
}

export function sfdiskProbe(disk: string, sudo: boolean): FactProbe<PartitionTable | null> {
  return { argv: ['sfdisk', '--json', disk], ...sudoOf(sudo), parse: parseSfdiskJson };
}

/** `null` when the disk holds no partition table sfdisk recognises. */
export function parseSfdiskJson(r: ProbeResult, probe = 'table'): PartitionTable | null {
  if (r.exitCode !== 0) {
    if (/does not contain a recognized partition table/.test(r.stderr)) return null;
    fail(probe, r);
  }
  let j: unknown;
  try {
    j = JSON.parse(r.stdout);
  } catch {
    throw new Error(`probe ${probe}: output is not JSON: "${r.stdout.slice(0, 80)}"`);
  }
  const t = (j as { partitiontable?: Record<string, unknown> }).partitiontable;
  if (!t || typeof t.label !== 'string') throw new Error(`probe ${probe}: no "partitiontable.label" in sfdisk output`);
  const parts = Array.isArray(t.partitions) ? (t.partitions as Record<string, unknown>[]) : [];
  return {
    label: t.label,
    sectorSize: typeof t.sectorsize === 'number' ? t.sectorsize : 512,
    partitions: parts.map((p) => ({ node: String(p.node), start: Number(p.start), size: Number(p.size), type: String(p.type).toUpperCase() })),
  };
}

// ---------- wipefs --json --no-act ----------

export interface Signature {
  device: string;
  offset: string;
  type: string;
}

export function wipefsProbe(dev: string, sudo: boolean): FactProbe<Signature[]> {
  return { argv: ['wipefs', '--json', '--no-act', dev], ...sudoOf(sudo), parse: parseWipefsJson };
}

export function parseWipefsJson(r: ProbeResult, probe = 'signatures'): Signature[] {
  if (r.exitCode !== 0) fail(probe, r);
  if (r.stdout.trim() === '') return [];
  const j = JSON.parse(r.stdout) as { signatures?: { device: string; offset: string; type: string }[] };
  return (j.signatures ?? []).map((s) => ({ device: s.device, offset: s.offset, type: s.type }));
}

// ---------- blkid -p -o export ----------

/** `notblock` when the path is not a block device; else the blkid variables (TYPE absent = no signature). */
export type BlkidFact = { state: 'notblock' } | { state: 'block'; vars: Record<string, string> };

const BLKID_SCRIPT = 'if [ ! -b "$1" ]; then echo notblock; exit 0; fi\nexec blkid -p -o export "$1"';

export function blkidProbe(dev: string, sudo: boolean): FactProbe<BlkidFact> {
  return { argv: ['sh', '-c', BLKID_SCRIPT, 'sh', dev], ...sudoOf(sudo), parse: parseBlkid };
}

/**
 * The filesystem on the backing device of DRBD minor $1 (its data area starts
 * at offset 0 of the backing device, internal or external meta data alike):
 * what a Secondary holds, read the same way whatever the DRBD version (DRBD
 * 9 allows a read-only open of an UpToDate Secondary's /dev/drbdN, DRBD 8
 * and the test bed's stand-in do not). `-u filesystem`
 * because blkid otherwise names the DRBD meta data (TYPE=drbd) first.
 * `notblock` when the minor has no local backing device (diskless, not up).
 */
const BACKING_BLKID_SCRIPT = [
  'dev=$(drbdsetup events2 --now 2>/dev/null | awk -v m="minor:$1" \'$1 == "exists" && $2 == "device" { b = ""; hit = 0; for (i = 3; i <= NF; i++) { if ($i == m) hit = 1; if ($i ~ /^backing_dev:/) b = substr($i, 13) } if (hit && b != "" && b != "none") { print b; exit } }\')',
  'if [ -z "$dev" ] || [ ! -b "$dev" ]; then echo notblock; exit 0; fi',
  'exec blkid -p -u filesystem -o export "$dev"',
].join('\n');

export function drbdBackingBlkidProbe(minor: number, sudo: boolean): FactProbe<BlkidFact> {
  return { argv: ['sh', '-c', BACKING_BLKID_SCRIPT, 'sh', String(minor)], ...sudoOf(sudo), parse: parseBlkid };
}

/** blkid exits 2 when it finds nothing; a partition with no content still gives PART_ENTRY_* and exit 0. */
export function parseBlkid(r: ProbeResult, probe = 'blkid'): BlkidFact {
  if (r.exitCode === 0 && r.stdout.trim() === 'notblock') return { state: 'notblock' };
  if (r.exitCode === 2) return { state: 'block', vars: {} };
  if (r.exitCode !== 0) fail(probe, r);
  const vars: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) vars[line.slice(0, i)] = line.slice(i + 1);
  }
  return { state: 'block', vars };
}

/** A short human text of what blkid found: "ext4 filesystem", "drbd raid". */
export function describeBlkid(vars: Record<string, string>): string {
  const t = vars.TYPE ?? vars.PTTYPE;
  if (!t) return 'nothing';
  if (vars.TYPE) return `${vars.TYPE} ${vars.USAGE ?? 'signature'}${vars.LABEL ? ` labelled "${vars.LABEL}"` : ''}`;
  return `a ${t} partition table`;
}

// ---------- the kernel's view of a disk (sysfs) ----------

export interface KernelPartition {
  number: number;
  /** In 512-byte sectors, as sysfs gives them. */
  start: number;
  size: number;
  /** Something holds it (DRBD, device-mapper, md) or it is mounted. */
  busy: boolean;
}
export type DiskFact = { state: 'notblock' } | { state: 'disk'; sizeBytes: number; sectorSize: number; busy: boolean; partitions: KernelPartition[] };

/**
 * Prints `size BYTES SECTOR_SIZE`, `disk HOLDERS MOUNTED` and one
 * `part N START SIZE HOLDERS MOUNTED` line per partition the kernel knows.
 */
const DISK_SCRIPT = [
  'd=$1',
  'if [ ! -b "$d" ]; then echo notblock; exit 0; fi',
  'echo "size $(blockdev --getsize64 "$d") $(blockdev --getss "$d")" || exit 3',
  'mm=$(stat -Lc "%t %T" "$d") || exit 3',
  'set -- $mm',
  's=/sys/dev/block/$((0x$1)):$((0x$2))',
  "mounts=$(awk '{print $3}' /proc/self/mountinfo)",
  // the device number read once per device, not once per mount (a fork each: 0.2 s on a container's 40 mounts)
  'm() { dv=$(cat "$1/dev"); for x in $mounts; do [ "$x" = "$dv" ] && { echo 1; return; }; done; echo 0; }',
  'echo "disk $(ls "$s/holders" | wc -l) $(m "$s")"',
  'for p in "$s"/*/partition; do [ -e "$p" ] || continue; q=${p%/partition}; echo "part $(cat "$p") $(cat "$q/start") $(cat "$q/size") $(ls "$q/holders" | wc -l) $(m "$q")"; done',
].join('\n');

export function diskProbe(disk: string, sudo: boolean): FactProbe<DiskFact> {
  return { argv: ['sh', '-c', DISK_SCRIPT, 'sh', disk], ...sudoOf(sudo), parse: parseDisk };
}

export function parseDisk(r: ProbeResult, probe = 'disk'): DiskFact {
  if (r.exitCode !== 0) fail(probe, r);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines[0] === 'notblock') return { state: 'notblock' };
  let sizeBytes = NaN;
  let sectorSize = NaN;
  let busy = false;
  const partitions: KernelPartition[] = [];
  for (const l of lines) {
    const f = l.trim().split(/\s+/);
    if (f[0] === 'size') [sizeBytes, sectorSize] = [Number(f[1]), Number(f[2])];
    else if (f[0] === 'disk') busy = Number(f[1]) > 0 || f[2] === '1';
    else if (f[0] === 'part') partitions.push({ number: Number(f[1]), start: Number(f[2]), size: Number(f[3]), busy: Number(f[4]) > 0 || f[5] === '1' });
    else throw new Error(`probe ${probe}: unexpected line "${l.slice(0, 80)}"`);
  }
  if (!Number.isFinite(sizeBytes) || !Number.isFinite(sectorSize) || sectorSize <= 0) throw new Error(`probe ${probe}: no size line`);
  partitions.sort((a, b) => a.number - b.number);
  return { state: 'disk', sizeBytes, sectorSize, busy, partitions };
}

// ---------- which device nodes exist ----------

/**
 * Prints each partition path (partition 1, 2, ... of DISK, in order) whose node
 * exists AND is the kernel's current device for that partition of that disk:
 * right after the partition table is re-read, a stale node may still carry the
 * number of a partition that no longer exists, or that the kernel has since
 * given to another disk's partition. Writing through such a node would hit the
 * wrong device, so it does not count until udev (or the bed's stand-in) has
 * made it anew.
 */
const NODES_SCRIPT = [
  'disk=$1; shift',
  'devno() { x=$(stat -L -c "%t %T" "$1" 2>/dev/null) || return 1; set -- $x; printf "%d:%d" "0x$1" "0x$2"; }',
  'd=$(devno "$disk") || exit 0',
  'n=0',
  'for p; do',
  '  n=$((n + 1))',
  '  [ -b "$p" ] || continue',
  '  s=/sys/dev/block/$(devno "$p") || continue',
  '  [ "$(cat "$s/partition" 2>/dev/null)" = "$n" ] && [ "$(cat "$s/../dev" 2>/dev/null)" = "$d" ] && echo "$p"',
  'done',
  'exit 0',
].join('\n');

/** Probe: which of DISK's partition nodes (paths of partitions 1..n) are there and current. */
export function nodesProbe(disk: string, paths: readonly string[]): FactProbe<Set<string>> {
  return { argv: ['sh', '-c', NODES_SCRIPT, 'sh', disk, ...paths], parse: parseNodes };
}

export function parseNodes(r: ProbeResult, probe = 'nodes'): Set<string> {
  if (r.exitCode !== 0) fail(probe, r);
  return new Set(r.stdout.split('\n').filter((l) => l !== ''));
}

/** /dev/vdb -> /dev/vdb1; /dev/nvme0n1, /dev/loop0, /dev/mmcblk0 -> ...p1; /dev/disk/by-id/X -> X-part1. */
export function partitionPath(disk: string, n: number): string {
  if (disk.startsWith('/dev/disk/by-')) return `${disk}-part${n}`;
  return /\d$/.test(disk) ? `${disk}p${n}` : `${disk}${n}`;
}
