/**
 * `mkfs`: a filesystem on a device (the playbook targets the node that is
 * Primary after the initial sync, as the chapter does mkfs.ext4 /dev/drbd0
 * right after it). Never writes /etc/fstab (Pacemaker mounts it).
 *
 * Done: blkid -p finds a filesystem of the wanted type on the device (its
 * options and label are not compared). Judged from the device's state only.
 * Changes: `mkfs.TYPE [options] [-L label] DEVICE` when blkid finds nothing.
 * For a DRBD device (/dev/drbdN) the resource using minor N must be Primary
 * here with an UpToDate disk (a running sync as SyncSource is fine): a
 * Secondary is REFUSED, not promoted - promoting is the initial sync's or
 * the cluster manager's job, and an unexpected Primary would confuse both.
 * A Secondary with an UpToDate disk whose backing device already holds the
 * filesystem is done, though: the replicated data is the Primary's (this is
 * the state after the cluster manager promoted the resource elsewhere, as a
 * mutual-failover layout does, so a rerun must not fail there).
 * Refused: not a block device; another filesystem or signature unless
 * `allow_overwrite: true` (then `wipefs --all` first, visible in the plan).
 *
 * Grow (`grow: true`, the default): a filesystem of the wanted type that is
 * smaller than its device (a partition, a logical volume or a DRBD
 * resource that grew: drbd-grow) is grown to fill it, where mkfs would run
 * (for DRBD: on the Primary). Its size and the device's are read with the
 * filesystem's own tool (dumpe2fs -h, xfs_info, btrfs filesystem show; a
 * filesystem counts as grown when it is as large as its grow tool would
 * make it: facts/blockdev.ts fsGrowth). Mounted: online, `resize2fs DEV`,
 * `xfs_growfs MOUNTPOINT`, `btrfs filesystem resize max MOUNTPOINT`. Not
 * mounted: ext2/3/4 `e2fsck -f -p DEV` then `resize2fs DEV` (resize2fs
 * wants a checked filesystem offline); xfs and btrfs only grow mounted:
 * refused, saying so. A filesystem larger than its device (the device was
 * shrunk under it) is refused: it never shrinks, nothing is changed.
 * `grow: false` leaves the size alone.
 */
import { z } from 'zod';
import type { Change } from '../contract.js';
import { defineStep, exec, refuse } from '../define.js';
import { blkidProbe, describeBlkid, drbdBackingBlkidProbe, fsGrowth, fsSizeProbe, type FsSizeFact } from '../../facts/blockdev.js';
import { eventsProbe } from '../../facts/drbd.js';
import { absolutePath } from '../params.js';

export const mkfsParams = z
  .object({
    device: absolutePath,
    fstype: z.enum(['ext4', 'ext3', 'xfs', 'btrfs']),
    options: z.array(z.string()).default([]),
    label: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,12}$/, 'a label of 1-12 letters, digits, "_", "." or "-"')
      .optional(),
    allow_overwrite: z.boolean().default(false),
    /** Grow the filesystem when its device is larger (online when mounted). */
    grow: z.boolean().default(true),
    sudo: z.boolean().default(false),
  })
  .strict();
export type MkfsParams = z.infer<typeof mkfsParams>;

const drbdMinor = (dev: string): number | undefined => {
  const m = /^\/dev\/drbd(\d+)$/.exec(dev);
  return m ? Number(m[1]) : undefined;
};

