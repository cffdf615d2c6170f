/**
 * The files an inventory names, checked on this machine without a
 * connection (issue 11.6): `validate` runs it; the run commands can too
 * (it needs only the parsed inventory, its source and its path).
 *
 *   secrets.<name>.file    exists, is a non-empty regular file readable by
 *                          us, and by its owner only (mode & 0o077 == 0)      error
 *   ...auth.key            exists, is a regular file, readable by us          error
 *                          readable by group/others (OpenSSH would refuse it) warning
 *   ...auth.agent: <path>  exists (a socket)                                  warning
 *   known_hosts            exists as a readable file, or is missing:          error if unreadable
 *                          with host_key_policy strict, a missing file or a
 *                          node without an entry is refused at connection    warning
 *                          (accept-new: a missing file is created, new keys
 *                          recorded: nothing to say)
 *
 * Only what the nodes use is checked (a default `ssh.auth` every node
 * overrides is not). Secret contents are never read here (`validate` reads
 * no secret unless --check-secrets).
 */
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { entriesFor, hostKeyName, parseKnownHosts } from '../ssh/known-hosts.js';
import { sortInputErrors, type InputError } from './errors.js';
import { effectiveJump } from './rules.js';
import type { AuthFile, InventoryFile } from './schema.js';
import { errorAt, type YamlSource } from './source.js';

export interface FileCheckOptions {
  /** Absolute path of the inventory file (relative paths in it are relative to its directory). */
  absPath: string;
  /** For `~`. */
  homeDir: string;
}

export interface FileCheckResult {
  errors: InputError[];
  /** Not errors: what will happen at connection time (a strict policy with no known key...). */
  warnings: InputError[];
}

type Path = (string | number)[];

/** `~`, `~/x` and relative paths, as normalize resolves them. */
export function inventoryFilePath(p: string, opts: FileCheckOptions): string {
  const expanded = p === '~' ? opts.homeDir : p.startsWith('~/') ? path.join(opts.homeDir, p.slice(2)) : p;
  return path.resolve(path.dirname(opts.absPath), expanded);
}

/** How a path reads in a message: as written, with where it resolved to when that differs. */
function shown(p: string, abs: string): string {
  return p === abs ? p : `${p} (${abs})`;
}

function modeOf(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'it unreadable (permission denied)' : `it unreadable (${code ?? String(e)})`;
}

/**
 * A named secret's file: the problem, if any, as a message (`p` as written,
 * `abs` resolved). Shared with normalize, which then reads it.
 */
export async function secretFileProblem(p: string, abs: string, what: string): Promise<string | undefined> {
  try {
    const st = await stat(abs);
    if (!st.isFile()) return `expected ${p} to be a file holding the ${what}, found ${st.isDirectory() ? 'a directory' : 'something else'}`;
    if ((st.mode & 0o077) !== 0) {
      return `expected ${p} (the ${what}) to be readable by its owner only (mode 0600 or 0400), found mode ${modeOf(st.mode)}, readable by group/others: chmod 600 it`;
    }
    await access(abs, constants.R_OK);
    if (st.size === 0) return `expected ${p} to hold the ${what}, found it empty`;
    return undefined;
  } catch (e) {
    return `expected ${p} to hold the ${what}, found ${errnoText(e)}`;
  }
}

