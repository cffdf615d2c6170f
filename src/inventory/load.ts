/** Inventory file -> validated, normalised model, or every error of the file. */
import { readFile as fsReadFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { sortInputErrors, type InputError } from './errors.js';
import { issueContext } from './issues.js';
import { normalizeInventory, type NormalizedInventory } from './normalize.js';
import { inventoryRules } from './rules.js';
import { Inventory, type InventoryFile } from './schema.js';
import { parseYamlSource, type YamlSource } from './source.js';

export type ReadFile = (p: string) => Promise<string>;

export interface LoadInventoryOptions {
  /** As given by the user; shown in messages. */
  path: string;
  readFile?: ReadFile;
  env?: Record<string, string | undefined>;
  prompt?: (question: string) => Promise<string>;
  /** 'skip': do not read secrets (validate). Default 'resolve'. */
  secrets?: 'resolve' | 'skip';
  homeDir?: string;
  /** Relative paths are relative to this (default: the process's working directory). */
  cwd?: string;
}

export interface LoadedInventory extends NormalizedInventory {
  /** As given. */
  file: string;
  absPath: string;
  digest: string;
  source: YamlSource;
  raw: InventoryFile;
}

export type Loaded<T> = { ok: true; value: T } | { ok: false; errors: InputError[] };

/** Reads a file; a missing or unreadable file is an InputError, not an exception. */
export async function readInput(file: string, readFile?: ReadFile, cwd?: string): Promise<Loaded<string>> {
  const read = readFile ?? ((p: string) => fsReadFile(path.resolve(cwd ?? process.cwd(), p), 'utf8'));
  try {
    return { ok: true, value: await read(file) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String((e as Error).message ?? e);
    return { ok: false, errors: [{ file, line: 1, column: 1, path: '', message: `cannot read the file: ${why}`, code: 'FILE_NOT_FOUND' }] };
  }
}

/** Same positions and message => one error (a rule may reach one spot twice). */
export function dedupeErrors(errors: readonly InputError[]): InputError[] {
  const seen = new Set<string>();
  return sortInputErrors(errors).filter((e) => {
    const k = `${e.file}\0${e.line}\0${e.column}\0${e.path}\0${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** On failure, `playbook` is what the file names under `playbook:` (as written), if readable, so its errors are reported too. */
export async function loadInventory(opts: LoadInventoryOptions): Promise<Loaded<LoadedInventory> | { ok: false; errors: InputError[]; playbook?: string }> {
  const text = await readInput(opts.path, opts.readFile, opts.cwd);
  if (!text.ok) return text;
  const parsed = parseYamlSource(opts.path, text.value);
  if (parsed.errors.length > 0) return { ok: false, errors: dedupeErrors(parsed.errors) };
  const { source } = parsed;
  if (parsed.data === null || parsed.data === undefined) {
    return { ok: false, errors: [{ file: opts.path, line: 1, column: 1, path: '', message: 'expected an inventory (a map with cluster, nodes, ...), found an empty file', code: 'INVENTORY_SCHEMA' }] };
  }
  const ctx = issueContext('INVENTORY');
  const result = Inventory.safeParse(parsed.data, { error: ctx.errorMap, reportInput: true });
  const named = (parsed.data as { playbook?: unknown }).playbook;
  const hint = typeof named === 'string' && named !== '' ? { playbook: named } : {};
  if (!result.success) return { ok: false, errors: dedupeErrors(ctx.toErrors(source, result.error.issues)), ...hint };
  const ruleErrors = inventoryRules(result.data, source);
  if (ruleErrors.length > 0) return { ok: false, errors: dedupeErrors(ruleErrors), ...hint };
  const absPath = path.resolve(opts.cwd ?? process.cwd(), opts.path);
  const norm = await normalizeInventory(result.data, source, {
    absPath,
    homeDir: opts.homeDir ?? homedir(),
    secrets: { env: opts.env ?? {}, mode: opts.secrets ?? 'resolve', ...(opts.prompt ? { prompt: opts.prompt } : {}) },
  });
  if (!norm.ok) return { ok: false, errors: dedupeErrors(norm.errors), ...hint };
  return { ok: true, value: { ...norm.value, file: opts.path, absPath, digest: source.digest, source, raw: result.data } };
}
