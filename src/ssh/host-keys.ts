/**
 * Host key verification against a known_hosts file (ssh2 `hostVerifier`).
 * Unknown: refused in `strict`, appended in `accept-new`. Changed: always
 * refused, with the file, the line and both fingerprints.
 */
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { HostKeyPolicy } from './types.js';
import { SshError } from './types.js';
import { algorithmsForKeyType, entriesFor, fingerprint, formatEntry, hostKeyName, keyTypeOfBlob, parseKnownHosts, type KnownHostEntry } from './known-hosts.js';

const DEFAULT_HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

export interface HostKeyCheck {
  /** Host key algorithms with the types already known for this host first (as OpenSSH does). */
  algorithms: string[];
  /** Resolves to null when the key is accepted, or to the error to report. */
  verify(blob: Buffer): Promise<SshError | null>;
}

/**
 * The file as last parsed, with the identity and size it had then: a run
 * connects to every node with the same file, and reading and parsing it once
 * per node is O(nodes²) (1000 nodes: 1000 reads of a 1000-line file, ~3 s of
 * the controller in the connect phase). A file that changed since (another
 * session's accept-new appended to it: its size grows) is read again.
 */
const parsed = new Map<string, { ino: number; size: number; mtimeMs: number; entries: KnownHostEntry[] }>();

async function readKnownHosts(path: string): Promise<KnownHostEntry[]> {
  try {
    const st = await stat(path);
    const last = parsed.get(path);
    if (last && last.ino === st.ino && last.size === st.size && last.mtimeMs === st.mtimeMs) return last.entries;
    const entries = parseKnownHosts(await readFile(path, 'utf8'));
    // the file as read may be newer than `st`: then the next check reads it again
    parsed.set(path, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, entries });
    return entries;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SshError('SSH_CONNECT', `cannot read known_hosts file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export async function prepareHostKeyCheck(nodeName: string, host: string, port: number, policy: HostKeyPolicy): Promise<HostKeyCheck> {
  const name = hostKeyName(host, port);
  const known = entriesFor(await readKnownHosts(policy.knownHostsPath), name);
  const preferred = [...new Set(known.filter((e) => e.marker === '').flatMap((e) => algorithmsForKeyType(e.keyType)))];
  const algorithms = [...preferred, ...DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a))];
  const where = `${nodeName} (${host}:${port})`;
  const file = policy.knownHostsPath;

  return {
    algorithms,
    async verify(blob) {
      const type = keyTypeOfBlob(blob);
      const fp = fingerprint(blob);
      if (known.some((e) => e.marker === '@revoked' && e.key.equals(blob))) {
        return new SshError('SSH_HOSTKEY_MISMATCH', `${where}: host key ${type} ${fp} is marked @revoked in ${file}`);
      }
      const plain = known.filter((e) => e.marker === '');
      if (plain.some((e) => e.key.equals(blob))) return null;
      if (plain.length > 0) {
        const old = plain.find((e) => e.keyType === type) ?? plain[0]!;
        return new SshError(
          'SSH_HOSTKEY_MISMATCH',
          [
            `REMOTE HOST IDENTIFICATION HAS CHANGED for ${where}!`,
            `The ${type} key sent by the host has fingerprint ${fp}.`,
            `${file}:${old.line} holds a different ${old.keyType} key for ${name}: ${fingerprint(old.key)}.`,
            'Someone could be eavesdropping (man-in-the-middle attack), or the host key was just changed.',
            `Connection refused. If the change is expected, remove the old key with: ssh-keygen -R '${name}' -f '${file}'`,
          ].join('\n'),
        );
      }
      switch (policy.mode) {
        case 'strict':
          return new SshError(
            'SSH_HOSTKEY_UNKNOWN',
            `${where}: host key is not known: no entry for ${name} in ${file}. ` +
              `The host offered ${type} ${fp}. Verify this fingerprint out of band, then accept it with ` +
              `--accept-new-host-keys (records it in ${file}), or add it yourself (ssh-keyscan -p ${port} ${host} >> '${file}').`,
          );
        case 'accept-new':
          try {
            await mkdir(dirname(file), { recursive: true, mode: 0o700 });
            // One small O_APPEND write per entry: concurrent sessions do not interleave lines.
            await appendFile(file, formatEntry(name, blob), { mode: 0o600 });
          } catch (err) {
            return new SshError('SSH_CONNECT', `${where}: cannot record the new host key in ${file}: ${(err as Error).message}`, {
              cause: err,
            });
          }
          return null;
        default: {
          const never: never = policy.mode;
          throw new Error(`unknown host key mode ${String(never)}`);
        }
      }
    },
  };
}
