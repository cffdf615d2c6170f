/**
 * SBD (STONITH Block Device, sbd(8)) as the steps take it: the inventory's
 * `fencing.sbd` (its view `!ref cluster.fencing.sbd`, src/playbook/refs.ts).
 *
 * - With shared disks: each node's sbd daemon watches its slot on the disks
 *   and the watchdog; fencing writes a poison pill into the victim's slot
 *   (fence_sbd), which the victim's daemon obeys, or its watchdog fires.
 *   The disks' header is written once (`sbd -d DEV -1 WATCHDOG -4 MSGWAIT
 *   create`: kind sbd-device); every node gets the same configuration
 *   (kind sbd: /etc/default/sbd on Debian, /etc/sysconfig/sbd on Red Hat);
 *   sbd.service is enabled (kind service) and starts with corosync;
 *   crm-configure adds a stonith:fence_sbd device.
 * - Without disks ("diskless", watchdog only): a node without quorum
 *   resets itself by its watchdog; Pacemaker assumes it has after
 *   stonith-watchdog-timeout (twice SBD_WATCHDOG_TIMEOUT, as Pacemaker's
 *   documentation sets it). Needs quorum from 3 or more votes.
 *
 * `sbd dump` prints (sbd-md.c, header_dump and dump_headers):
 *   ==Dumping header on disk DEV            (stdout)
 *   Header version     : 2.1 ... Timeout (watchdog) : 5 ... Timeout (msgwait)  : 10
 *   ==Header on disk DEV is dumped          (stdout, exit 0)
 * or, on a disk without a valid header, `==Header on disk DEV NOT dumped`
 * (stderr, exit 1), with `== disk DEV unreadable!` when sbd cannot open it
 * at all (seen on a plain file in a container). Captured with sbd 1.5.2
 * (Debian 12) on a loop disk: test/fixtures/steps/sbd-device.
 * The configuration keeps Debian's defaults for what the inventory does not
 * set (SBD_TIMEOUT_ACTION, SBD_MOVE_TO_ROOT_CGROUP, SBD_SYNC_RESOURCE_STARTUP).
 */
import { z } from 'zod';
import { absolutePath } from './params.js';

export const SbdParam = z
  .object({
    /** Shared disks (1-3), the same path on every node; none: watchdog only. */
    devices: z.array(absolutePath).max(3).default([]),
    watchdog: absolutePath.default('/dev/watchdog'),
    /** SBD_WATCHDOG_TIMEOUT and the header's watchdog timeout (-1), seconds. */
    watchdog_timeout: z.number().int().min(1).default(5),
    /** The header's msgwait (-4), seconds: twice the watchdog timeout by default. */
    msgwait: z.number().int().min(1).optional(),
    startmode: z.enum(['always', 'clean']).default('always'),
    /** The fence_sbd device's id (with disks). */
    name: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'a CIB id')
      .default('fence_sbd'),
    /** sbd-device may write a header over a disk that holds something else, or another SBD header. */
    overwrite: z.boolean().default(false),
  })
  .strict();
export type SbdParam = z.infer<typeof SbdParam>;

export function msgwaitOf(s: SbdParam): number {
  return s.msgwait ?? 2 * s.watchdog_timeout;
}

/** /etc/default/sbd or /etc/sysconfig/sbd: the whole file, the same on every node. */
export function sbdConfig(s: SbdParam): string {
  return [
    "# Written by ha-provision (kind sbd) from the inventory's fencing.sbd; see sbd(8).",
    ...(s.devices.length ? [`SBD_DEVICE="${s.devices.join(';')}"`] : ['# no SBD_DEVICE: watchdog only (diskless SBD)']),
    'SBD_PACEMAKER=yes',
    `SBD_STARTMODE=${s.startmode}`,
    'SBD_DELAY_START=no',
    `SBD_WATCHDOG_DEV=${s.watchdog}`,
    `SBD_WATCHDOG_TIMEOUT=${s.watchdog_timeout}`,
    'SBD_TIMEOUT_ACTION=flush,reboot',
    'SBD_MOVE_TO_ROOT_CGROUP=auto',
    'SBD_SYNC_RESOURCE_STARTUP=yes',
    'SBD_OPTS=',
    '',
  ].join('\n');
}

export type SbdDisk =
  | { state: 'notblock' }
  | { state: 'nosbd' }
  /** sbd could not open it (`== disk DEV unreadable!`). */
  | { state: 'unreadable'; message: string }
  /** No valid SBD header; `blkid`: what blkid -p finds there (TYPE, PTTYPE...). */
  | { state: 'empty'; blkid: Record<string, string> }
  | { state: 'header'; watchdog: number; msgwait: number; slots: number };

/**
 * For each device: `device DEV`, then `notblock`, `nosbd`, or the output
 * of `sbd -d DEV dump` (stdout and stderr) and `exit N`, then `blkid` and
 * `blkid -p -o export DEV`'s lines; `end` closes it.
 */
export const SBD_DISKS_SCRIPT = [
  'for d in "$@"; do',
  '  echo "device $d"',
  '  if [ ! -b "$d" ]; then echo notblock; echo end; continue; fi',
  '  if ! command -v sbd >/dev/null 2>&1; then echo nosbd; echo end; continue; fi',
  '  sbd -d "$d" dump 2>&1; echo "exit $?"',
  '  echo blkid; blkid -p -o export "$d" 2>/dev/null',
  '  echo end',
  'done',
].join('\n');

export function parseSbdDisks(stdout: string): Map<string, SbdDisk> {
  const out = new Map<string, SbdDisk>();
  const blocks = stdout.split(/^device /m).slice(1);
  for (const b of blocks) {
    const lines = b.split('\n');
    const dev = lines[0]!;
    const body = lines.slice(1, lines.lastIndexOf('end'));
    if (body[0] === 'notblock' || body[0] === 'nosbd') {
      out.set(dev, { state: body[0] });
      continue;
    }
    const bi = body.indexOf('blkid');
    const dump = body.slice(0, bi < 0 ? body.length : bi);
    const blkid = Object.fromEntries((bi < 0 ? [] : body.slice(bi + 1)).filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const num = (label: string) => {
      const l = dump.find((x) => x.startsWith(label));
      return l === undefined ? undefined : Number(l.slice(l.indexOf(':') + 1).trim());
    };
    const wd = num('Timeout (watchdog)');
    const mw = num('Timeout (msgwait)');
    if (dump.some((l) => l === `==Header on disk ${dev} is dumped`) && wd !== undefined && mw !== undefined) {
      out.set(dev, { state: 'header', watchdog: wd, msgwait: mw, slots: num('Number of slots') ?? 0 });
    } else if (dump.some((l) => l.includes('unreadable'))) {
      out.set(dev, { state: 'unreadable', message: dump.filter((l) => !l.startsWith('exit ')).join(' | ') });
    } else {
      out.set(dev, { state: 'empty', blkid });
    }
  }
  return out;
}
