/**
 * Playbook x inventory -> a validated Project (steps resolved per node).
 * Validation only: nothing here opens a connection.
 *
 * PUBLIC CONTRACT consumed by the engine (src/plan, src/run, src/cli/main.ts).
 */
import { homedir } from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import { didYouMean } from '../inventory/errors.js';
import { issueContext } from '../inventory/issues.js';
import { dedupeErrors, loadInventory, readInput, type LoadedInventory } from '../inventory/load.js';
import { durationMs } from '../inventory/model.js';
import { errorAt } from '../inventory/source.js';
import { parsePlaybook, type LoadedPlaybook } from './load.js';
import { buildScope, readParamTree, resolveTree, type DocPath } from './refs.js';
import type { StepFile } from './schema.js';
import type { InputError } from '../inventory/errors.js';
import type { ClusterModel, ProjectSettings, ResolvedNode } from '../inventory/types.js';

export type { InputError, InputErrorCode } from '../inventory/errors.js';
export type { ClusterModel, ClusterNetwork, DrbdHost, DrbdResource, FilesystemResource, NetworkAddress, ProjectSettings, ResolvedNode, VirtualIp } from '../inventory/types.js';

/** Which step kinds exist and their parameter schemas (injected; the engine owns the real one). */
export interface StepRegistry {
  get(kind: string): { params: z.ZodType } | undefined;
  kinds(): string[];
  /** Called with the kinds the playbook names before any `get` (a registry may load kinds lazily). */
  prepare?(kinds: readonly string[]): Promise<void>;
}

export interface ResolvedStep {
  /** Stable, unique, from the playbook ([a-z0-9-]). */
  id: string;
  kind: string;
  /** Human description; default `${kind} (${id})`. */
  title: string;
  /** Node names in inventory order, resolved from all / role:x / group:x / [names]. */
  targets: string[];
  /** Step ids that must be finished on ALL their targets first (barrier); always earlier steps. */
  waitFor: string[];
  /** Params with inventory references resolved per target node, validated with registry.get(kind).params (parsed output). */
  paramsByNode: Record<string, unknown>;
  timeoutMs?: number;
  source: { file: string; line: number; column: number };
}

export interface Project {
  inventoryPath: string;
  playbookPath: string;
  /** sha256 hex of the raw file bytes. */
  inventoryDigest: string;
  playbookDigest: string;
  cluster: ClusterModel;
  /** Inventory order. */
  nodes: ResolvedNode[];
  /** Playbook order. */
  steps: ResolvedStep[];
  settings: ProjectSettings;
  /** Union of every secret value (node + cluster) to mask in all output. */
  secrets: string[];
}

export interface LoadProjectOptions {
  inventoryPath: string;
  /** Default: the playbook the inventory names (relative to the inventory file). */
  playbookPath?: string;
  registry: StepRegistry;
  readFile?: (p: string) => Promise<string>;
  /** For passwords/secrets from env vars. Default: {} (nothing set). */
  env?: Record<string, string | undefined>;
  /**
   * Asks for a secret (`password: {prompt: true}`); the CLI supplies a hidden
   * TTY prompt. Called at most once per distinct question.
   */
  prompt?: (question: string) => Promise<string>;
  /**
   * 'resolve' (default): env vars must be set and prompts are asked.
   * 'skip': secrets are not read (validate): every secret is the placeholder
   *   '********' (SKIPPED_SECRET), listed in no `secrets` array.
   */
  secrets?: 'resolve' | 'skip';
  /** For `~` in paths and the default known_hosts. Default: os.homedir(). */
  homeDir?: string;
  /** Relative paths are relative to this (default: the process's working directory). Messages show paths as given. */
  cwd?: string;
}

export type LoadProjectResult = { ok: true; project: Project } | { ok: false; errors: InputError[] };

/**
 * Validation with no connection. Never throws for user errors: returns them all.
 * Secrets are read (env, prompt) only once both files are otherwise valid:
 * nobody is asked for a password to learn that the playbook has a typo.
 */
export async function loadProject(opts: LoadProjectOptions): Promise<LoadProjectResult> {
  if ((opts.secrets ?? 'resolve') === 'skip') return (await loadOnce({ ...opts, secrets: 'skip' })).result;
  const dry = await loadOnce({ ...opts, secrets: 'skip' });
  // No secret stood in by a placeholder: reading secrets would give the same project.
  if (!dry.result.ok || !dry.secretsSkipped) return dry.result;
  return (await loadOnce({ ...opts, secrets: 'resolve' })).result;
}

