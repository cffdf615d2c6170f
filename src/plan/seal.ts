/**
 * A plan file's seal (issue 12.2): `digest` is the sha256 of all of the
 * plan's content but itself (canonical JSON: keys sorted), so an edited
 * description, diff, argv or status is found before anything runs; and each
 * step's `changesDigest` must still be the digest of the changes it shows.
 * This finds edits, not forgeries: whoever can write the plan file can
 * recompute the seal (keep plan files where only the operator can write).
 */
import { sha256 } from '../hash.js';
import { changesDigest, stableJson } from './digest.js';
import type { Plan } from './types.js';

export function planDigest(plan: Plan): string {
  const { digest: _ignored, ...content } = plan;
  return sha256(stableJson(content));
}

export function sealPlan(plan: Plan): Plan {
  const { digest: _ignored, ...content } = plan;
  return { ...content, digest: planDigest(plan) };
}

/** Why the plan is not as `plan` wrote it (empty: intact). */
export function planIntegrity(plan: Plan): string[] {
  if (plan.digest === undefined) return ['the plan has no digest (it was not written by this version of ha-provision): make a new plan'];
  if (plan.digest !== planDigest(plan)) return ['the plan file was edited after it was made (its digest does not match its content): make a new plan'];
  const reasons: string[] = [];
  for (const n of plan.nodes) {
    for (const s of n.steps) {
      if (changesDigest(s.changes) !== s.changesDigest) reasons.push(`step ${s.id} on ${n.name}: the changes shown were edited after the plan was made`);
    }
  }
  return reasons;
}
