/**
 * One step on one node: facts -> diff -> (re-check) -> changes -> verify.
 * The same evaluate() as the plan; no dry-run flag anywhere.
 */
import { changesDigest, factsDigest } from '../plan/digest.js';
import { evaluate, type Evaluation } from '../plan/evaluate.js';
import { stepNode } from '../plan/select.js';
import { showChange } from '../plan/show.js';
import type { PlanStep, ShownChange } from '../plan/types.js';
import type { ResolvedStep } from '../playbook/resolve.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Change, ExecChange, Facts, Probe, StepKind, UploadChange, WaitChange } from '../steps/contract.js';
import { SshError, type Command } from '../ssh/types.js';
import { writeFileCommand } from '../ssh/write-file.js';
import { randomBytes } from 'node:crypto';
import { maskSecrets } from '../mask.js';
import { withRetry } from '../ssh/retry.js';
import type { StepOutcome } from './events.js';
import { toFacts } from './gather.js';
import type { PendingRead } from './fact-cache.js';
import { hasRemote, peerOf, probeAcross, type NodeLink, type Peers } from './link.js';

export interface StepRun {
  outcome: Extract<StepOutcome, 'ok' | 'changed' | 'failed'>;
  changes: ShownChange[];
  message?: string;
}

export interface StepContext {
  link: NodeLink;
  /** The other nodes' links: probes on another node (contract.ts Probe.node) and `carry` changes read through them. */
  peers?: Peers;
  step: ResolvedStep;
  kind: StepKind<unknown>;
  /** Facts read earlier in this run, if still valid (nothing changed since that may have altered them). */
  prefetched?: Facts | undefined;
  /**
   * The prefetched facts were read after this node's last change, moments ago
   * (with the verification of the step before): they count as the re-check
   * before a change.
   */
  recent?: boolean;
  /** The node's next step: its probes are read with this step's verification after a change, and handed to `store`. */
  next?: { step: string; probes: readonly Probe[]; begin: () => PendingRead };
  /**
   * Called after each batch of changes has run (or stopped), and before a
   * verification read on its own; `keep`: the next step's facts, read right
   * after the change in its round trip.
   */
  onChangesDone?: (keep?: PendingRead) => void;
  /** The saved plan's entry for this step (apply --plan). */
  planned?: PlanStep;
  timeoutMs: number;
  /** Called once before the first change is made. */
  onFirstChange?: () => void;
  retry: { tries: number; delayMs: number; sleep: (ms: number) => Promise<void> };
  onRetry?: (attempt: number, delayMs: number, error: string) => void;
  /** A `wait` change is being polled. */
  onProgress?: (description: string, progress?: number) => void;
  /** Polling of `wait` changes: first delay, growing x1.5 up to maxMs. */
  poll?: { initialMs: number; maxMs: number };
}

class StepFailure extends Error {}

function describe(changes: readonly ShownChange[]): string {
  return changes.map((c) => (c.kind === 'refuse' ? c.reason : c.description)).join('; ');
}

