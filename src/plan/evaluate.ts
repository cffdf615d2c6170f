/** One step on one node, from facts to changes: pure. */
import type { Change, Facts, StepKind, StepNode } from '../steps/contract.js';

export type Evaluation =
  | { status: 'ok'; changes: [] }
  | { status: 'change'; changes: Change[] }
  | { status: 'refused'; changes: Change[]; reason: string }
  | { status: 'error'; changes: []; reason: string };

export function evaluate(kind: StepKind<unknown>, params: unknown, facts: Facts, node: StepNode): Evaluation {
  let changes: Change[];
  try {
    changes = kind.diff(params, facts, node);
  } catch (err) {
    return { status: 'error', changes: [], reason: (err as Error).message };
  }
  if (changes.length === 0) return { status: 'ok', changes: [] };
  const refusals = changes.filter((c) => c.kind === 'refuse');
  if (refusals.length > 0) return { status: 'refused', changes, reason: refusals.map((r) => (r.kind === 'refuse' ? r.reason : '')).join('; ') };
  return { status: 'change', changes };
}