export async function checkInventoryFiles(inv: InventoryFile, source: YamlSource, opts: FileCheckOptions): Promise<FileCheckResult> {
  const errors: InputError[] = [];
  const warnings: InputError[] = [];
  const abs = (p: string) => inventoryFilePath(p, opts);
  const names = Object.keys(inv.nodes);

  // Named secrets from files.
  for (const [name, ref] of Object.entries(inv.secrets ?? {})) {
    if (ref.file === undefined) continue;
    const problem = await secretFileProblem(ref.file, abs(ref.file), `secret ${name}`);
    if (problem !== undefined) errors.push(errorAt(source, ['secrets', name, 'file'], 'INVENTORY_SECRET_MISSING', problem));
  }

  // Authentication: every `auth` some node (or its jump) uses, once per place in the file.
  const auths = new Map<string, { auth: AuthFile; at: Path }>();
  const use = (auth: AuthFile | undefined, at: Path) => {
    if (auth !== undefined) auths.set(at.join('\0'), { auth, at });
  };
  for (const n of names) {
    const ssh = inv.nodes[n]!.ssh;
    use(ssh.auth ?? inv.ssh?.auth, ssh.auth ? ['nodes', n, 'ssh', 'auth'] : ['ssh', 'auth']);
    const jump = effectiveJump(inv, n);
    if (jump !== undefined && typeof jump !== 'string' && jump.auth !== undefined) {
      use(jump.auth, ssh.jump !== undefined ? ['nodes', n, 'ssh', 'jump', 'auth'] : ['ssh', 'jump', 'auth']);
    }
  }
  for (const { auth, at } of auths.values()) {
    if (auth.key !== undefined) {
      const a = abs(auth.key);
      const where = [...at, 'key'];
      try {
        const st = await stat(a);
        if (!st.isFile()) {
          errors.push(errorAt(source, where, 'INVENTORY_FILE', `expected ${shown(auth.key, a)} to be an SSH private key file, found ${st.isDirectory() ? 'a directory' : 'something else'}`));
          continue;
        }
        await access(a, constants.R_OK);
        if ((st.mode & 0o077) !== 0) {
          warnings.push(
            errorAt(source, where, 'INVENTORY_FILE', `the SSH private key ${shown(auth.key, a)} is readable by group/others (mode ${modeOf(st.mode)}); expected owner-only (chmod 600): ssh(1) refuses such a key`),
          );
        }
      } catch (e) {
        errors.push(errorAt(source, where, 'INVENTORY_FILE', `expected ${shown(auth.key, a)} to be a readable SSH private key file, found ${errnoText(e)}`));
      }
    }
    if (typeof auth.agent === 'string') {
      const a = abs(auth.agent);
      try {
        await stat(a);
      } catch (e) {
        warnings.push(
          errorAt(source, [...at, 'agent'], 'INVENTORY_FILE', `the SSH agent socket ${shown(auth.agent, a)} does not exist now (${errnoText(e)}): connections through it fail unless an agent listens there`),
        );
      }
    }
  }

  // known_hosts, per file: readable, and (strict) an entry for every node using it.
  const files = new Map<string, { written: string; at: Path | undefined; nodes: { name: string; host: string; port: number; strict: boolean; policyAt: Path | undefined }[] }>();
  for (const n of names) {
    const ssh = inv.nodes[n]!.ssh;
    const written = ssh.known_hosts ?? inv.ssh?.known_hosts ?? '~/.ssh/known_hosts';
    const at: Path | undefined = ssh.known_hosts !== undefined ? ['nodes', n, 'ssh', 'known_hosts'] : inv.ssh?.known_hosts !== undefined ? ['ssh', 'known_hosts'] : undefined;
    const policy = ssh.host_key_policy ?? inv.ssh?.host_key_policy ?? 'strict';
    const policyAt: Path | undefined = ssh.host_key_policy !== undefined ? ['nodes', n, 'ssh', 'host_key_policy'] : inv.ssh?.host_key_policy !== undefined ? ['ssh', 'host_key_policy'] : undefined;
    const a = abs(written);
    const f = files.get(a) ?? { written, at, nodes: [] };
    f.nodes.push({ name: n, host: ssh.host, port: ssh.port ?? inv.ssh?.port ?? 22, strict: policy === 'strict', policyAt });
    files.set(a, f);
  }
  for (const [a, f] of files) {
    const strict = f.nodes.filter((x) => x.strict);
    // Where to point: the known_hosts key as written, else the policy that makes it matter, else the node's ssh.
    const at = (node?: (typeof f.nodes)[number]): Path => f.at ?? node?.policyAt ?? (node ? ['nodes', node.name, 'ssh'] : ['ssh']);
    let text: string;
    try {
      const st = await stat(a);
      if (!st.isFile()) {
        errors.push(errorAt(source, at(f.nodes[0]), 'INVENTORY_FILE', `expected ${shown(f.written, a)} to be a known_hosts file, found ${st.isDirectory() ? 'a directory' : 'something else'}`));
        continue;
      }
      text = await readFile(a, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        errors.push(errorAt(source, at(f.nodes[0]), 'INVENTORY_FILE', `expected ${shown(f.written, a)} to be a readable known_hosts file, found ${errnoText(e)}`));
        continue;
      }
      if (strict.length === 0) continue; // accept-new creates it and records each key
      warnings.push(
        errorAt(
          source,
          at(strict[0]),
          'INVENTORY_FILE',
          `the known_hosts file ${shown(f.written, a)} does not exist: with host_key_policy strict, every connection to ${strict.map((x) => x.name).join(', ')} is refused (host key unknown) ` +
            `until the keys are recorded: check the fingerprints and run apply once with --accept-new-host-keys, or ssh-keyscan ${keyscan(strict[0]!)} >> '${a}'`,
        ),
      );
      continue;
    }
    const entries = parseKnownHosts(text);
    for (const x of strict) {
      const name = hostKeyName(x.host, x.port);
      if (entriesFor(entries, name).some((e) => e.marker === '')) continue;
      warnings.push(
        errorAt(
          source,
          at(x),
          'INVENTORY_FILE',
          `no host key for ${name} (node ${x.name}) in ${shown(f.written, a)}: with host_key_policy strict, the connection to ${x.name} is refused until its key is recorded ` +
            `(check the fingerprint and run apply once with --accept-new-host-keys, or ssh-keyscan ${keyscan(x)} >> '${a}')`,
        ),
      );
    }
  }
  return { errors: sortInputErrors(errors), warnings: sortInputErrors(warnings) };
}

function keyscan(x: { host: string; port: number }): string {
  return x.port === 22 ? x.host : `-p ${x.port} ${x.host}`;
}
