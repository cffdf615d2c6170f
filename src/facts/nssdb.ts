/**
 * Read-only probe of an NSS certificate database (corosync-qnetd's
 * /etc/corosync/qnetd/nssdb, corosync-qdevice's /etc/corosync/qdevice/net/nssdb)
 * and of files beside it: which certificates it holds (their PEM, public,
 * fingerprinted here), whether a certificate's private key is in it, whether
 * a certificate is valid against the database's CA, and which files exist
 * (mode, owner, size, never content: a PKCS#12 file holds a private key).
 *
 * Nothing secret leaves the node: `certutil -K` (key ids) is filtered on the
 * node to a yes/no, files are only stat'ed.
 */
import { createHash } from 'node:crypto';
import type { FactProbe, ProbeResult } from '../steps/contract.js';

/**
 * What to look at: a certificate by nickname, its private key, its validity
 * (as an SSL client), a file's stat, a PUBLIC file's sha256 (never a key's).
 */
export type NssItem = { cert: string } | { key: string } | { valid: string } | { file: string } | { sum: string };

/**
 * $1 the database directory, then items "cert:NICK", "key:NICK",
 * "valid:NICK", "file:PATH", "sum:PATH". Prints `notool` (no certutil), then `absent`
 * or `db`, then per item a line "@KIND ARG" and its answer.
 */
const SCRIPT = [
  'd=$1; shift',
  'command -v certutil >/dev/null 2>&1 || { echo notool; exit 0; }',
  'if [ -f "$d/cert9.db" ] || [ -f "$d/cert8.db" ]; then echo db; else echo absent; fi',
  'for i in "$@"; do',
  '  k=${i%%:*}; a=${i#*:}',
  '  case $k in',
  '    cert) echo "@cert $a"; [ -d "$d" ] && certutil -L -d "$d" -n "$a" -a 2>/dev/null; true;;',
  '    key) echo "@key $a"; if [ -d "$d" ] && certutil -K -d "$d" -f "$d/pwdfile.txt" 2>/dev/null | grep -qF -- "$a"; then echo yes; else echo no; fi;;',
  '    valid) echo "@valid $a"; if [ -d "$d" ] && certutil -V -d "$d" -n "$a" -u C >/dev/null 2>&1; then echo yes; else echo no; fi;;',
  '    file) echo "@file $a"; if [ -f "$a" ]; then stat -c "%a %U %G %s" -- "$a"; else echo absent; fi;;',
  '    sum) echo "@sum $a"; if [ -f "$a" ]; then s=$(sha256sum < "$a") && echo "${s%% *}"; fi;;',
  '  esac',
  'done',
].join('\n');

export interface NssFile {
  /** Octal mode as a number. */
  mode: number;
  owner: string;
  group: string;
  size: number;
}

export interface NssDbFact {
  /** certutil is installed (libnss3-tools). */
  tool: boolean;
  /** The database exists (cert9.db or cert8.db). */
  db: boolean;
  /** Certificates found, by nickname: SHA-256 fingerprint of the DER, "AB:CD:...". */
  certs: Record<string, string>;
  /** Private keys present, by nickname. */
  keys: Record<string, boolean>;
  /** Certificates valid against the database's trusted CA (as an SSL client), by nickname. */
  valid: Record<string, boolean>;
  /** Files by path: their stat, or null when absent. */
  files: Record<string, NssFile | null>;
  /** sha256 of public files by path (absent: no entry). */
  sums: Record<string, string>;
}

export function nssDbProbe(dir: string, items: readonly NssItem[], sudo?: boolean): FactProbe<NssDbFact> {
  const args = items.map((i) => Object.entries(i).map(([k, v]) => `${k}:${v as string}`)[0]!);
  return { argv: ['sh', '-c', SCRIPT, 'sh', dir, ...args], ...(sudo ? { sudo } : {}), parse: parseNssDb };
}

/** SHA-256 of a certificate's DER (from its PEM), as certutil prints fingerprints. */
export function pemFingerprint(pem: string): string | undefined {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) return undefined;
  const der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  if (der.length === 0) return undefined;
  return createHash('sha256')
    .update(der)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}

export function parseNssDb(r: ProbeResult, id = 'nssdb'): NssDbFact {
  if (r.exitCode !== 0) throw new Error(`${id}: probe failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  const lines = r.stdout.split('\n');
  const fact: NssDbFact = { tool: true, db: false, certs: {}, keys: {}, valid: {}, files: {}, sums: {} };
  const head = lines.shift()?.trim();
  if (head === 'notool') return { ...fact, tool: false };
  if (head !== 'db' && head !== 'absent') throw new Error(`${id}: unexpected output: ${JSON.stringify(r.stdout.slice(0, 200))}`);
  fact.db = head === 'db';
  let i = 0;
  while (i < lines.length) {
    const m = /^@(cert|key|valid|file|sum) (.*)$/.exec(lines[i]!);
    i++;
    if (!m) continue;
    const body: string[] = [];
    while (i < lines.length && !lines[i]!.startsWith('@')) body.push(lines[i++]!);
    const [, kind, arg] = m as unknown as [string, 'cert' | 'key' | 'valid' | 'file' | 'sum', string];
    const text = body.join('\n').trim();
    switch (kind) {
      case 'cert': {
        const fp = pemFingerprint(text);
        if (fp) fact.certs[arg] = fp;
        break;
      }
      case 'key':
        fact.keys[arg] = text === 'yes';
        break;
      case 'valid':
        fact.valid[arg] = text === 'yes';
        break;
      case 'sum':
        if (/^[0-9a-f]{64}$/.test(text)) fact.sums[arg] = text;
        break;
      case 'file': {
        const f = /^([0-7]+) (\S+) (\S+) (\d+)$/.exec(text);
        fact.files[arg] = f ? { mode: parseInt(f[1]!, 8), owner: f[2]!, group: f[3]!, size: Number(f[4]) } : null;
        break;
      }
    }
  }
  return fact;
}
