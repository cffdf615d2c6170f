/** The plan as data: what apply would do, per node and step, secrets masked. */
import { z } from 'zod';

/**
 * ok: already right. change: these changes would run. pending: known only
 * after apply (an earlier change may alter what the step reads, or the step
 * cannot run before an earlier one is fixed: the changes shown are computed
 * from current facts and may differ). refused: the step kind refuses
 * (reason), and no earlier change can alter what it reads: apply would
 * refuse it too, so it stops before its first change. error: facts could
 * not be read. (src/plan/build.ts)
 */
export const planStatus = z.enum(['ok', 'change', 'pending', 'refused', 'error']);
export type PlanStatus = z.infer<typeof planStatus>;

/** A change as shown to people and stored in plan files: secrets masked, no file content. */
export const shownChange = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('exec'),
    argv: z.array(z.string()),
    sudo: z.boolean().optional(),
    stdin: z.boolean().optional(),
    description: z.string(),
  }),
  z.object({
    kind: z.literal('upload'),
    path: z.string(),
    mode: z.string(),
    owner: z.string(),
    group: z.string(),
    bytes: z.number(),
    sudo: z.boolean().optional(),
    description: z.string(),
    diff: z.string(),
  }),
  z.object({
    kind: z.literal('carry'),
    from: z.string(),
    source: z.string(),
    path: z.string(),
    mode: z.string(),
    owner: z.string(),
    group: z.string(),
    sudo: z.boolean().optional(),
    description: z.string(),
  }),
  z.object({ kind: z.literal('refuse'), reason: z.string() }),
  z.object({ kind: z.literal('wait'), description: z.string(), progress: z.number().optional() }),
]);
export type ShownChange = z.infer<typeof shownChange>;

export const planStep = z.object({
  id: z.string(),
  kind: z.string(),
  title: z.string(),
  status: planStatus,
  /** sha256 of the step's probe results (secrets masked before hashing). */
  factsDigest: z.string(),
  /** sha256 of `changes` as shown. */
  changesDigest: z.string(),
  changes: z.array(shownChange),
  reason: z.string().optional(),
});
export type PlanStep = z.infer<typeof planStep>;

export const planNode = z.object({
  name: z.string(),
  error: z.string().optional(),
  steps: z.array(planStep),
});
export type PlanNode = z.infer<typeof planNode>;

export const planSchema = z.object({
  format: z.literal('ha-provision/plan'),
  version: z.literal(1),
  createdAt: z.string(),
  inventoryPath: z.string(),
  playbookPath: z.string(),
  inventoryDigest: z.string(),
  playbookDigest: z.string(),
  /** --limit / --from in force when the plan was made. */
  limit: z.array(z.string()).optional(),
  from: z.string().optional(),
  nodes: z.array(planNode),
  /** sha256 over all of the above (src/plan/seal.ts): an edited plan is refused. */
  digest: z.string().optional(),
});
export type Plan = z.infer<typeof planSchema>;

export function planHasChanges(plan: Plan): boolean {
  return plan.nodes.some((n) => n.error !== undefined || n.steps.some((s) => s.status !== 'ok'));
}