async function runOnce(ctx: StepContext, signal: AbortSignal): Promise<StepRun> {
  const { link, step, kind } = ctx;
  const node = link.node;
  const params = step.paramsByNode[node.name];
  const sn = stepNode(node);
  const mask = (s: string) => maskSecrets(s, node.secrets);
  const probes = kind.probes(params, sn);
  const peers: Peers = ctx.peers ?? (() => undefined);
  // probes on other nodes (if any) run on their links, in the same moment
  const remote = hasRemote(probes);
  const read = async (phase: 'probe' | 'verify') => toFacts(probes, await probeAcross(link, peers, probes, phase, step.id, signal));
  // the verification after real changes also reads the node's next step's facts, in the same round trip
  const verifyWithNext = async () => {
    const next = ctx.next;
    if (!next || next.probes.length === 0 || remote) return read('verify');
    const pending = next.begin();
    const [mine, theirs] = await link.probeGroups(
      [
        { probes, phase: 'verify', step: step.id },
        { probes: next.probes, phase: 'probe', step: next.step },
      ],
      signal,
    );
    pending.store(toFacts(next.probes, theirs!));
    return toFacts(probes, mine!);
  };
  // the last change, when it is a command or a file upload, runs in the same round trip as the
  // verification (and the next step's facts): the probes run after it, in the same shell script
  const changeThenVerify = async (c: ExecChange | UploadChange): Promise<Facts> => {
    const next = ctx.next && ctx.next.probes.length > 0 ? ctx.next : undefined;
    const pending = next?.begin();
    const cmd: Omit<Command, 'secrets'> =
      c.kind === 'exec'
        ? { argv: c.argv, ...(c.sudo ? { sudo: true } : {}), ...(c.stdin !== undefined ? { stdin: c.stdin } : {}) }
        : writeFileCommand(c.path, c.content, { mode: parseInt(c.mode, 8), owner: c.owner, group: c.group, sudo: c.sudo === true }, randomBytes(6).toString('hex'));
    let got;
    try {
      got = await link.changeThenProbe(
        cmd,
        step.id,
        [{ probes, phase: 'verify', step: step.id }, ...(next ? [{ probes: next.probes, phase: 'probe' as const, step: next.step }] : [])],
        signal,
        // a file's content is never logged; an upload was never told as a command
        c.kind === 'exec',
      );
    } finally {
      ctx.onChangesDone?.(pending);
    }
    const [res, mine, theirs] = got;
    if (res.exitCode !== 0) {
      throw new StepFailure(
        c.kind === 'exec' ? execFailure(c, res, node.secrets) : `writing ${c.path} failed (exit ${res.exitCode}): ${maskSecrets(res.stderr.trim(), node.secrets)}`,
      );
    }
    if (next && pending) pending.store(toFacts(next.probes, theirs!));
    return toFacts(probes, mine!);
  };

  let facts = ctx.prefetched ?? (await read('probe'));
  let ev: Evaluation = evaluate(kind, params, facts, sn);
  if (ev.status !== 'ok' && ctx.prefetched && !ctx.recent) {
    // re-check just before changing, refusing or failing: facts read at the start may be old
    // (e.g. a package another process was still installing then)
    facts = await read('probe');
    ev = evaluate(kind, params, facts, sn);
  }
  const shown = ev.changes.map((c) => showChange(c, node.secrets));
  const planned = ctx.planned;
  if (planned && planned.status !== 'pending') {
    const same = factsDigest(facts, node.secrets, probes) === planned.factsDigest && changesDigest(shown) === planned.changesDigest;
    if (!same) {
      if (ev.status === 'ok') return { outcome: 'ok', changes: [], message: 'no longer needed (facts changed since the plan)' };
      throw new StepFailure(`facts changed since the plan was made; not applying (now: ${mask(describe(shown)) || ev.status})`);
    }
  }
  switch (ev.status) {
    case 'ok':
      return { outcome: 'ok', changes: [] };
    case 'error':
      throw new StepFailure(mask(ev.reason));
    case 'refused':
      throw new StepFailure(`refused: ${mask(ev.reason)}`);
    case 'change':
      break;
  }
  // Run the real changes; `wait` changes poll until the diff is empty. After
  // real changes the diff must be empty or a wait ("inconsistent result
  // after apply" otherwise); after a wait, new real changes may appear.
  const done: ShownChange[] = [];
  let delay = ctx.poll?.initialMs ?? 500;
  let afterRealChanges = false;
  let verified: Facts | undefined;
  for (;;) {
    const real = ev.changes.filter((c) => c.kind !== 'wait');
    const waits = ev.changes.filter((c): c is WaitChange => c.kind === 'wait');
    if (real.length > 0) {
      if (afterRealChanges) {
        throw new StepFailure(`inconsistent result after apply: still ${describe(real.map((c) => showChange(c, node.secrets)))}`);
      }
      if (done.length === 0) ctx.onFirstChange?.();
      const last = real[real.length - 1]!;
      const together = waits.length === 0 && !remote && (last.kind === 'exec' || last.kind === 'upload') && batchable(last, node.secrets) ? last : undefined;
      try {
        for (const c of together ? real.slice(0, -1) : real) await execute(link, peers, step.id, c, signal);
      } finally {
        if (!together) ctx.onChangesDone?.();
      }
      if (together) verified = await changeThenVerify(together);
      done.push(...real.map((c) => showChange(c, node.secrets)));
      afterRealChanges = true;
    }
    if (waits.length > 0) {
      const w = waits[0]!;
      ctx.onProgress?.(mask(w.description), w.progress);
      await sleep(delay, undefined, { signal });
      delay = Math.min(ctx.poll?.maxMs ?? 5000, Math.round(delay * 1.5));
      afterRealChanges = false;
    }
    const after = verified ?? (real.length > 0 && waits.length === 0 ? await verifyWithNext() : await read('verify'));
    verified = undefined;
    ev = evaluate(kind, params, after, sn);
    switch (ev.status) {
      case 'ok':
        return done.length > 0 ? { outcome: 'changed', changes: done } : { outcome: 'ok', changes: [], message: `waited: ${mask(waits[0]?.description ?? '')}` };
      case 'error':
      case 'refused':
        throw new StepFailure(`inconsistent result after apply: now ${ev.status} (${mask(ev.reason)})`);
      case 'change':
        if (real.length > 0 && waits.length === 0 && ev.changes.every((c) => c.kind !== 'wait')) {
          throw new StepFailure(`inconsistent result after apply: still ${describe(ev.changes.map((c) => showChange(c, node.secrets)))}`);
        }
        continue;
    }
  }
}

