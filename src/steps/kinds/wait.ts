/**
 * A fourth kind of change for step kinds whose target state arrives by
 * itself after a command (partition nodes appearing, DRBD connecting, the
 * initial sync): nothing to run, but the node is not yet as wanted. The
 * engine re-probes (and shows `description`/`progress`) until the diff is
 * empty, a real change appears, or the step times out. Nothing is run for it.
 *
 * A `wait` after exec changes in the same list means "run those, then poll".
 * The type now lives in contract.ts (merged by the engine); these are the
 * helpers the node/storage kinds share.
 */
import { defineStep, type Change, type StepKind, type WaitChange } from '../contract.js';

export type { WaitChange };
/** Kept as a name for the node/storage kinds; WaitChange is now part of Change in the contract. */
export type StorageChange = Change;
export type StorageStepKind<P = unknown> = StepKind<P>;

export function defineStorageStep<P>(kind: StepKind<P>): StepKind<unknown> {
  return defineStep(kind);
}

export function wait(description: string, progress?: number): WaitChange {
  return progress === undefined ? { kind: 'wait', description } : { kind: 'wait', description, progress };
}

export function refuse(reason: string): Change {
  return { kind: 'refuse', reason };
}

/** Defined in ../contract.ts, beside Probe and Change; re-exported for the kinds that import it from here. */
export { sudoOf } from '../contract.js';
