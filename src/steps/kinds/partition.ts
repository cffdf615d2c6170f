/**
 * `partition`: a wanted partition table on a whole disk, written with sfdisk.
 *
 * Sizes: "100G"/"512M"/"1T" (binary units, as fdisk's +100G), "50%" (of the
 * usable space), "rest" (what is left; only last). Layout is computed here,
 * exactly as sfdisk does by default: 1 MiB alignment, the first partition at
 * 1 MiB, each next one at the next MiB boundary, sizes rounded down to whole
 * MiB, "rest" ending on a MiB boundary inside the usable area (GPT keeps 33
 * sectors for its backup at the end). sfdisk is given explicit start/size
 * for every partition, so what it writes is what was planned.
 *
 * Done: `sfdisk --json` shows exactly that label, partition count, starts,
 * sizes and types; the kernel knows the same partitions (sysfs); their
 * device nodes exist (/dev/vdb1, /dev/nvme0n1p1, /dev/loop0p1).
 * Half-done: table right but the kernel has an old view -> `partx -u`, then
 * wait for the nodes; nodes missing -> wait (udev makes them).
 * Grown in place: the same table but for larger sizes (same label, the
 * same partitions at the same starts with the same types, each at least as
 * large as it is): each grown partition is rewritten alone (`sfdisk
 * --no-reread --no-tell-kernel -N K DISK`, its start, new size and type on
 * stdin; the disk identifier and the other entries stay), then `partx
 * --update` tells the kernel, which resizes a partition even while it is in
 * use (held by DRBD, mounted): what is on it grows with the steps that use
 * it (drbd-grow, mkfs `grow`). A smaller size is refused, wipe or not: a
 * partition is never shrunk here.
 * Refused: not a block device; another partition table, a filesystem or
 * any other signature on the disk (wipefs --no-act) unless `wipe: true`
 * (then `wipefs --all` first); even with wipe, a disk whose partitions are
 * held (DRBD, device-mapper, md) or mounted; a layout that does not fit.
 * Old filesystem signatures inside a wiped table's partitions are not erased
 * here: the steps that use the partitions (drbd-create-md, mkfs) see and
 * refuse them.
 */
import { z } from 'zod';
import type { Change } from '../contract.js';
import { defineStep, exec, refuse, wait } from '../define.js';
import { diskProbe, nodesProbe, partitionPath, sfdiskProbe, wipefsProbe, type PartitionTable } from '../../facts/blockdev.js';
import { absolutePath } from '../params.js';