/**
 * Whether a command or upload may run in one shell script with the probes
 * after it: no secret anywhere on the node (a batch's output is masked as a
 * whole, and probe results must be the real output), text stdin or content.
 */
function batchable(c: ExecChange | UploadChange, secrets: readonly string[]): boolean {
  const text = c.kind === 'exec' ? c.stdin : c.content;
  return c.secret !== true && secrets.length === 0 && (text === undefined || !text.includes('\0'));
}

function execFailure(c: ExecChange, r: { exitCode: number; stdout: string; stderr: string }, secrets: readonly string[]): string {
  const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | ');
  return `${maskSecrets(c.description, secrets)}: exit ${r.exitCode}${why ? `: ${why}` : ''}`;
}

async function execute(link: NodeLink, peers: Peers, stepId: string, c: Change, signal: AbortSignal): Promise<void> {
  switch (c.kind) {
    case 'exec': {
      const r = await link.exec({ argv: c.argv, ...(c.sudo ? { sudo: true } : {}), ...(c.stdin !== undefined ? { stdin: c.stdin } : {}) }, stepId, signal);
      if (r.exitCode !== 0) throw new StepFailure(execFailure(c, r, link.node.secrets));
      return;
    }
    case 'upload':
      await link.writeFile(c.path, c.content, { mode: parseInt(c.mode, 8), owner: c.owner, group: c.group, sudo: c.sudo === true });
      return;
    case 'carry': {
      // read there, written here: the content passes through this process only, never told
      let content: Buffer;
      try {
        content = await peerOf(peers, c.from, link.node.name).readFile(c.source, { sudo: c.sourceSudo === true }, stepId, signal);
      } catch (err) {
        if (err instanceof SshError) throw err; // a lost connection: retried from the probes
        throw new StepFailure(`${maskSecrets(c.description, link.node.secrets)}: ${(err as Error).message}`);
      }
      await link.writeFile(c.path, content, { mode: parseInt(c.mode, 8), owner: c.owner, group: c.group, sudo: c.sudo === true });
      return;
    }
    case 'refuse':
      throw new StepFailure(`refused: ${c.reason}`);
    case 'wait':
      return; // polled by the caller
  }
}

/**
 * Run the step; on a lost connection reconnect with backoff and start again
 * from the probes (a change that did happen is then seen as done): a change
 * is never re-run blindly.
 */
export async function runStep(ctx: StepContext): Promise<StepRun> {
  let prefetched = ctx.prefetched;
  let changeAttempted = false;
  let lastWait: string | undefined;
  const onProgress = (description: string, progress?: number) => {
    lastWait = description;
    ctx.onProgress?.(description, progress);
  };
  const onFirstChange = () => {
    if (!changeAttempted) ctx.onFirstChange?.();
    changeAttempted = true;
  };
  const mask = (err: unknown) => maskSecrets((err as Error)?.message ?? String(err), ctx.link.node.secrets);
  try {
    // the one backoff loop (ssh/retry.ts): only a lost connection is retried
    return await withRetry(
      async (attempt) => {
        if (attempt > 1) {
          await ctx.link.reset();
          prefetched = undefined; // re-probe: never re-run a change blindly
        }
        const signal = AbortSignal.timeout(ctx.timeoutMs);
        try {
          const r = await runOnce({ ...ctx, prefetched, recent: prefetched !== undefined && ctx.recent === true, onFirstChange, onProgress }, signal);
          if (attempt > 1 && changeAttempted && r.outcome === 'ok') {
            // the change was sent before the connection dropped; its effect is now seen
            return { outcome: 'changed', changes: [], message: 'connection lost during the change; after reconnecting, the checks show it done' };
          }
          return r;
        } catch (err) {
          if (err instanceof StepFailure) return { outcome: 'failed', changes: [], message: err.message };
          if (signal.aborted) {
            const waiting = lastWait === undefined ? '' : ` (still ${lastWait})`;
            return { outcome: 'failed', changes: [], message: `step timed out after ${ctx.timeoutMs} ms${waiting}` };
          }
          throw err;
        }
      },
      {
        tries: ctx.retry.tries,
        initialDelayMs: ctx.retry.delayMs,
        maxDelayMs: Number.POSITIVE_INFINITY,
        sleep: ctx.retry.sleep,
        onRetry: (err, attempt, delayMs) => ctx.onRetry?.(attempt, delayMs, mask(err)),
      },
    );
  } catch (err) {
    return { outcome: 'failed', changes: [], message: mask(err) };
  }
}
