/**
 * Facts read earlier in an apply run, per node and step, kept as long as no
 * change made since their read began may have altered them (issue 17.1).
 *
 * A change invalidates, by the kinds' declared resources (contract.ts
 * `reads`/`writes`, `mayAffect`): the facts of the steps whose reads its
 * writes may touch, on its own node, and on every node through a shared name
 * (drbd:, cib:, cluster:) or an undeclared side. It invalidates once when it
 * starts and once when its commands are done (a read that began while it ran
 * may have seen half of it). A read still under way when an invalidation
 * comes is dropped on arrival. A step that waited (a sync, a cluster, another
 * package manager) saw nodes change without this run changing them: after it
 * nothing read earlier is trusted (as before this cache).
 *
 * Two sources: the first gather (every step's facts, read before anything
 * changed: `recent` false, the step re-reads them just before a change), and
 * the facts of a node's next step read in the same round trip as the
 * verification of the step before it (`recent` true: read after this node's
 * last change, less than RECENT_MS ago; they count as the re-check).
 */
import { stepNode } from '../plan/select.js';
import type { ResolvedNode, ResolvedStep } from '../playbook/resolve.js';
import { mayAffect, type Facts } from '../steps/contract.js';
import type { StepKinds } from '../steps/registry.js';

/**
 * Facts read at most this long ago, after the node's last change, stand for
 * the re-check before a change. Between that read and the step, the node
 * only waits for the other nodes (strategy linear) and nothing of this run
 * touches it (a change elsewhere that may reach these facts drops them); the
 * bound is what guards against changes from outside the run. At 200 hosts a
 * step spans 1-2 s on the bench's 2 CPUs, and a 1 s bound re-read the facts
 * of ~3 of 10 steps on every node (bench/README.md); a step that takes longer
 * (a package install elsewhere) still has its facts read again.
 */
export const RECENT_MS = 5000;

/** Resource names of one node only (contract.ts RESOURCES): a path, dev:, unit:, pkgdb:, host:. */
const LOCAL = /^(\/|(dev|unit|pkgdb|host):)/;

interface Entry {
  facts?: Facts;
  valid: boolean;
  /** Read after the node's last change (the next step's facts, read with a verification). */
  afterChange: boolean;
  /** performance.now() when the read began. */
  readAt: number;
}

export interface PendingRead {
  readonly entry: object;
  store(facts: Facts): void;
}

export interface CachedFacts {
  facts: Facts;
  /** Read after the node's last change, less than RECENT_MS ago: no re-check is needed before changing. */
  recent: boolean;
}

export class FactCache {
  private readonly entries = new Map<string, Map<string, Entry>>();
  private readonly nodes: ReadonlyMap<string, ResolvedNode>;
  private readonly steps: ReadonlyMap<string, ResolvedStep>;
  private readonly readsMemo = new Map<string, readonly string[] | undefined>();
  /**
   * Per node, the steps whose reads another node's local writes may reach (undeclared, shared or
   * unknown forms); only nodes that have such steps: a local change visits these, not every node
   * (at 1000 nodes, visiting all of them for each of 20 000 calls was 2.6 s of a 27 s CPU profile).
   */
  private readonly open = new Map<string, Set<string>>();
  private disabled = false;

  constructor(
    nodes: readonly ResolvedNode[],
    steps: readonly ResolvedStep[],
    private readonly registry: StepKinds,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.nodes = new Map(nodes.map((n) => [n.name, n]));
    this.steps = new Map(steps.map((s) => [s.id, s]));
    for (const n of nodes) {
      this.entries.set(n.name, new Map());
      const open = new Set<string>();
      for (const s of steps) {
        if (!s.targets.includes(n.name)) continue;
        const reads = this.readsOf(n.name, s.id);
        if (reads === undefined || !reads.every((r) => LOCAL.test(r))) open.add(s.id);
      }
      if (open.size > 0) this.open.set(n.name, open);
    }
  }

  /** Facts of the first gather (read before any change). */
  seed(node: string, step: string, facts: Facts, readAt: number): void {
    if (this.disabled) return;
    this.entries.get(node)?.set(step, { facts, valid: true, afterChange: false, readAt });
  }

  /**
   * A read of `step`'s facts on `node` begins now, after the node's last change
   * (or in the same round trip right after it: pass the returned read to that
   * change's `changed` as `keep`); `store` what was read.
   */
  begin(node: string, step: string): PendingRead {
    const e: Entry = { valid: !this.disabled, afterChange: true, readAt: this.now() };
    this.entries.get(node)?.set(step, e);
    return {
      entry: e,
      store: (facts) => {
        if (e.valid) e.facts = facts;
      },
    };
  }

  /** Valid facts of `step` on `node`, if any (taken: each is used once). */
  take(node: string, step: string): CachedFacts | undefined {
    const m = this.entries.get(node);
    const e = m?.get(step);
    if (!e || !e.valid || !e.facts) return undefined;
    m!.delete(step);
    return { facts: e.facts, recent: e.afterChange && this.now() - e.readAt < RECENT_MS };
  }

  /**
   * `step` changed (or is about to change) `node`: drop the facts it may have
   * altered, but `keep` (read after the change, in its round trip).
   */
  changed(node: string, step: string, keep?: PendingRead): void {
    if (this.disabled) return;
    const writes = this.writesOf(node, step);
    // writes of this node's own files, devices, units, packages or name reach another
    // node's facts only where those reads are undeclared or not of these forms
    const local = writes !== undefined && writes.every((w) => LOCAL.test(w));
    const drop = (other: string, m: Map<string, Entry>, id: string, e: Entry) => {
      if (e === keep?.entry) return;
      if (mayAffect(writes, this.readsOf(other, id), other === node)) {
        e.valid = false;
        m.delete(id);
      }
    };
    if (local) {
      const own = this.entries.get(node);
      if (own) for (const [id, e] of own) drop(node, own, id, e);
      for (const [other, ids] of this.open) {
        const m = this.entries.get(other);
        if (other === node || !m) continue;
        for (const id of ids) {
          const e = m.get(id);
          if (e) drop(other, m, id, e);
        }
      }
      return;
    }
    for (const [other, m] of this.entries) for (const [id, e] of m) drop(other, m, id, e);
  }

  /** A step waited for the nodes to change by themselves: nothing read so far, or later in this run, is kept. */
  waited(): void {
    this.disabled = true;
    for (const m of this.entries.values()) {
      for (const e of m.values()) e.valid = false;
      m.clear();
    }
  }

  private writesOf(node: string, step: string): readonly string[] | undefined {
    const s = this.steps.get(step);
    const n = this.nodes.get(node);
    if (!s || !n) return undefined;
    try {
      return this.registry.kind(s.kind).writes?.(s.paramsByNode[node], stepNode(n));
    } catch {
      return undefined;
    }
  }

  private readsOf(node: string, step: string): readonly string[] | undefined {
    const key = `${node}\0${step}`;
    if (this.readsMemo.has(key)) return this.readsMemo.get(key);
    const s = this.steps.get(step);
    const n = this.nodes.get(node);
    let reads: readonly string[] | undefined;
    try {
      reads = s && n ? this.registry.kind(s.kind).reads?.(s.paramsByNode[node], stepNode(n)) : undefined;
    } catch {
      reads = undefined; // the step fails on its own; here it depends on anything
    }
    this.readsMemo.set(key, reads);
    return reads;
  }
}
