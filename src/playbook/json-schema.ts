/** JSON Schemas of the user-written files, generated from the zod schemas (for editors). */
import { z } from 'zod';
import { Inventory } from '../inventory/schema.js';
import { Playbook, Step } from './schema.js';

const opts = { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' } as const;

export function inventoryJsonSchema(): Record<string, unknown> {
  return { title: 'ha-provision inventory', ...z.toJSONSchema(Inventory, opts) };
}

/** With `kinds`, `kind` is an enum of the registry's step kinds. */
export function playbookJsonSchema(kinds?: readonly string[]): Record<string, unknown> {
  const schema = kinds && kinds.length > 0 ? Playbook.extend({ steps: z.array(Step.extend({ kind: z.enum(kinds as [string, ...string[]]) })).min(1) }) : Playbook;
  return { title: 'ha-provision playbook', ...z.toJSONSchema(schema, opts) };
}
