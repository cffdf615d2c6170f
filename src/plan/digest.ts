import { createHash } from 'node:crypto';
import { sha256 } from '../hash.js';
import type { Facts, Probe, ProbeResult } from '../steps/contract.js';
import { maskSecrets } from '../mask.js';
import type { ShownChange } from './types.js';

/**
 * Digest of a step's facts, the saved plan's staleness check: what the
 * step's decision depends on, not raw output. A probe that declares
 * `digest` contributes what that returns (its parsed, normalised reading:
 * no timestamps, counters, percentages); any other contributes its exit
 * code and output. Secrets are masked first so no secret-derived value
 * lands in a plan file.
 */
export function factsDigest(facts: Facts, secrets: readonly string[], probes: readonly Probe[] = []): string {
  const byId = new Map(probes.map((p) => [p.id, p]));
  const ids = Object.keys(facts).sort();
  const h = createHash('sha256');
  for (const id of ids) {
    const r = facts[id]!;
    const digest = byId.get(id)?.digest;
    const reading = digest ? ['digest', stableJson(digestOrError(digest, r))] : [r.exitCode, r.stdout, r.stderr];
    h.update(maskSecrets(JSON.stringify([id, ...reading]), secrets));
  }
  return h.digest('hex');
}

/** A reading that cannot be parsed is digested as its error (the diff fails the same way). */
function digestOrError(digest: (r: ProbeResult) => unknown, r: ProbeResult): unknown {
  try {
    return digest(r);
  } catch (err) {
    return { unreadable: (err as Error).message, exitCode: r.exitCode };
  }
}

export function changesDigest(changes: readonly ShownChange[]): string {
  return sha256(JSON.stringify(changes));
}

/** Stable digest of params (for the journal). */
export function paramsDigest(params: unknown): string {
  return sha256(stableJson(params));
}

/** JSON with sorted keys; Maps as sorted [key, value] lists, Sets as lists. */
export function stableJson(v: unknown): string {
  if (v instanceof Map) return stableJson([...v.entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0)));
  if (v instanceof Set) return stableJson([...v]);
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return '[' + v.map(stableJson).join(',') + ']';
  const o = v as Record<string, unknown>;
  return (
    '{' +
    Object.keys(o)
      .sort()
      .map((k) => JSON.stringify(k) + ':' + stableJson(o[k]))
      .join(',') +
    '}'
  );
}
