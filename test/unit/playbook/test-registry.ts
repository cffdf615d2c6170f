/**
 * A small registry of test step kinds, built here and injected into
 * loadProject (injection, not a mock: loadProject only reads `params`).
 */
import { z } from 'zod';
import type { StepRegistry } from '../../../src/playbook/resolve.js';

const kinds: Record<string, z.ZodType> = {
  note: z.strictObject({ text: z.string() }),
  hosts: z.strictObject({ entries: z.array(z.strictObject({ address: z.ipv4(), name: z.string() })).min(1) }),
  drbd: z.strictObject({
    name: z.string(),
    port: z.int().min(1).max(65535),
    peers: z.array(z.string()).min(2),
    self: z.ipv4().optional(),
    secret: z.string().optional(),
  }),
  lists: z.strictObject({ all: z.array(z.string()), peers: z.array(z.string()), weight: z.number().default(0) }),
};

export function testRegistry(): StepRegistry {
  return { get: (k) => (kinds[k] ? { params: kinds[k]! } : undefined), kinds: () => Object.keys(kinds) };
}