/** One pass; `secretsSkipped`: some secret of the inventory was replaced by its placeholder ('skip'). */
async function loadOnce(opts: LoadProjectOptions): Promise<{ result: LoadProjectResult; secretsSkipped: boolean }> {
  const fail = (errors: InputError[]) => ({ result: { ok: false as const, errors }, secretsSkipped: false });
  const inv = await loadInventory({
    path: opts.inventoryPath,
    ...(opts.readFile ? { readFile: opts.readFile } : {}),
    env: opts.env ?? {},
    ...(opts.prompt ? { prompt: opts.prompt } : {}),
    secrets: opts.secrets ?? 'resolve',
    homeDir: opts.homeDir ?? homedir(),
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  const named = inv.ok ? inv.value.raw.playbook : 'playbook' in inv ? inv.playbook : undefined;
  const playbookFile = opts.playbookPath ?? (named !== undefined ? displayPath(opts.inventoryPath, named) : undefined);
  if (!playbookFile) {
    if (!inv.ok) return fail(inv.errors);
    const at = errorAt(inv.value.source, [], 'INVENTORY_RULE', 'expected "playbook: <path>" in the inventory (or a playbook given on the command line), found none');
    return fail([at]);
  }
  const text = await readInput(playbookFile, opts.readFile, opts.cwd);
  const pb = text.ok ? parsePlaybook(playbookFile, text.value, opts.registry.kinds()) : text;
  if (!inv.ok || !pb.ok) return fail([...(inv.ok ? [] : inv.errors), ...(pb.ok ? [] : pb.errors)]);
  await opts.registry.prepare?.(pb.value.raw.steps.map((s) => s.kind));
  const steps = resolveSteps(inv.value, pb.value, opts.registry);
  if (!steps.ok) return fail(steps.errors);
  const i = inv.value;
  return {
    result: {
      ok: true,
      project: {
        inventoryPath: i.absPath,
        playbookPath: path.resolve(opts.cwd ?? process.cwd(), playbookFile),
        inventoryDigest: i.digest,
        playbookDigest: pb.value.digest,
        cluster: i.cluster,
        nodes: i.nodes,
        steps: steps.value,
        settings: i.settings,
        secrets: i.secrets,
      },
    },
    secretsSkipped: i.secretsSkipped,
  };
}

/** The playbook path as the user would write it: relative to the inventory's directory as given. */
function displayPath(inventoryPath: string, playbook: string): string {
  return path.isAbsolute(playbook) ? playbook : path.join(path.dirname(inventoryPath), playbook);
}

function targetsOf(step: StepFile, inv: LoadedInventory): { ok: true; names: string[] } | { ok: false; path: DocPath; message: string } {
  const all = inv.nodes.map((n) => n.name);
  const on = step.on ?? 'all';
  if (Array.isArray(on)) {
    for (const [j, name] of on.entries()) {
      if (!all.includes(name)) return { ok: false, path: ['on', j], message: `expected the name of a node, found "${name}"${didYouMean(name, all)} (nodes: ${all.join(', ')})` };
    }
    const dup = on.find((n, j) => on.indexOf(n) !== j);
    if (dup) return { ok: false, path: ['on'], message: `node "${dup}" is listed twice` };
    return { ok: true, names: all.filter((n) => on.includes(n)) };
  }
  if (on === 'all') return { ok: true, names: all };
  const [what, name] = on.split(':') as ['role' | 'group', string];
  const names = inv.nodes.filter((n) => (what === 'role' ? n.roles : n.groups).includes(name)).map((n) => n.name);
  if (names.length === 0) {
    const known = [...new Set(inv.nodes.flatMap((n) => (what === 'role' ? n.roles : n.groups)))];
    return {
      ok: false,
      path: ['on'],
      message: `no node has ${what} "${name}"${didYouMean(name, known)}${known.length ? ` (${what}s: ${known.join(', ')})` : ` (no node has any ${what})`}`,
    };
  }
  return { ok: true, names };
}

/** Targets, references and parameters, per step and per node. */
export function resolveSteps(inv: LoadedInventory, pb: LoadedPlaybook, registry: StepRegistry): { ok: true; value: ResolvedStep[] } | { ok: false; errors: InputError[] } {
  const errors: InputError[] = [];
  const scope = buildScope(inv.nodes, inv.cluster);
  const source = pb.source;
  const out: ResolvedStep[] = [];
  pb.raw.steps.forEach((step, i) => {
    const base: DocPath = ['steps', i];
    const t = targetsOf(step, inv);
    if (!t.ok) {
      errors.push(errorAt(source, [...base, ...t.path], 'PLAYBOOK_RULE', t.message));
      return;
    }
    const kind = registry.get(step.kind);
    if (!kind) return; // reported by the playbook rules
    const tree = readParamTree(source, [...base, 'with']);
    if (tree.problems.length > 0) {
      errors.push(...tree.problems.map((p) => errorAt(source, p.docPath, 'PLAYBOOK_REF', p.message)));
      return;
    }
    const paramsByNode: Record<string, unknown> = {};
    // Per node; a problem shared by every target is reported once without naming nodes.
    const problems = new Map<string, { error: InputError; nodes: string[] }>();
    const note = (error: InputError, node: string) => {
      const k = `${error.line}:${error.column} ${error.path}\0${error.message}`;
      const p = problems.get(k) ?? { error, nodes: [] };
      p.nodes.push(node);
      problems.set(k, p);
    };
    for (const node of t.names) {
      const r = resolveTree(tree.tree ?? {}, node, { ...scope, targets: t.names });
      for (const p of r.problems) note(errorAt(source, p.docPath, 'PLAYBOOK_REF', p.message), node);
      if (r.problems.length > 0) continue;
      const ctx = issueContext('PLAYBOOK');
      const parsed = kind.params.safeParse(
        withBecome(
          r.value ?? {},
          inv.nodes.find((n) => n.name === node),
          kind.params,
        ),
        { error: ctx.errorMap, reportInput: true },
      );
      if (parsed.success) {
        paramsByNode[node] = parsed.data;
        continue;
      }
      for (const e of ctx.toErrors(source, parsed.error.issues, [...base, 'with'])) {
        note({ ...e, code: e.code === 'PLAYBOOK_SCHEMA' ? 'PLAYBOOK_PARAMS' : e.code, message: paramMessage(e.message) }, node);
      }
    }
    for (const { error, nodes } of problems.values()) {
      const who = nodes.length === t.names.length ? '' : ` (for node${nodes.length > 1 ? 's' : ''} ${nodes.join(', ')})`;
      errors.push({ ...error, message: `${error.message}${who}` });
    }
    if (problems.size > 0) return;
    out.push({
      id: step.id,
      kind: step.kind,
      title: step.title ?? `${step.kind} (${step.id})`,
      targets: t.names,
      waitFor: [...(step.wait_for ?? [])],
      paramsByNode,
      ...(step.timeout !== undefined ? { timeoutMs: durationMs(step.timeout) } : {}),
      source: { file: source.file, ...positionOfStep(pb, i) },
    });
  });
  if (errors.length > 0) return { ok: false, errors: dedupeErrors(errors) };
  return { ok: true, value: out };
}

/**
 * `become` elevates: on a node whose inventory sets `ssh.become`, every step
 * whose kind takes a `sudo` parameter runs all its commands (probes, changes,
 * file writes, verification) elevated unless the step says `sudo: false`.
 * The inventory says how to elevate (and with which password); the step
 * only opts out.
 */
export function withBecome(value: unknown, node: ResolvedNode | undefined, params: z.ZodType): unknown {
  if (node?.endpoint.become === undefined || !takesSudo(params)) return value;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || 'sudo' in value) return value;
  return { ...value, sudo: true };
}

function takesSudo(schema: z.ZodType): boolean {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape !== undefined && Object.hasOwn(shape, 'sudo');
}

function positionOfStep(pb: LoadedPlaybook, i: number): { line: number; column: number } {
  const e = errorAt(pb.source, ['steps', i], 'PLAYBOOK_RULE', '');
  return { line: e.line, column: e.column };
}

/** Step kinds may phrase their own messages ("a non-empty argv array"): make them read "expected ...". */
function paramMessage(m: string): string {
  return /^(a|an|one|at) /.test(m) ? `expected ${m}` : m;
}
