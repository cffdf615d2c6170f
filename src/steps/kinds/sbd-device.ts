/**
 * `sbd-device`: the SBD header on the shared disks (`sbd -d DEV -1 WATCHDOG
 * -4 MSGWAIT create`), written from ONE node (`on: role:primary`): the
 * disks are shared, and a header written again resets every node's slot.
 *
 * Done: every disk has an SBD header with the wanted watchdog and msgwait
 * timeouts (`sbd -d DEV dump`). Changes: `sbd -d DEV -1 W -4 M create` for
 * each disk without a header and without anything else on it (blkid -p
 * finds no filesystem, RAID member, partition table...).
 * Refused (destroys data: src/steps/destructive.ts counts `sbd create`
 * too): a disk that holds something else, or an SBD header with other
 * timeouts (re-creating it resets the slots of a cluster that may be
 * running on it), unless `overwrite: true` (the plan then says what is
 * overwritten); a path that is not a block device; a disk sbd cannot open;
 * no sbd installed. Nothing to do without disks (watchdog-only SBD).
 */
import { z } from 'zod';
import type { Change } from '../contract.js';
import { defineStep, exec, refuse } from '../define.js';
import { describeBlkid } from '../../facts/blockdev.js';
import { msgwaitOf, parseSbdDisks, SBD_DISKS_SCRIPT, SbdParam } from '../sbd.js';

export const sbdDeviceParams = z.object({ sbd: SbdParam, sudo: z.boolean().default(false) }).strict();
export type SbdDeviceParams = z.infer<typeof sbdDeviceParams>;

export const sbdDeviceStep = defineStep({
  kind: 'sbd-device',
  params: sbdDeviceParams,
  // the disks, and whether sbd is installed
  reads: (p) => [...p.sbd.devices.map((d) => `dev:${d}`), 'pkgdb:'],
  writes: (p) => p.sbd.devices.map((d) => `dev:${d}`),
  probes: (p: SbdDeviceParams) => ({
    disks: {
      argv: ['sh', '-c', SBD_DISKS_SCRIPT, 'sh', ...p.sbd.devices],
      ...(p.sudo ? { sudo: true } : {}),
      parse: (r, id) => {
        if (r.exitCode !== 0) throw new Error(`probe ${id} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
        return parseSbdDisks(r.stdout);
      },
    },
  }),
  diff(p, { disks }): Change[] {
    const s = p.sbd;
    const w = s.watchdog_timeout;
    const m = msgwaitOf(s);
    const changes: Change[] = [];
    const refusals: Change[] = [];
    for (const dev of s.devices) {
      const d = disks.get(dev);
      const create = (what: string) =>
        exec(['sbd', '-d', dev, '-1', String(w), '-4', String(m), 'create'], `write the SBD header (watchdog ${w}s, msgwait ${m}s) on ${dev}${what}`, { sudo: p.sudo, stdin: '' });
      if (d === undefined) throw new Error(`probe disks: nothing about ${dev}`);
      switch (d.state) {
        case 'notblock':
          refusals.push(refuse(`${dev} is not a block device on this node: SBD needs a shared disk (a small LUN, the same on every node)`));
          break;
        case 'nosbd':
          refusals.push(refuse(`sbd is not installed on this node: install the sbd package first`));
          break;
        case 'unreadable':
          refusals.push(refuse(`sbd cannot open ${dev} (${d.message})`));
          break;
        case 'header':
          if (d.watchdog === w && d.msgwait === m) break;
          if (!s.overwrite) {
            refusals.push(
              refuse(
                `${dev} has an SBD header with watchdog ${d.watchdog}s and msgwait ${d.msgwait}s, not ${w}s and ${m}s: writing it again resets every node's slot; stop the cluster on every node and set fencing.sbd.overwrite: true, or keep its timeouts`,
              ),
            );
          } else changes.push(create(` over its header (watchdog ${d.watchdog}s, msgwait ${d.msgwait}s)`));
          break;
        case 'empty': {
          const what = describeBlkid(d.blkid);
          if (what === 'nothing') changes.push(create(''));
          else if (!s.overwrite) refusals.push(refuse(`${dev} holds ${what}, not an SBD header; set fencing.sbd.overwrite: true to write one over it`));
          else changes.push(create(` over ${what}`));
          break;
        }
      }
    }
    return refusals.length ? refusals : changes;
  },
});
