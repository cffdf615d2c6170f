/**
 * Session.writeFile as one Command: the content on stdin into a new temp file
 * beside the target, mode and owner set, then renamed over it, so a reader
 * sees the old file or the new one whole, never a part. Pure.
 *
 * SELinux (Red Hat family), when `selinuxenabled` says it is on: a file
 * replaced keeps its own label (`chcon --reference`, set on the temp file
 * before the rename, so the label is right from the first instant); a new
 * file gets the policy's label for its path (`restorecon`, after the rename:
 * the temp file's name matches no rule). Without it, a file written into
 * /etc/corosync or /etc/drbd.d could carry a label the daemon may not read.
 */
import { posix } from 'node:path';
import { asText, shJoin, shQuote } from './quote.js';
import type { Command } from './types.js';

export interface WriteFileOptions {
  mode?: number;
  owner?: string;
  group?: string;
  sudo?: boolean;
}

/**
 * set -C: the temp file must be new (no following a planted symlink). Mode
 * when not given: the existing file's, else 0644. $1 temp, $2 target,
 * $3 mode (octal, or ''), $4 owner[:group] (or ''). `input` prints the
 * content: `cat` of stdin, or the shell's own `printf` (writeFileInline).
 * chown is skipped when $4 names the user and group the shell runs as
 * ($HAPV_USER, $HAPV_GROUP: looked up by the batch shell, ./shell.ts) and
 * the temp file has them (`test -O`, `test -G`: the file's uid and gid are
 * the shell's; a set-group-ID directory fails -G): one process fewer per
 * file written as the login user. Only in the batch shell itself ($$ is
 * its $HAPV_SHELL in its subshells): an `sh -c` of its own, or one under
 * sudo (whose sudoers may keep the environment, `!env_reset`: the names
 * would be the login user's, the process root), runs chown as always.
 */
const script = (input: string) =>
  [
    `set -eC; t=$1; f=$2; trap 'rm -f -- "$t"' EXIT; umask 077; ${input} > "$t"`,
    'if [ -n "$3" ]; then chmod "$3" "$t"; elif [ -e "$f" ]; then chmod --reference="$f" "$t"; else chmod 644 "$t"; fi',
    // no chown when the temp file already has that owner and group: the batch shell's own user and group (./shell.ts), checked on the file
    'if [ -n "$4" ]; then { [ "${HAPV_SHELL-}" = "$$" ] && case $4 in "${HAPV_USER-}:${HAPV_GROUP-}") [ -O "$t" ] && [ -G "$t" ] ;; "${HAPV_USER-}") [ -O "$t" ] ;; ":${HAPV_GROUP-}") [ -G "$t" ] ;; *) false ;; esac; } || chown -- "$4" "$t"; fi',
    'se=; if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then se=1; fi',
    'had=; if [ -e "$f" ]; then had=1; fi',
    'if [ -n "$se" ] && [ -n "$had" ]; then chcon --reference="$f" -- "$t"; fi',
    'mv -f -- "$t" "$f"; trap - EXIT',
    'if [ -n "$se" ] && [ -z "$had" ]; then restorecon -- "$f"; fi',
  ].join('\n');
const SCRIPT = script('cat');

/** The command writing `content` to the absolute `path`; `suffix` makes the temp file's name unique. */
export function writeFileCommand(path: string, content: string | Buffer, opts: WriteFileOptions, suffix: string): Command {
  if (!posix.isAbsolute(path)) throw new Error(`writeFile needs an absolute path, got ${JSON.stringify(path)}`);
  const tmp = posix.join(posix.dirname(path), `.${posix.basename(path)}.hapv-${suffix}`);
  const mode = opts.mode === undefined ? '' : (opts.mode & 0o7777).toString(8);
  const owner = opts.owner === undefined && opts.group === undefined ? '' : `${opts.owner ?? ''}${opts.group === undefined ? '' : `:${opts.group}`}`;
  return { argv: ['sh', '-c', SCRIPT, 'sh', tmp, path, mode, owner], stdin: content, sudo: opts.sudo === true };
}

/**
 * A writeFileCommand as shell text for a subshell of a batch (./batch.ts):
 * the same script, the content put in by the shell's `printf` builtin, so
 * no pipe, `sh` or `cat` is started (three processes fewer per file), and the
 * content is still on no process's argv. Undefined for any other command, and
 * for one that needs its own process (sudo, env, a timeout) or whose content
 * is not text.
 */
export function writeFileInline(cmd: Command): string | undefined {
  const [sh, c, text, name, ...args] = cmd.argv;
  if (sh !== 'sh' || c !== '-c' || text !== SCRIPT || name !== 'sh' || args.length !== 4) return undefined;
  if (cmd.sudo === true || cmd.env !== undefined || cmd.timeoutMs !== undefined) return undefined;
  const content = cmd.stdin === undefined ? undefined : asText(cmd.stdin);
  if (content === undefined) return undefined;
  return `set -- ${shJoin(args)}\n${script(`printf %s ${shQuote(content)}`)}`;
}
