import { createHash } from 'node:crypto';
import type { Facts } from '../steps/contract.js';
import { maskSecrets } from '../steps/mask.js';
import type { ShownChange } from './types.js';

export const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/** Digest of a step's facts; secrets masked first so no secret-derived value lands in a plan file. */
export function factsDigest(facts: Facts, secrets: readonly string[]): string {
  const ids = Object.keys(facts).sort();
  const h = createHash('sha256');
  for (const id of ids) {
    const r = facts[id]!;
    h.update(JSON.stringify([id, r.exitCode, maskSecrets(r.stdout, secrets), maskSecrets(r.stderr, secrets)]));
  }
  return h.digest('hex');
}

export function changesDigest(changes: readonly ShownChange[]): string {
  return sha256(JSON.stringify(changes));
}

/** Stable digest of params (for the journal). */
export function paramsDigest(params: unknown): string {
  return sha256(stableJson(params));
}

function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return '[' + v.map(stableJson).join(',') + ']';
  const o = v as Record<string, unknown>;
  return '{' + Object.keys(o).sort().map((k) => JSON.stringify(k) + ':' + stableJson(o[k])).join(',') + '}';
}
