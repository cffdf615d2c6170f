/**
 * The step contract (pyinfra/Terraform style).
 *
 * A step kind declares its parameters (zod), the read-only probes whose
 * results are its facts, and a PURE `diff` from (params, facts, node) to the
 * changes that would bring the node to the wanted state. An empty list means
 * "already right". Plan and apply run this one path: no step kind ever sees a
 * dry-run flag. After apply, the engine re-probes and `diff` must be empty.
 */
import type { z } from 'zod';

/** What a step kind may know about the node it runs on (no credentials). */
export interface StepNode {
  name: string;
  roles: readonly string[];
  groups: readonly string[];
  networks: Readonly<Record<string, { address: string; interface?: string; prefix?: number }>>;
  vars: Readonly<Record<string, unknown>>;
  /** Values to mask wherever they could appear (diffs, commands, logs). */
  secrets: readonly string[];
}

/** A read-only command. `id` names its result in the facts. */
export interface Probe {
  id: string;
  argv: readonly string[];
  sudo?: boolean;
  /**
   * What of the result the step's decision depends on, for a saved plan's
   * staleness check (src/plan/digest.ts): typically the probe's parsed
   * reading without timestamps, counters or progress. Absent: the exit code
   * and raw output.
   */
  digest?: (r: ProbeResult) => unknown;
}

export interface ProbeResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Probe results by probe id. */
export type Facts = Readonly<Record<string, ProbeResult>>;

export type Change = ExecChange | UploadChange | RefuseChange | WaitChange;

export interface ExecChange {
  kind: 'exec';
  argv: readonly string[];
  sudo?: boolean;
  description: string;
  stdin?: string;
  /** True when argv/stdin carry secret values: shown masked everywhere. */
  secret?: boolean;
}

export interface UploadChange {
  kind: 'upload';
  path: string;
  content: string;
  /** Octal string, e.g. "0644". */
  mode: string;
  owner: string;
  group: string;
  sudo?: boolean;
  description: string;
  /** Unified diff (before -> after), secrets already masked. */
  diff: string;
  secret?: boolean;
}

/**
 * Nothing to run, but the node is not yet as wanted: the state arrives by
 * itself (partition nodes appearing, DRBD connecting, a sync). The engine
 * runs the other changes listed before it, then re-probes (showing
 * `description`/`progress`) until the diff is empty, a real change appears,
 * or the step times out.
 */
export interface WaitChange {
  kind: 'wait';
  description: string;
  /** 0..1 when known. */
  progress?: number;
}

/** The step cannot bring the node to the wanted state safely. */
export interface RefuseChange {
  kind: 'refuse';
  reason: string;
}

export interface StepKind<P = unknown> {
  kind: string;
  params: z.ZodType<P>;
  probes(params: P, node: StepNode): Probe[];
  diff(params: P, facts: Facts, node: StepNode): Change[];
  /**
   * Paths whose state the probes read, for the plan's "known after apply"
   * rule. Absent (or undefined): the facts may depend on anything on the node.
   */
  reads?(params: P, node: StepNode): readonly string[] | undefined;
  /** Paths the changes may write. Absent (or undefined): the changes may affect anything on the node. */
  writes?(params: P, node: StepNode): readonly string[] | undefined;
  /**
   * False when the effect of the changes cannot be re-read by the probes
   * (the journal is then consulted on resume). All built-in kinds re-read.
   */
  verifiable?: boolean;
}

/** Erase the params type for storage in a registry. */
export function defineStep<P>(kind: StepKind<P>): StepKind<unknown> {
  return kind as unknown as StepKind<unknown>;
}

/** Read one fact, failing loudly when the kind asks for a probe it did not declare. */
export function fact(facts: Facts, id: string): ProbeResult {
  const r = facts[id];
  if (!r) throw new Error(`missing fact "${id}"`);
  return r;
}

/** Whether two absolute paths may touch the same thing (equal, or one inside the other). */
export function pathsOverlap(a: string, b: string): boolean {
  const norm = (p: string) => p.replace(/\/+$/, '') || '/';
  const x = norm(a);
  const y = norm(b);
  return x === y || x.startsWith(y === '/' ? '/' : y + '/') || y.startsWith(x === '/' ? '/' : x + '/');
}
