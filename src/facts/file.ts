/**
 * Read-only probes about one file: a command (argv) and a pure parse.
 * Scripts run under `sh -c SCRIPT sh ARGS...`: values travel as positional
 * parameters, never spliced into the script text.
 */
import type { FactProbe, ProbeResult } from '../steps/contract.js';

/**
 * Prints `absent`, `notfile`, or `file MODE OWNER GROUP SIZE` then the sha256,
 * then content if it differs from every wanted one ($2: one or several
 * sha256, space-separated) and is small; with a 4th argument, the content is
 * passed through that `sed -E` program on the node first (to mask secrets
 * before they leave it).
 */
const STAT_SHA_SCRIPT = [
  'p=$1',
  'if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo absent; exit 0; fi',
  'if [ ! -f "$p" ]; then echo notfile; exit 0; fi',
  'st=$(stat -c "%a %U %G %s" -- "$p") || exit 3',
  'echo "file $st"',
  's=$(sha256sum < "$p") || exit 3',
  'echo "${s%% *}"',
  'case " $2 " in *" ${s%% *} "*) exit 0 ;; esac',
  'if [ "${st##* }" -le "$3" ]; then echo content; if [ -n "$4" ]; then sed -E -e "$4" -- "$p"; else cat -- "$p"; fi || exit 3; fi',
].join('\n');

/** Prints `absent`, `notfile`, or `file MODE OWNER GROUP SIZE` then the whole content. */
const STAT_CAT_SCRIPT = [
  'p=$1',
  'if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo absent; exit 0; fi',
  'if [ ! -f "$p" ]; then echo notfile; exit 0; fi',
  'st=$(stat -c "%a %U %G %s" -- "$p") || exit 3',
  'echo "file $st"',
  'cat -- "$p" || exit 3',
].join('\n');

export function fileHashProbe(
  path: string,
  /** The wanted content's sha256 (several when more than one content is right, e.g. per DRBD dialect). */
  wantedSha256: string | readonly string[],
  maxContentBytes: number,
  sudo?: boolean,
  /** A `sed -E` program the content goes through on the node before it is sent (masking). */
  contentFilter?: string,
): FactProbe<FileFact> {
  const wanted = typeof wantedSha256 === 'string' ? wantedSha256 : wantedSha256.join(' ');
  const args = [path, wanted, String(maxContentBytes), ...(contentFilter ? [contentFilter] : [])];
  return { argv: ['sh', '-c', STAT_SHA_SCRIPT, 'sh', ...args], ...(sudo ? { sudo } : {}), parse: parseFileHash };
}

export function fileContentProbe(path: string, sudo?: boolean): FactProbe<FileFact> {
  return { argv: ['sh', '-c', STAT_CAT_SCRIPT, 'sh', path], ...(sudo ? { sudo } : {}), parse: parseFileContent };
}

export interface FileStat {
  /** Octal mode as a number (e.g. 0o644). */
  mode: number;
  owner: string;
  group: string;
  size: number;
}

export type FileFact = { state: 'absent' } | { state: 'notfile' } | { state: 'file'; stat: FileStat; sha256?: string; content?: string };

function cut(s: string): [string, string] {
  const i = s.indexOf('\n');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

function parseHead(line: string, probe: string): FileFact | FileStat {
  if (line === 'absent') return { state: 'absent' };
  if (line === 'notfile') return { state: 'notfile' };
  const m = /^file ([0-7]+) (\S+) (\S+) (\d+)$/.exec(line);
  if (!m) throw new Error(`probe ${probe}: unexpected output "${line.slice(0, 80)}"`);
  return { mode: parseInt(m[1]!, 8), owner: m[2]!, group: m[3]!, size: Number(m[4]) };
}

function checkExit(r: ProbeResult, probe: string): void {
  if (r.exitCode !== 0) throw new Error(`probe ${probe} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
}

export function parseFileHash(r: ProbeResult, probe = 'file'): FileFact {
  checkExit(r, probe);
  const [head, rest] = cut(r.stdout);
  const h = parseHead(head, probe);
  if ('state' in h) return h;
  const [sha, more] = cut(rest);
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`probe ${probe}: bad sha256 "${sha.slice(0, 80)}"`);
  // the old content follows a "content" line only when it differs and is small
  const [marker, content] = cut(more);
  return { state: 'file', stat: h, sha256: sha, ...(marker === 'content' ? { content } : {}) };
}

export function parseFileContent(r: ProbeResult, probe = 'file'): FileFact {
  checkExit(r, probe);
  const [head, content] = cut(r.stdout);
  const h = parseHead(head, probe);
  if ('state' in h) return h;
  return { state: 'file', stat: h, content };
}

export function formatMode(mode: number): string {
  return '0' + mode.toString(8).padStart(3, '0');
}