export const mkfsStep = defineStep({
  kind: 'mkfs',
  params: mkfsParams,
  // The device. A DRBD device also: every resource's events (which one has
  // the minor, its role and disk) and its backing device (dev:/dev/drbdN
  // overlaps every device); its data is replicated (drbd:).
  reads: (p) => [`dev:${p.device}`, ...(drbdMinor(p.device) !== undefined ? ['drbd:', 'pkgdb:'] : [])],
  writes: (p) => [`dev:${p.device}`, ...(drbdMinor(p.device) !== undefined ? ['drbd:'] : [])],
  probes(p: MkfsParams) {
    const minor = drbdMinor(p.device);
    return {
      blkid: blkidProbe(p.device, p.sudo),
      events: minor !== undefined ? eventsProbe(undefined, p.sudo) : undefined,
      backing: minor !== undefined ? drbdBackingBlkidProbe(minor, p.sudo) : undefined,
      size: p.grow ? fsSizeProbe(p.device, p.fstype, p.sudo) : undefined,
    };
  },
  diff(p, facts): Change[] {
    const minor = drbdMinor(p.device);
    if (minor !== undefined) {
      const res = [...facts.events!.values()].find((r) => r.devices.some((d) => d.minor === minor));
      if (!res) return [refuse(`${p.device}: no DRBD resource with minor ${minor} is up on this node`)];
      const dev = res.devices.find((d) => d.minor === minor)!;
      if (res.role !== 'Primary') {
        const backing = facts.backing!;
        if (dev.disk === 'UpToDate' && backing.state === 'block' && backing.vars.TYPE === p.fstype) return [];
        return [refuse(`${p.device} (resource ${res.name}) is ${res.role} here: mkfs needs the Primary (not promoting it here)`)];
      }
      if (dev.disk !== 'UpToDate') return [refuse(`${p.device} (resource ${res.name}) is Primary but its disk is ${dev.disk}, not UpToDate`)];
    }
    const b = facts.blkid;
    if (b.state === 'notblock') return [refuse(`${p.device} is not a block device`)];
    if (b.vars.TYPE === p.fstype) return p.grow ? grow(p, facts.size!) : [];
    const changes: Change[] = [];
    if (b.vars.TYPE !== undefined || b.vars.PTTYPE !== undefined) {
      const what = describeBlkid(b.vars);
      if (!p.allow_overwrite) return [refuse(`${p.device} holds ${what}, not ${p.fstype}; set allow_overwrite: true to erase it`)];
      changes.push(exec(['wipefs', '--all', p.device], `erase ${what} from ${p.device}`, { sudo: p.sudo }));
    }
    changes.push(
      exec(
        [`mkfs.${p.fstype}`, ...p.options, ...(p.label !== undefined ? ['-L', p.label] : []), p.device],
        `make a ${p.fstype} filesystem on ${p.device}${p.label !== undefined ? ` labelled ${p.label}` : ''}`,
        {
          sudo: p.sudo,
          stdin: '',
        },
      ),
    );
    return changes;
  },
});

const MiB = (bytes: number): string => `${(bytes / 1048576).toFixed(1).replace(/\.0$/, '')} MiB`;

/** The changes that grow the filesystem to its device (none when it fills it, or when its size cannot be read). */
function grow(p: MkfsParams, f: FsSizeFact): Change[] {
  if (f.state !== 'block') return [];
  const g = fsGrowth(p.fstype, f, p.device);
  if (!g || f.deviceBytes === undefined) return [];
  if (f.deviceBytes < g.fsBytes)
    return [
      refuse(
        `${p.device} (${MiB(f.deviceBytes)}) is smaller than the ${p.fstype} filesystem on it (${MiB(g.fsBytes)}): the device was shrunk under the filesystem; not touching it (restore the device's size)`,
      ),
    ];
  if (g.targetBytes <= g.fsBytes) return [];
  const what = `grow the ${p.fstype} filesystem on ${p.device} from ${MiB(g.fsBytes)} to ${MiB(g.targetBytes)}`;
  const sudo = { sudo: p.sudo };
  const m = f.mount;
  if (p.fstype === 'xfs' || p.fstype === 'btrfs') {
    if (m === undefined)
      return [
        refuse(
          `the ${p.fstype} filesystem on ${p.device} could grow from ${MiB(g.fsBytes)} to ${MiB(g.targetBytes)}, but ${p.fstype} grows only while mounted and it is not mounted here: mount it (where it is used) and run again, or set grow: false`,
        ),
      ];
    if (p.fstype === 'xfs') return [exec(['xfs_growfs', m], `${what}, online (mounted on ${m})`, sudo)];
    // btrfs resizes one of its devices: this one's devid
    return [exec(['btrfs', 'filesystem', 'resize', `${g.devid ?? 1}:max`, m], `${what}, online (mounted on ${m})`, sudo)];
  }
  if (m !== undefined) return [exec(['resize2fs', p.device], `${what}, online (mounted on ${m})`, sudo)];
  return [
    exec(['e2fsck', '-f', '-p', p.device], `check the filesystem on ${p.device} first (resize2fs grows an unmounted filesystem only after a forced check)`, sudo),
    exec(['resize2fs', p.device], `${what} (not mounted)`, sudo),
  ];
}
