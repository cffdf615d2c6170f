/**
 * The playbook file, as zod schemas (strict). Step parameters (`with:`) are
 * an open map here: they are checked per node against the kind's own schema
 * after inventory references are resolved (see resolve.ts).
 */
import { z } from 'zod';
import { expecting } from '../inventory/issues.js';
import { Duration } from '../inventory/schema.js';

export const StepId = z.string({ error: expecting('a step id') }).regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: expecting('a step id: lower-case letters, digits and "-"') });

/** `all`, `role:<name>`, `group:<name>`, or a list of node names. */
const TARGET = '"all", "role:<name>", "group:<name>" or a list of node names';
export const Target = z.union(
  [
    z.string().regex(/^(all|(role|group):[a-z][a-z0-9_-]{0,62})$/, { error: expecting(TARGET) }),
    z
      .array(z.string({ error: expecting('a node name') }).regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { error: expecting('a node name') }))
      .min(1, { error: expecting('at least one node name') }),
  ],
  { error: expecting(TARGET) },
);

export const Step = z.strictObject({
  id: StepId,
  kind: z.string({ error: expecting('a step kind') }).min(1, { error: expecting('a step kind') }),
  title: z
    .string({ error: expecting('a title') })
    .min(1, { error: expecting('a title') })
    .optional(),
  /** Default: all. */
  on: Target.optional(),
  /** Earlier steps that must be finished on all their nodes before this one starts anywhere. */
  wait_for: z.array(StepId, { error: expecting('a list of step ids') }).optional(),
  timeout: Duration.optional(),
  /** Parameters of the step kind; values may be `!ref <path>` or `!concat [...]`. */
  with: z.record(z.string(), z.unknown(), { error: expecting('a map of parameters') }).optional(),
});

export const Playbook = z.strictObject({
  name: z.string({ error: expecting('a playbook name') }).min(1, { error: expecting('a playbook name') }),
  description: z.string().optional(),
  steps: z.array(Step, { error: expecting('a list of steps') }).min(1, { error: expecting('at least one step') }),
});

export type PlaybookFile = z.infer<typeof Playbook>;
export type StepFile = z.infer<typeof Step>;
