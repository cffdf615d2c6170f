/**
 * `drbd-create-md`: DRBD metadata on the resource's backing device (the
 * device comes from the configuration: `drbdadm sh-ll-dev NAME`).
 *
 * Done: `drbdadm get-gi NAME` reads generation identifiers (metadata exists,
 * whether the resource is up or not).
 * Changes: `drbdadm create-md --max-peers=N NAME` with an empty, closed
 * stdin, only after the probes made sure it will not ask (it asks only when
 * it finds data or metadata): never `yes |`, never `--force`.
 * Refused: the backing device is missing; blkid finds DRBD metadata that
 * drbdadm cannot read (another version, damaged); it holds a filesystem or
 * another signature, or any non-zero byte in its first 68 KiB (what
 * drbdmeta's check_for_existing_data reads: "Found some data"), unless
 * `allow_overwrite: true`: then `wipefs --all` and zeroing those 68 KiB come
 * first, shown in the plan, so create-md finds nothing to ask about.
 */
import { z } from 'zod';
import type { Change, FactProbe } from '../contract.js';
import { defineStep, exec, refuse, sudoOf } from '../define.js';
import { describeBlkid, parseBlkid } from '../../facts/blockdev.js';
import { getGiProbe } from '../../facts/drbd.js';
import { DRBD_CONFIG, resourceName } from '../drbd-params.js';

export const drbdCreateMdParams = z
  .object({
    resource: resourceName,
    /** Peers this node's metadata has room for (the other nodes; more for later growth). */
    max_peers: z.number().int().min(1).max(31).default(1),
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
  probes: (p: DrbdCreateMdParams) => ({ gi: getGiProbe(p.resource, p.sudo), backing: backingProbe(p.resource, p.sudo) }),
  diff(p, facts): Change[] {
    if (facts.gi.ids) return [];
    const bk = facts.backing;
    if (bk.state === 'nodev') return [refuse(`resource ${p.resource} has no backing device for this host in the DRBD configuration (drbdadm sh-ll-dev ${p.resource})`)];
    if (bk.state === 'notblock') return [refuse(`the backing device ${bk.dev} of ${p.resource} is not a block device`)];
    const sudo = { sudo: p.sudo };
    const changes: Change[] = [];
    if (bk.vars.TYPE === 'drbd')
      return [refuse(`${bk.dev} holds DRBD metadata (${bk.vars.VERSION ?? 'unknown version'}) that drbdadm get-gi ${p.resource} cannot read: not overwriting it`)];
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
    changes.push(
      exec(['drbdadm', 'create-md', `--max-peers=${p.max_peers}`, p.resource], `create DRBD metadata for ${p.resource} on ${bk.dev} (max ${p.max_peers} peer(s))`, {
        ...sudo,
        stdin: '',
      }),
    );
    return changes;
  },
});
