/**
 * A fourth kind of change for step kinds whose target state arrives by
 * itself after a command (partition nodes appearing, DRBD connecting, the
 * initial sync): nothing to run, but the node is not yet as wanted. The
 * engine re-probes (and shows `description`/`progress`) until the diff is
 * empty, a real change appears, or the step times out. Nothing is run for it.
 *
 * A `wait` after exec changes in the same list means "run those, then poll".
 * (To be merged into contract.ts by the lead; kept here so this file owns it.)
 */
import type { Change, Facts, Probe, StepNode } from '../contract.js';
import type { z } from 'zod';

export interface WaitChange {
  kind: 'wait';
  description: string;
  /** 0..1 when known (e.g. DRBD resync "done:37.10" -> 0.371). */
  progress?: number;
}

export type StorageChange = Change | WaitChange;

/** Same as StepKind, but `diff` may return WaitChange too. */
export interface StorageStepKind<P = unknown> {
  kind: string;
  params: z.ZodType<P>;
  probes(params: P, node: StepNode): Probe[];
  diff(params: P, facts: Facts, node: StepNode): StorageChange[];
  verifiable?: boolean;
}

export function defineStorageStep<P>(kind: StorageStepKind<P>): StorageStepKind<unknown> {
  return kind as unknown as StorageStepKind<unknown>;
}

export function wait(description: string, progress?: number): WaitChange {
  return progress === undefined ? { kind: 'wait', description } : { kind: 'wait', description, progress };
}

export function refuse(reason: string): Change {
  return { kind: 'refuse', reason };
}

/** `sudo: true` spread, or nothing (keeps expected changes in fixtures short). */
export function sudoOf(sudo: boolean): { sudo?: true } {
  return sudo ? { sudo: true } : {};
}
