/**
 * Session.writeFile as one Command: the content on stdin into a new temp file
 * beside the target, mode and owner set, then renamed over it, so a reader
 * sees the old file or the new one whole, never a part. Pure.
 */
import { posix } from 'node:path';
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
 * $3 mode (octal, or ''), $4 owner[:group] (or '').
 */
const SCRIPT = [
  'set -eC; t=$1; f=$2; trap \'rm -f -- "$t"\' EXIT; umask 077; cat > "$t"',
  'if [ -n "$3" ]; then chmod "$3" "$t"; elif [ -e "$f" ]; then chmod --reference="$f" "$t"; else chmod 644 "$t"; fi',
  'if [ -n "$4" ]; then chown -- "$4" "$t"; fi',
  'mv -f -- "$t" "$f"; trap - EXIT',
].join('\n');

/** The command writing `content` to the absolute `path`; `suffix` makes the temp file's name unique. */
export function writeFileCommand(path: string, content: string | Buffer, opts: WriteFileOptions, suffix: string): Command {
  if (!posix.isAbsolute(path)) throw new Error(`writeFile needs an absolute path, got ${JSON.stringify(path)}`);
  const tmp = posix.join(posix.dirname(path), `.${posix.basename(path)}.hapv-${suffix}`);
  const mode = opts.mode === undefined ? '' : (opts.mode & 0o7777).toString(8);
  const owner = opts.owner === undefined && opts.group === undefined ? '' : `${opts.owner ?? ''}${opts.group === undefined ? '' : `:${opts.group}`}`;
  return { argv: ['sh', '-c', SCRIPT, 'sh', tmp, path, mode, owner], stdin: content, sudo: opts.sudo === true };
}
