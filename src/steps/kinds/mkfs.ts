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
 */
import { z } from 'zod';
import type { Change } from '../contract.js';
import { defineStep, exec, refuse } from '../define.js';
import { blkidProbe, describeBlkid, drbdBackingBlkidProbe } from '../../facts/blockdev.js';
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
    if (b.vars.TYPE === p.fstype) return [];
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
