/**
 * `ha-provision validate <inventory.yaml> [--playbook <file>] [--check-secrets] [--json]`
 *
 * Loads the inventory and its playbook, resolves every reference and checks
 * every step's parameters for every node. Opens no connection. Exit 0 when
 * valid, 2 when the input is invalid (all errors printed) or the usage is wrong.
 * Secrets are not read unless --check-secrets (then env vars must be set;
 * prompts are never asked).
 *
 * The files the inventory names are checked on this machine (../inventory/files.ts):
 * secret files exist and are owner-only, SSH key files exist and are
 * readable (errors); a strict host key policy with a missing known_hosts
 * file or no entry for a node is refused at connection (a warning, printed
 * with a "warning: " prefix; the exit code stays 0).
 */
import { homedir } from 'node:os';
import { parseArgs } from 'node:util';
import type { InputError } from '../inventory/errors.js';
import { formatInputError } from '../inventory/errors.js';
import { checkInventoryFiles, type FileCheckResult } from '../inventory/files.js';
import { dedupeErrors, loadInventory } from '../inventory/load.js';
import { loadProject, type StepRegistry } from '../playbook/resolve.js';
import { write, type CliIo } from './schema.js';

export const VALIDATE_USAGE = 'usage: ha-provision validate <inventory.yaml> [--playbook <file>] [--check-secrets] [--json]';

export interface ValidateDeps {
  registry: StepRegistry;
  env?: Record<string, string | undefined>;
  readFile?: (p: string) => Promise<string>;
  homeDir?: string;
  /** Relative paths are relative to this (default: the process's working directory). */
  cwd?: string;
}

interface ValidateArgs {
  inventory: string;
  playbook?: string;
  checkSecrets: boolean;
  json: boolean;
}

const OPTIONS = {
  playbook: { type: 'string', short: 'p' },
  'check-secrets': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** node:util parseArgs, not strict: its tokens let the messages name the argument as typed. */
function parseValidateArgs(args: readonly string[]): ValidateArgs | string {
  const { tokens } = parseArgs({ args: [...args], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const positional: string[] = [];
  let playbook: string | undefined;
  let checkSecrets = false;
  let json = false;
  for (const t of tokens) {
    if (t.kind === 'positional') positional.push(t.value);
    if (t.kind !== 'option') continue;
    if (t.name === 'playbook') {
      if (t.value === undefined) return `${t.rawName} needs a file`;
      playbook = t.value;
    } else if (t.name === 'check-secrets' && t.value === undefined) checkSecrets = true;
    else if (t.name === 'json' && t.value === undefined) json = true;
    else return `unknown option ${args[t.index]}`;
  }
  if (positional.length !== 1) return positional.length === 0 ? 'an inventory file is required' : `expected one inventory file, found ${positional.length}`;
  return { inventory: positional[0]!, ...(playbook !== undefined ? { playbook } : {}), checkSecrets, json };
}

export async function runValidate(args: readonly string[], io: CliIo, deps: ValidateDeps): Promise<number> {
  const parsed = parseValidateArgs(args);
  if (typeof parsed === 'string') {
    write(io.stderr, `ha-provision validate: ${parsed}\n${VALIDATE_USAGE}\n`);
    return 2;
  }
  const common = {
    ...(deps.readFile ? { readFile: deps.readFile } : {}),
    env: deps.env ?? {},
    secrets: parsed.checkSecrets ? ('resolve' as const) : ('skip' as const),
    ...(deps.homeDir ? { homeDir: deps.homeDir } : {}),
    ...(deps.cwd ? { cwd: deps.cwd } : {}),
  };

  // The files the inventory names (keys, secret files, known_hosts): checked once the inventory parses.
  const forFiles = await loadInventory({ path: parsed.inventory, ...common, secrets: 'skip' });
  const files: FileCheckResult = forFiles.ok
    ? await checkInventoryFiles(forFiles.value.raw, forFiles.value.source, { absPath: forFiles.value.absPath, homeDir: deps.homeDir ?? homedir() })
    : { errors: [], warnings: [] };
  const warnings = dedupeErrors(files.warnings);
  const warn = () => {
    if (!parsed.json) for (const w of warnings) write(io.stderr, `warning: ${formatInputError(w)}\n`);
  };

  const report = (found: readonly InputError[]): number => {
    // in the order found, then the files' (once: --check-secrets reads a secret file and reports it too)
    const seen = new Set<string>();
    const errors = [...found, ...files.errors].filter((e) => {
      const k = formatInputError(e);
      return !seen.has(k) && (seen.add(k), true);
    });
    if (parsed.json) write(io.stdout, `${JSON.stringify({ valid: false, errors, ...(warnings.length > 0 ? { warnings } : {}) }, null, 2)}\n`);
    else {
      for (const e of errors) write(io.stderr, `${formatInputError(e)}\n`);
      warn();
      const w = warnings.length > 0 ? `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : '';
      write(io.stderr, `${errors.length} error${errors.length === 1 ? '' : 's'}${w}\n`);
    }
    return 2;
  };
  const jsonWarnings = warnings.length > 0 ? { warnings } : {};

  // An inventory that names no playbook (and none given) is validated alone.
  if (parsed.playbook === undefined) {
    const inv = await loadInventory({ path: parsed.inventory, ...common });
    // An invalid inventory that names a playbook: loadProject below reports both files' errors.
    if (!inv.ok && !('playbook' in inv && inv.playbook !== undefined)) return report(inv.errors);
    if (inv.ok && inv.value.playbookPath === undefined) {
      if (files.errors.length > 0) return report([]);
      warn();
      const msg = `${parsed.inventory}: valid inventory (${inv.value.nodes.length} nodes; it names no playbook)`;
      write(io.stdout, parsed.json ? `${JSON.stringify({ valid: true, nodes: inv.value.nodes.length, steps: 0, ...jsonWarnings })}\n` : `${msg}\n`);
      return 0;
    }
  }
  const r = await loadProject({ inventoryPath: parsed.inventory, ...(parsed.playbook ? { playbookPath: parsed.playbook } : {}), registry: deps.registry, ...common });
  if (!r.ok) return report(r.errors);
  if (files.errors.length > 0) return report([]);
  const p = r.project;
  warn();
  if (parsed.json) {
    write(
      io.stdout,
      `${JSON.stringify({ valid: true, nodes: p.nodes.length, steps: p.steps.length, inventoryDigest: p.inventoryDigest, playbookDigest: p.playbookDigest, ...jsonWarnings })}\n`,
    );
  } else {
    write(io.stdout, `${parsed.inventory}: valid (${p.nodes.length} nodes: ${p.nodes.map((n) => n.name).join(', ')}; ${p.steps.length} steps)\n`);
  }
  return 0;
}
