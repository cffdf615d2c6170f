/**
 * How a step kind is written: the one authoring surface of src/steps/kinds/.
 *
 *   export const myStep = defineStep({
 *     kind: 'my-kind',
 *     params: myParams,                                   // zod schema
 *     reads: (p) => [...], writes: (p) => [...],          // contract.ts RESOURCES
 *     probes: (p, node) => ({ file: fileContentProbe(p.path, p.sudo) }),
 *     diff(p, { file }, node) {                           // file: FileFact, parsed
 *       return file.state === 'absent' ? [upload(...)] : [];
 *     },
 *   });
 *
 * `probes` returns a record: its keys are the probe ids (the names of the
 * facts in plans, journals and fixtures; their order is the order the
 * probes run in), its values FactProbes, each a read-only command with the
 * parser of its result. `diff` receives the parsed facts under the same
 * keys, so a misspelt id is a type error; each is parsed when the diff
 * first reads it. A probe left `undefined` is not run and its fact is
 * `undefined`.
 *
 * The changes a diff returns are built with `exec`, `upload`, `carry`,
 * `refuse` and `wait` (or written as Change objects, see contract.ts). A
 * probe wrapped in `on(node, probe)` reads another node of the run.
 */
import type { z } from 'zod';
import { isNotInRun } from './contract.js';
import type { CarryChange, Change, ExecChange, Facts, FactProbe, Probe, ProbeResult, RefuseChange, StepKind, StepNode, UploadChange, WaitChange } from './contract.js';

export type { FactProbe };

export type ProbeSet = { readonly [id: string]: FactProbe<unknown> | undefined };

/** The parsed facts of a probe set, by probe id. */
export type FactsOf<S extends ProbeSet> = {
  -readonly [K in keyof S]: S[K] extends FactProbe<infer T> ? T : S[K] extends FactProbe<infer T> | undefined ? T | undefined : never;
};

export interface StepDefinition<P, S extends ProbeSet> {
  kind: string;
  params: z.ZodType<P>;
  probes(params: P, node: StepNode): S;
  diff(params: P, facts: FactsOf<S>, node: StepNode): Change[];
  /** See StepKind.reads in contract.ts. */
  reads?(params: P, node: StepNode): readonly string[] | undefined;
  /** See StepKind.writes in contract.ts. */
  writes?(params: P, node: StepNode): readonly string[] | undefined;
}

/**
 * The engine's view of a kind (contract.ts StepKind: probes as a list, raw
 * facts by id), its params type erased for the registry.
 */
export function defineStep<P, S extends ProbeSet>(def: StepDefinition<P, S>): StepKind<unknown> {
  const kind: StepKind<P> = {
    kind: def.kind,
    params: def.params,
    probes: (p, node) => engineProbes(def.probes(p, node)),
    diff: (p, facts, node) => def.diff(p, parseFacts(def.probes(p, node), facts), node),
    ...(def.reads ? { reads: def.reads } : {}),
    ...(def.writes ? { writes: def.writes } : {}),
  };
  return kind as unknown as StepKind<unknown>;
}

/** The engine's probe list of a probe set (ids from its keys, in order; undefined ones left out). */
export function engineProbes(set: ProbeSet): Probe[] {
  const out: Probe[] = [];
  for (const [id, p] of Object.entries(set)) {
    if (!p) continue;
    const digest = p.digest;
    out.push({
      id,
      argv: p.argv,
      ...(p.sudo ? { sudo: true } : {}),
      ...(p.node !== undefined ? { node: p.node } : {}),
      ...(p.node !== undefined && p.optional ? { optional: true } : {}),
      ...(digest ? { digest: (r: ProbeResult) => digest(r, id) } : {}),
    });
  }
  return out;
}

/**
 * Each fact parsed when the diff first reads it (then kept): a diff that
 * never looks at a probe's result (mkfs on a Primary does not read its
 * backing device's) does not fail on a result it would not understand.
 */
function parseFacts<S extends ProbeSet>(set: S, facts: Facts): FactsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [id, p] of Object.entries(set)) {
    let parsed: { value: unknown } | undefined;
    Object.defineProperty(out, id, {
      enumerable: true,
      get: () => (parsed ??= { value: p ? p.parse(fact(facts, id), id) : undefined }).value,
    });
  }
  return out as FactsOf<S>;
}

/** One raw result, failing loudly when the engine did not run a declared probe. */
function fact(facts: Facts, id: string): ProbeResult {
  const r = facts[id];
  if (!r) throw new Error(`missing fact "${id}"`);
  return r;
}

/** A probe whose fact is its raw result (exit code, stdout, stderr). */
export function commandProbe(argv: readonly string[], sudo?: boolean): FactProbe<ProbeResult> {
  return { argv, ...sudoOf(sudo ?? false), parse: (r) => r };
}

/** `sudo: true` spread for a probe or change, or nothing (keeps expected changes in fixtures short). */
export function sudoOf(sudo: boolean): { sudo?: true } {
  return sudo ? { sudo: true } : {};
}

/** Run a command on the node (argv, never a shell line unless argv says `sh -c`). */
export function exec(argv: readonly string[], description: string, opts: { sudo?: boolean; stdin?: string; secret?: boolean } = {}): ExecChange {
  return {
    kind: 'exec',
    argv,
    ...sudoOf(opts.sudo ?? false),
    description,
    ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
    ...(opts.secret ? { secret: true } : {}),
  };
}

/** Write a whole file. `diff`: unified diff before -> after, secrets already masked. */
export function upload(u: Omit<UploadChange, 'kind'>): UploadChange {
  return { kind: 'upload', ...u };
}

/** The same probe, run on another node of the run (contract.ts Probe.node). */
export function on<T>(node: string, probe: FactProbe<T>): FactProbe<T> {
  return { ...probe, node };
}

/**
 * The same probe on another node when that node is in this run, else
 * undefined without running it (contract.ts Probe.optional): for a step
 * that checks the other node when it can, and still runs under `--limit`.
 */
export function onIfInRun<T>(node: string, probe: FactProbe<T>): FactProbe<T | undefined> {
  const digest = probe.digest;
  return {
    ...probe,
    node,
    optional: true,
    parse: (r, id) => (isNotInRun(r) ? undefined : probe.parse(r, id)),
    ...(digest ? { digest: (r: ProbeResult, id: string) => (isNotInRun(r) ? null : digest(r, id)) } : {}),
  };
}

/** Copy a file from another node through the controller (contract.ts CarryChange); its content is never shown. */
export function carry(c: Omit<CarryChange, 'kind'>): CarryChange {
  return { kind: 'carry', ...c };
}

/** The step cannot bring the node to the wanted state safely: say why. */
export function refuse(reason: string): RefuseChange {
  return { kind: 'refuse', reason };
}

/** Nothing to run, the wanted state arrives by itself: the engine re-probes until it has (contract.ts WaitChange). */
export function wait(description: string, progress?: number): WaitChange {
  return progress === undefined ? { kind: 'wait', description } : { kind: 'wait', description, progress };
}
