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
 * DRBD 8.4: drbdsetup-84's events2 has no `backing_dev:` (print_notifications,
 * drbd-utils user/v84/drbdsetup.c, prints only the disk state for a device),
 * so there the device comes from `drbdsetup show MINOR` (show_scmd: `disk
 * "/dev/...";` in the minor's volume section; 8.4's show takes a minor).
 */
const BACKING_BLKID_SCRIPT = [
  'dev=$(drbdsetup events2 --now 2>/dev/null | awk -v m="minor:$1" \'$1 == "exists" && $2 == "device" { b = ""; hit = 0; for (i = 3; i <= NF; i++) { if ($i == m) hit = 1; if ($i ~ /^backing_dev:/) b = substr($i, 13) } if (hit && b != "" && b != "none") { print b; exit } }\')',
  '[ -n "$dev" ] || dev=$(drbdsetup show "$1" 2>/dev/null | sed -n \'s/^[[:space:]]*disk[[:space:]]*"\\(.*\\)";$/\\1/p\' | head -n 1)',
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

// ---------- a filesystem's size against its device's (growing it) ----------

/**
 * Prints `device BYTES` (the device's size), `mount DIR` when it is mounted
 * (first mount point), then what the filesystem's own tool says of its
 * size: ext2/3/4 `dumpe2fs -h` fields (`Block count: N`...), xfs `agblocks
 * N`, `bsize N`, `blocks N` (from `xfs_info`, mounted or not), btrfs `devid
 * ID BYTES PATH` per device (`btrfs filesystem show --raw`).
 */
const FS_SIZE_SCRIPT = [
  'dev=$1; t=$2',
  'if [ ! -b "$dev" ]; then echo notblock; exit 0; fi',
  'echo "device $(blockdev --getsize64 "$dev" 2>/dev/null)"',
  'm=$(findmnt -n -o TARGET --source "$dev" 2>/dev/null | head -n 1)',
  'if [ -n "$m" ]; then echo "mount $m"; fi',
  'case "$t" in',
  '  ext2|ext3|ext4) dumpe2fs -h "$dev" 2>/dev/null | sed -n \'s/^\\(Block count\\|Block size\\|First block\\|Blocks per group\\|Inode blocks per group\\|Reserved GDT blocks\\|Group descriptor size\\):[[:space:]]*\\([0-9][0-9]*\\)$/\\1: \\2/p\' ;;',
  '  xfs) xfs_info "$dev" 2>/dev/null | sed -n \'s/.*agsize=\\([0-9][0-9]*\\) blks.*/agblocks \\1/p; s/^data[[:space:]]*=[[:space:]]*bsize=\\([0-9][0-9]*\\)[[:space:]]*blocks=\\([0-9][0-9]*\\),.*/bsize \\1\\nblocks \\2/p\' ;;',
  '  btrfs) btrfs filesystem show --raw "$dev" 2>/dev/null | sed -n \'s/^[[:space:]]*devid[[:space:]]*\\([0-9][0-9]*\\)[[:space:]]*size \\([0-9][0-9]*\\) used [0-9][0-9]* path \\(.*\\)$/devid \\1 \\2 \\3/p\' ;;',
  'esac',
  'exit 0',
].join('\n');

export type FsSizeFact =
  | { state: 'notblock' }
  | {
      state: 'block';
      /** The device's size; undefined when it cannot be read (a DRBD Secondary). */
      deviceBytes?: number;
      mount?: string;
      /** The filesystem tool's fields, by name ("Block count", "agblocks", ...); btrfs: `devid PATH` -> bytes, `devno PATH` -> its devid. */
      fields: Record<string, number>;
    };

export function fsSizeProbe(dev: string, fstype: string, sudo: boolean): FactProbe<FsSizeFact> {
  return { argv: ['sh', '-c', FS_SIZE_SCRIPT, 'sh', dev, fstype], ...sudoOf(sudo), parse: parseFsSize };
}

export function parseFsSize(r: ProbeResult, probe = 'size'): FsSizeFact {
  if (r.exitCode !== 0) fail(probe, r);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines[0] === 'notblock') return { state: 'notblock' };
  const out: Extract<FsSizeFact, { state: 'block' }> = { state: 'block', fields: {} };
  for (const l of lines) {
    let m: RegExpExecArray | null;
    if ((m = /^device (\d+)$/.exec(l))) out.deviceBytes = Number(m[1]);
    else if (l.startsWith('mount ')) out.mount = l.slice(6);
    else if ((m = /^devid (\d+) (\d+) (.+)$/.exec(l))) {
      out.fields[`devid ${m[3]!}`] = Number(m[2]);
      out.fields[`devno ${m[3]!}`] = Number(m[1]);
    } else if ((m = /^([A-Za-z ]+?):? (\d+)$/.exec(l))) out.fields[m[1]!] = Number(m[2]);
  }
  return out;
}

/**
 * The filesystem's size and the size its grow tool would give it on this
 * device, in bytes; undefined when the fields are missing. The tools do not
 * always fill the device: resize2fs drops a last block group too small for
 * its own metadata plus 50 blocks (resize2fs adjust_fs_info; counted here
 * with a superblock backup, the larger case), the kernel's xfs_growfs a
 * last allocation group under 64 blocks (XFS_MIN_AG_BLOCKS), btrfs rounds
 * down to 4 KiB. So a filesystem is "grown" when its size is what its tool
 * would make of the device, and a rerun does not grow it again.
 */
export function fsGrowth(fstype: string, f: Extract<FsSizeFact, { state: 'block' }>, dev: string): { fsBytes: number; targetBytes: number; devid?: number } | undefined {
  const d = f.deviceBytes;
  const x = f.fields;
  if (d === undefined) return undefined;
  if (fstype === 'ext2' || fstype === 'ext3' || fstype === 'ext4') {
    const [count, bs, bpg, ipg] = [x['Block count'], x['Block size'], x['Blocks per group'], x['Inode blocks per group']];
    if (count === undefined || bs === undefined || bpg === undefined || ipg === undefined) return undefined;
    const first = x['First block'] ?? 0;
    let target = Math.floor(d / bs);
    const groups = Math.ceil((target - first) / bpg);
    const rem = (target - first) % bpg;
    const descBlocks = Math.ceil((groups * (x['Group descriptor size'] ?? 32)) / bs);
    const overhead = 2 + ipg + 1 + descBlocks + (x['Reserved GDT blocks'] ?? 0);
    if (groups > 1 && rem > 0 && rem < overhead + 50) target -= rem;
    return { fsBytes: count * bs, targetBytes: Math.max(target, count) * bs };
  }
  if (fstype === 'xfs') {
    const [blocks, bs, ag] = [x.blocks, x.bsize, x.agblocks];
    if (blocks === undefined || bs === undefined || ag === undefined) return undefined;
    let target = Math.floor(d / bs);
    const mod = target % ag;
    if (mod > 0 && mod < 64) target -= mod;
    return { fsBytes: blocks * bs, targetBytes: Math.max(target, blocks) * bs };
  }
  if (fstype === 'btrfs') {
    const devids = Object.entries(x).filter(([k]) => k.startsWith('devid '));
    const mine = devids.length === 1 ? devids[0] : devids.find(([k]) => k === `devid ${dev}`);
    if (!mine) return undefined;
    return { fsBytes: mine[1], targetBytes: Math.max(Math.floor(d / 4096) * 4096, mine[1]), devid: x[`devno ${mine[0].slice(6)}`] };
  }
  return undefined;
}
