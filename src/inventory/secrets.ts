/**
 * Reading the inventory's secrets: from the environment, a prompt (asked once
 * per place in the file) or an owner-only file. The one part of normalising
 * that reads anything; each problem becomes an InputError at the reference's
 * file:line:column, and the value read is '' then.
 */
import { readFile } from 'node:fs/promises';
import { formatPath, type InputError } from './errors.js';
import { inventoryFilePath, secretFileProblem, type FileCheckOptions } from './files.js';
import type { InventoryFile, NamedSecretRefFile, SecretRefFile } from './schema.js';
import { errorAt, type YamlSource } from './source.js';

export interface SecretSources {
  env: Record<string, string | undefined>;
  prompt?: (question: string) => Promise<string>;
  mode: 'resolve' | 'skip';
}

type Path = (string | number)[];

/**
 * Stands for every secret when secrets are not read ('skip', for validate):
 * non-empty, so parameter schemas that require a value still pass; never a
 * real credential, and never listed among the values to mask.
 */
export const SKIPPED_SECRET = '********';

/**
 * Stands for a named secret (`secrets:`) when secrets are not read: 256
 * characters, so that a key's length rule (corosync's authkey: 128-4096
 * bytes) passes in validate; never a real credential, never masked.
 */
export const SKIPPED_NAMED_SECRET = '*'.repeat(256);

export class SecretReader {
  /** One per reference that could not be read. */
  readonly errors: InputError[] = [];
  /** Some secret was replaced by its placeholder (mode 'skip'). */
  skipped = false;
  private readonly asked = new Map<string, string>();

  constructor(
    private readonly source: YamlSource,
    private readonly sources: SecretSources,
    private readonly files: FileCheckOptions,
  ) {}

  /** `{env: VAR}` or `{prompt: true}` at `at`; `what` names it in messages and the prompt. */
  async secret(ref: SecretRefFile, at: Path, what: string): Promise<string> {
    if (this.sources.mode === 'skip') {
      this.skipped = true;
      return SKIPPED_SECRET;
    }
    if (ref.env !== undefined) return this.fromEnv(ref.env, at, what);
    const key = formatPath(at);
    const cached = this.asked.get(key);
    if (cached !== undefined) return cached;
    if (!this.sources.prompt) {
      return this.missing(at, `expected to prompt for the ${what}, but no terminal is available (use {env: VAR} for unattended runs)`);
    }
    const v = await this.sources.prompt(`${what} (${key} in ${this.source.file}): `);
    this.asked.set(key, v);
    return v;
  }

  /** A named secret (`secrets.<name>`): env, prompt or file. */
  async named(ref: NamedSecretRefFile, at: Path, what: string): Promise<string> {
    if (this.sources.mode === 'skip') {
      this.skipped = true;
      return SKIPPED_NAMED_SECRET;
    }
    if (ref.file !== undefined) return this.fromFile(ref.file, [...at, 'file'], what);
    return this.secret(ref.env !== undefined ? { env: ref.env } : { prompt: true }, at, what);
  }

  private fromEnv(name: string, at: Path, what: string): string {
    const v = this.sources.env[name];
    if (v !== undefined && v !== '') return v;
    return this.missing([...at, 'env'], `expected environment variable ${name} to hold the ${what}, found it ${v === undefined ? 'unset' : 'empty'}`);
  }

  /** Owner-only, one trailing newline dropped; the same checks as `validate` (./files.ts), then the read. */
  private async fromFile(p: string, at: Path, what: string): Promise<string> {
    const abs = inventoryFilePath(p, this.files);
    const problem = await secretFileProblem(p, abs, what);
    if (problem !== undefined) return this.missing(at, problem);
    try {
      const v = (await readFile(abs, 'utf8')).replace(/\r?\n$/, '');
      if (v === '') this.missing(at, `expected ${p} to hold the ${what}, found it empty`);
      return v;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return this.missing(at, `expected ${p} to hold the ${what}, found ${code === 'ENOENT' ? 'no such file' : `it unreadable (${code ?? String(e)})`}`);
    }
  }

  private missing(at: Path, message: string): '' {
    this.errors.push(errorAt(this.source, at, 'INVENTORY_SECRET_MISSING', message));
    return '';
  }
}

export interface ClusterSecrets {
  /** `secrets:` by name. */
  named: Record<string, string>;
  /** The shared secret of `drbd[i]`, if it has one. */
  drbd: (string | undefined)[];
}

/** The cluster-wide secrets, in file order: `secrets:`, then each DRBD resource's shared secret. */
export async function readClusterSecrets(inv: InventoryFile, reader: SecretReader): Promise<ClusterSecrets> {
  const named: Record<string, string> = {};
  for (const [name, ref] of Object.entries(inv.secrets ?? {})) {
    named[name] = await reader.named(ref, ['secrets', name], `secret ${name}`);
  }
  const drbd: (string | undefined)[] = [];
  for (const [i, d] of (inv.drbd ?? []).entries()) {
    drbd.push(d.shared_secret ? await reader.secret(d.shared_secret, ['drbd', i, 'shared_secret'], `shared secret of DRBD resource ${d.name}`) : undefined);
  }
  return { named, drbd };
}
