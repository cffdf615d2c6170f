/**
 * The DRBD kernel module's version on a node, read the way drbd-utils 9
 * reads it to choose its own dialect (user/v9/drbdtool_common_linux.c,
 * get_drbd_driver_version): the first line of /proc/drbd when the module
 * is loaded (`version: 8.4.11 (api:1/proto:86-101)`, `version: 9.2.12
 * (api:2/proto:86-122)`), else `modinfo -F version drbd` (the module on
 * disk, not loaded yet). On an 8.4 module, `drbdadm` and `drbdsetup` exec
 * drbdadm-84 and drbdsetup-84 (/lib/drbd in Debian's drbd-utils 9.22), so
 * the commands the steps run stay the same; what differs is the resource
 * file (drbdadm-84 refuses `node-id` and `connection-mesh`), create-md's
 * options and the metadata (v08, one peer).
 *
 * Neither answers (no module loaded and none installed for the running
 * kernel): no version, and the DRBD steps that depend on the dialect
 * refuse, naming what was tried. drbd-utils itself then falls back to its
 * own DRBD 9 code paths, and any `drbdadm up` fails ("Failed to modprobe
 * drbd"), so guessing a dialect would only write a file that may be wrong.
 */
import type { FactProbe, ProbeResult } from '../steps/contract.js';
import { sudoOf } from '../steps/define.js';

/** `proc LINE` (the first line of /proc/drbd), or `modinfo VERSION`, or `none` and modinfo's complaint. */
const KERNEL_SCRIPT = [
  'if [ -r /proc/drbd ]; then printf "proc %s\\n" "$(head -n 1 /proc/drbd)"; exit 0; fi',
  'v=$(modinfo -F version drbd 2>&1) && [ -n "$v" ] && { printf "modinfo %s\\n" "$v"; exit 0; }',
  'printf "none %s\\n" "$(printf "%s" "$v" | head -n 1)"',
].join('\n');

/**
 * The dialect the steps speak: `9` for any 9.x module, `8.4` for 8.4.7 and
 * later (the first 8.4 whose `drbdsetup events2` the steps can read: drbd-utils'
 * drbd.ocf, "events2 is actually usable since 0x080407"); anything else has none.
 */
export type DrbdDialect = '8.4' | '9';

export type DrbdKernel = { source: 'proc' | 'modinfo'; version: string; dialect: DrbdDialect | null } | { source: 'none'; version: null; dialect: null; detail: string };

export function drbdKernelProbe(sudo: boolean): FactProbe<DrbdKernel> {
  return { argv: ['sh', '-c', KERNEL_SCRIPT], ...sudoOf(sudo), parse: parseDrbdKernel };
}

/** 8.4.11 -> '8.4', 9.2.12 -> '9', 8.4.6 / 8.3.16 / 10.0 -> null. */
export function dialectOf(version: string): DrbdDialect | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  if (!m) return null;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (major === 9) return '9';
  if (major === 8 && minor === 4 && patch >= 7) return '8.4';
  return null;
}

export function parseDrbdKernel(r: ProbeResult, probe = 'kernel'): DrbdKernel {
  if (r.exitCode !== 0) throw new Error(`probe ${probe} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
  const line = r.stdout.split('\n')[0] ?? '';
  // /proc/drbd: "version: 8.4.11 (api:1/proto:86-101)" (drbd_proc.c); a DRBD 9 module may add "(compat 8.4)" further down
  const proc = /^proc version: (\S+)/.exec(line);
  if (proc) return { source: 'proc', version: proc[1]!, dialect: dialectOf(proc[1]!) };
  const mod = /^modinfo (\S+)/.exec(line);
  if (mod) return { source: 'modinfo', version: mod[1]!, dialect: dialectOf(mod[1]!) };
  if (line.startsWith('none')) return { source: 'none', version: null, dialect: null, detail: line.slice(5).trim() };
  throw new Error(`probe ${probe}: unexpected output "${line.slice(0, 80)}"`);
}

/** How a node's module reads in messages: "8.4.11 (/proc/drbd)", "no DRBD kernel module (...)". */
export function describeKernel(k: DrbdKernel): string {
  if (k.source === 'none') return `no DRBD kernel module (neither /proc/drbd nor modinfo -F version drbd answers${k.detail ? `: ${k.detail}` : ''})`;
  return `${k.version} (${k.source === 'proc' ? '/proc/drbd' : 'modinfo'})`;
}

/** Why a node's module gives the steps no dialect; undefined when it does. */
export function noDialect(k: DrbdKernel): string | undefined {
  if (k.dialect) return undefined;
  if (k.source === 'none') return `${describeKernel(k)}: install the DRBD kernel module (Debian's and Ubuntu's kernels ship 8.4; DRBD 9 comes as drbd-dkms or kmod-drbd9x)`;
  return `the DRBD kernel module is ${describeKernel(k)}: these steps drive DRBD 9 and DRBD 8.4.7 or later only (drbd-utils 9 has no 8.3 dialect; events2 needs 8.4.7)`;
}