const SIZE = /^(?:(\d+)([KMGT])(?:iB)?|(\d+(?:\.\d+)?)%|rest)$/;
const TYPES = {
  linux: { dos: '83', gpt: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
} as const;

export const partitionParams = z
  .object({
    disk: absolutePath,
    label: z.enum(['gpt', 'dos']).default('gpt'),
    partitions: z
      .array(
        z
          .object({
            size: z.string().regex(SIZE, 'a size such as "100G", "512M", "50%" or "rest"'),
            /** "linux", or a raw type: a dos hex id ("83", "8e") or a GPT type GUID. */
            type: z
              .string()
              .regex(/^(linux|[0-9a-fA-F]{1,2}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/, '"linux", a dos id such as "83" or a GPT type GUID')
              .default('linux'),
          })
          .strict(),
      )
      .min(1),
    wipe: z.boolean().default(false),
    sudo: z.boolean().default(false),
  })
  .strict()
  .refine((p) => p.partitions.every((x, i) => x.size !== 'rest' || i === p.partitions.length - 1), { message: '"rest" can only be the last partition', path: ['partitions'] })
  .refine((p) => p.label === 'gpt' || p.partitions.length <= 4, { message: 'a dos label holds at most 4 (primary) partitions', path: ['partitions'] })
  .refine((p) => p.partitions.every((x) => x.type === 'linux' || (p.label === 'dos' ? x.type.length <= 2 : x.type.length === 36)), {
    message: 'a raw type must match the label: a hex id for dos, a GUID for gpt',
    path: ['partitions'],
  });
export type PartitionParams = z.infer<typeof partitionParams>;

export interface PlannedPartition {
  start: number;
  size: number;
  type: string;
}

/** The exact layout, in logical sectors, or a reason it cannot be made. */
export function planLayout(p: PartitionParams, sizeBytes: number, sectorSize: number): PlannedPartition[] | string {
  const total = Math.floor(sizeBytes / sectorSize);
  const grain = Math.max(1, Math.floor(1048576 / sectorSize));
  const lastUsable = p.label === 'gpt' ? total - 2 - Math.ceil(16384 / sectorSize) : total - 1;
  const usable = lastUsable + 1 - grain;
  const out: PlannedPartition[] = [];
  let next = grain;
  for (const [i, x] of p.partitions.entries()) {
    const m = SIZE.exec(x.size)!;
    let size: number;
    if (x.size === 'rest') size = Math.floor((lastUsable + 1 - next) / grain) * grain;
    else if (m[3] !== undefined) size = Math.floor(((Number(m[3]) / 100) * usable) / grain) * grain;
    else {
      const bytes = BigInt(m[1]!) * 1024n ** BigInt(' KMGT'.indexOf(m[2]!));
      size = Math.floor(Number(bytes / BigInt(sectorSize)) / grain) * grain;
    }
    if (size <= 0) return `partition ${i + 1} (${x.size}) would be empty`;
    if (next + size - 1 > lastUsable) return `partition ${i + 1} (${x.size}) does not fit: the disk has ${Math.floor(sizeBytes / 1048576)} MiB`;
    const type = x.type === 'linux' ? TYPES.linux[p.label] : p.label === 'dos' ? x.type.toLowerCase().replace(/^0/, '') : x.type.toUpperCase();
    out.push({ start: next, size, type: type.toUpperCase() });
    next = Math.ceil((next + size) / grain) * grain;
  }
  return out;
}

/** sfdisk's input script for the plan. */
export function sfdiskScript(label: 'gpt' | 'dos', plan: readonly PlannedPartition[]): string {
  return [`label: ${label}`, ...plan.map((x) => `start=${x.start}, size=${x.size}, type=${label === 'dos' ? x.type.toLowerCase() : x.type}`)].join('\n') + '\n';
}

function sameTable(t: PartitionTable, label: string, plan: readonly PlannedPartition[]): boolean {
  return (
    t.label === label && t.partitions.length === plan.length && t.partitions.every((x, i) => x.start === plan[i]!.start && x.size === plan[i]!.size && x.type === plan[i]!.type)
  );
}

/** The same table but for sizes: for each partition, its size now and planned (in sectors); undefined when it differs otherwise. */
function resizedTable(t: PartitionTable, label: string, plan: readonly PlannedPartition[]): { now: number; want: number }[] | undefined {
  if (t.label !== label || t.partitions.length !== plan.length) return undefined;
  if (!t.partitions.every((x, i) => x.start === plan[i]!.start && x.type === plan[i]!.type)) return undefined;
  return t.partitions.map((x, i) => ({ now: x.size, want: plan[i]!.size }));
}

function describeTable(t: PartitionTable): string {
  return `a ${t.label} partition table with ${t.partitions.length} partition(s)${t.partitions.length ? ': ' + t.partitions.map((x) => `${x.node} start ${x.start} size ${x.size} type ${x.type}`).join(', ') : ''}`;
}

export const partitionStep = defineStep({
  kind: 'partition',
  params: partitionParams,
  // The disk and its partitions. Whether a partition is in use (held by DRBD,
  // mounted by a unit or the cluster) decides only with wipe: true. The tools
  // (sfdisk, wipefs, blockdev) are not reads: without them the probes fail.
  reads: (p) => [`dev:${p.disk}`, ...(p.wipe ? ['drbd:', 'unit:', 'cluster:'] : [])],
  writes: (p) => [`dev:${p.disk}`],
  probes: (p: PartitionParams) => ({
    disk: diskProbe(p.disk, p.sudo),
    table: sfdiskProbe(p.disk, p.sudo),
    signatures: wipefsProbe(p.disk, p.sudo),
    nodes: nodesProbe(
      p.disk,
      p.partitions.map((_, i) => partitionPath(p.disk, i + 1)),
    ),
  }),
  diff(p, facts): Change[] {
    const disk = facts.disk;
    if (disk.state === 'notblock') return [refuse(`${p.disk} is not a block device`)];
    const plan = planLayout(p, disk.sizeBytes, disk.sectorSize);
    if (typeof plan === 'string') return [refuse(`${p.disk}: ${plan}`)];
    const names = plan.map((_, i) => partitionPath(p.disk, i + 1));
    const partx = exec(['partx', '--update', p.disk], `make the kernel read the partition table of ${p.disk}`, { sudo: p.sudo });
    const waitNodes = (missing: string[]) => wait(`waiting for the device nodes ${missing.join(', ')}`);
    const table = facts.table;
    const k = disk.sectorSize / 512;

    if (table && sameTable(table, p.label, plan)) {
      const kernelOk =
        disk.partitions.length === plan.length && disk.partitions.every((x, i) => x.number === i + 1 && x.start === plan[i]!.start * k && x.size === plan[i]!.size * k);
      const nodes = facts.nodes;
      const missing = names.filter((n) => !nodes.has(n));
      if (!kernelOk) return [partx, waitNodes(names)];
      return missing.length === 0 ? [] : [waitNodes(missing)];
    }

    const resized = table ? resizedTable(table, p.label, plan) : undefined;
    if (resized) {
      const mib = (sectors: number) => `${Math.round((sectors * disk.sectorSize) / 1048576)} MiB`;
      const smaller = resized.flatMap((x, i) => (x.want < x.now ? [`${names[i]} from ${mib(x.now)} to ${mib(x.want)}`] : []));
      if (smaller.length)
        return [
          refuse(`${p.disk}: the wanted table would shrink ${smaller.join(', ')}: partitions are never shrunk here (shrink what is on them first, then the partition, by hand)`),
        ];
      return [
        ...resized.flatMap((x, i) =>
          x.want > x.now
            ? [
                exec(
                  ['sfdisk', '--no-reread', '--no-tell-kernel', '--quiet', '-N', String(i + 1), p.disk],
                  `grow ${names[i]} from ${mib(x.now)} to ${mib(x.want)} (same start and type)`,
                  {
                    sudo: p.sudo,
                    stdin: `start=${plan[i]!.start}, size=${plan[i]!.size}, type=${p.label === 'dos' ? plan[i]!.type.toLowerCase() : plan[i]!.type}\n`,
                  },
                ),
              ]
            : [],
        ),
        partx,
      ];
    }
    const sigs = facts.signatures;
    const found = table ? describeTable(table) : sigs.length ? sigs.map((s) => `a ${s.type} signature at offset ${s.offset}`).join(', ') : '';
    const changes: Change[] = [];
    if (found !== '') {
      if (!p.wipe) return [refuse(`${p.disk} holds ${found}, not the wanted table; set wipe: true to erase it`)];
      if (disk.busy || disk.partitions.some((x) => x.busy))
        return [refuse(`${p.disk} holds ${found} and it or one of its partitions is in use (held by DRBD/device-mapper/md or mounted): not wiping it`)];
      changes.push(exec(['wipefs', '--all', p.disk], `erase ${found} from ${p.disk}`, { sudo: p.sudo }));
    }
    const desc = plan.map((x, i) => `${names[i]} ${Math.round((x.size * disk.sectorSize) / 1048576)} MiB`).join(', ');
    changes.push(
      exec(['sfdisk', '--no-tell-kernel', '--quiet', p.disk], `write a ${p.label} partition table on ${p.disk}: ${desc}`, { sudo: p.sudo, stdin: sfdiskScript(p.label, plan) }),
      partx,
      waitNodes(names),
    );
    return changes;
  },
});
