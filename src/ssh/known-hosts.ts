/**
 * OpenSSH known_hosts: parse, look up a host (plain, wildcard, negated and
 * hashed `|1|salt|hash` patterns; `[host]:port` for ports other than 22),
 * and format new entries the way `ssh` writes them.
 */
import { createHash, createHmac } from 'node:crypto';

export interface KnownHostEntry {
  line: number;
  marker: '' | '@revoked' | '@cert-authority';
  patterns: string;
  keyType: string;
  key: Buffer;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = '';
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    const [patterns, keyType, b64] = fields;
    if (patterns === undefined || keyType === undefined || b64 === undefined) return; // OpenSSH skips malformed lines too
    entries.push({ line: index + 1, marker, patterns, keyType, key: Buffer.from(b64, 'base64') });
  });
  return entries;
}

/** The name OpenSSH looks up: `host` for port 22, `[host]:port` otherwise. */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * OpenSSH's match_pattern: `*` any run, `?` one character, case-insensitive.
 * Iterative with one backtrack point (the last `*`): at most
 * O(pattern x name) steps, whatever the pattern (a RegExp built from a
 * pattern with many `*` could backtrack exponentially on a long name).
 */
export function globMatch(glob: string, name: string): boolean {
  const g = glob.toLowerCase();
  const n = name.toLowerCase();
  let gi = 0;
  let ni = 0;
  let star = -1;
  let mark = 0;
  while (ni < n.length) {
    if (gi < g.length && (g[gi] === '?' || (g[gi] !== '*' && g[gi] === n[ni]))) {
      gi++;
      ni++;
    } else if (gi < g.length && g[gi] === '*') {
      star = gi++;
      mark = ni;
    } else if (star >= 0) {
      gi = star + 1;
      ni = ++mark;
    } else return false;
  }
  while (gi < g.length && g[gi] === '*') gi++;
  return gi === g.length;
}

function hashedMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('|'); // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2] ?? '', 'base64');
  const want = Buffer.from(parts[3] ?? '', 'base64');
  return createHmac('sha1', salt).update(name).digest().equals(want);
}

export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatches(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    const glob = negated ? pattern.slice(1) : pattern;
    if (globMatch(glob, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export function entriesFor(entries: readonly KnownHostEntry[], name: string): KnownHostEntry[] {
  return entries.filter((e) => e.marker !== '@cert-authority' && patternsMatch(e.patterns, name));
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function formatEntry(name: string, blob: Buffer): string {
  return `${name} ${keyTypeOfBlob(blob)} ${blob.toString('base64')}\n`;
}

/** Host key algorithms ssh2 may negotiate for a key type found in known_hosts. */
export function algorithmsForKeyType(keyType: string): string[] {
  switch (keyType) {
    case 'ssh-rsa':
      return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
    default:
      return [keyType];
  }
}
