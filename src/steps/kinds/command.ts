/**
 * `command`: run a command, guarded. It MUST carry `creates` (a path whose
 * existence means done) or `unless` (argv whose exit 0 means done). When both
 * are given, the step is done only when both hold; after running, both must
 * hold (verify), or the result is inconsistent.
 *
 * Refused at validation: an argv or script that runs a known data-destroying
 * command (a forced DRBD primary, create-md, mkfs, a partition-table write,
 * wipefs -a, dd to a device, ...; see ../destructive.ts) unless the step says
 * `destructive: true` (with its guard, as always); the partition, mkfs,
 * drbd-create-md and drbd-initial-sync kinds do these jobs and check the
 * device first. A guard (`unless`) that destroys data is always refused.
 *
 * `writes` / `reads` (optional): what the command may change and what its
 * guard reads, as absolute paths or the pseudo-paths of ../contract.ts
 * (dev:/dev/vdb, drbd:NAME, unit:NAME, pkgdb:, host:, cib:, cluster:).
 * Without `writes` a command may change anything on any node, so the plan
 * shows every later step as "known after apply" and apply reads every
 * later step's facts again after it runs; with it, only the steps whose
 * reads these writes may reach. A promise the plan relies on: `creates`
 * must be inside `writes`.
 */
import { z } from 'zod';
import { commandProbe, defineStep, exec } from '../define.js';
import { destructiveProblems } from '../destructive.js';
import { containsSecret, maskSecrets } from '../../mask.js';
import { absolutePath } from '../params.js';
import { pathsOverlap } from '../contract.js';

const argv = z.array(z.string()).min(1, 'a non-empty argv array');
const Resource = z
  .string()
  .regex(/^(\/[^\0]*|(dev|drbd|unit|pkgdb|host|cib|cluster):[^\s]*)$/, 'an absolute path, or dev:DEVICE, drbd:NAME, unit:NAME, pkgdb:, host:, cib: or cluster:');

export const commandParams = z
  .object({
    argv: argv.optional(),
    /** A shell command line, run as `sh -c SHELL`. */
    shell: z.string().min(1).optional(),
    creates: absolutePath.optional(),
    unless: argv.optional(),
    sudo: z.boolean().default(false),
    stdin: z.string().optional(),
    description: z.string().optional(),
    /** The command knowingly destroys data (see ../destructive.ts); its guard must prove the data is not there. */
    destructive: z.boolean().default(false),
    /** What the command may change (see the header); without it: anything, anywhere. */
    writes: z.array(Resource).min(1).optional(),
    /** What `unless` reads (see the header); without it: anything. */
    reads: z.array(Resource).min(1).optional(),
  })
  .strict()
  .refine((p) => (p.argv === undefined) !== (p.shell === undefined), { message: 'give exactly one of "argv" or "shell"', path: ['argv'] })
  .refine((p) => p.creates !== undefined || p.unless !== undefined, {
    message: 'a command needs a guard: "creates" (path) or "unless" (argv whose exit 0 means done)',
    path: ['creates'],
  })
  .superRefine((p, ctx) => {
    if (
      p.writes &&
      p.creates !== undefined &&
      !p.writes.some((w) => w.startsWith('/') && pathsOverlap(w, p.creates!) && p.creates!.replace(/\/+$/, '').length >= w.replace(/\/+$/, '').length)
    )
      ctx.addIssue({ code: 'custom', path: ['writes'], message: `expected "creates" (${p.creates}) inside one of the paths the command writes` });
    if (p.reads && p.unless === undefined) ctx.addIssue({ code: 'custom', path: ['reads'], message: '"reads" says what "unless" reads: give it only with "unless"' });
    for (const d of destructiveProblems(p)) ctx.addIssue({ code: 'custom', path: d.path, message: d.message });
  });
export type CommandParams = z.infer<typeof commandParams>;

/**
 * A secret on a command line is in the node's process list (`ps`, /proc/PID/cmdline)
 * for every user while the command runs (issue 12.7): the plan says so, and
 * how to pass it on stdin instead. '' when no secret is on a command line.
 */
export function secretOnCommandLine(p: CommandParams, node: { name: string; secrets: readonly string[] }): string {
  const at = (argv: readonly string[] | undefined, name: string) => {
    const i = argv?.findIndex((a) => containsSecret(a, node.secrets)) ?? -1;
    return i < 0 ? [] : [name === 'shell' ? '"shell"' : `${name}[${i}]`];
  };
  const where = [...(p.shell !== undefined ? at([p.shell], 'shell') : at(p.argv, 'argv')), ...at(p.unless, 'unless')];
  if (where.length === 0) return '';
  return (
    ` -- WARNING: a secret is on the command line (${where.join(', ')}): while it runs, any user of ${node.name} can read it in ps;` +
    " pass it on standard input instead (with: stdin: the secret or a line holding it, read by the command, e.g. chpasswd, or shell: 'read -r pw; ...')"
  );
}

export const commandStep = defineStep({
  kind: 'command',
  params: commandParams,
  // with only `creates`, the facts are that one path; `unless` may read anything unless `reads` says what
  reads: (p) =>
    p.unless === undefined ? (p.creates !== undefined ? [p.creates] : undefined) : p.reads ? [...p.reads, ...(p.creates !== undefined ? [p.creates] : [])] : undefined,
  // anything, anywhere, unless declared
  writes: (p) => p.writes,
  probes: (p: CommandParams) => ({
    creates: p.creates !== undefined ? commandProbe(['test', '-e', p.creates], p.sudo) : undefined,
    unless: p.unless !== undefined ? commandProbe(p.unless, p.sudo) : undefined,
  }),
  diff(p, { creates, unless }, node) {
    const done = (creates === undefined || creates.exitCode === 0) && (unless === undefined || unless.exitCode === 0);
    if (done) return [];
    const cmd = p.argv ?? ['sh', '-c', p.shell as string];
    const secret = cmd.some((a) => containsSecret(a, node.secrets)) || (p.stdin !== undefined && containsSecret(p.stdin, node.secrets));
    const description = maskSecrets(p.description ?? (p.shell !== undefined ? `run: ${p.shell}` : `run ${cmd.join(' ')}`), node.secrets) + secretOnCommandLine(p, node);
    return [exec(cmd, description, { sudo: p.sudo, ...(p.stdin !== undefined ? { stdin: p.stdin } : {}), secret })];
  },
});
