/**
 * `ha-provision schema inventory|playbook`: prints the JSON Schema of a file
 * kind, for editors (yaml-language-server: `# yaml-language-server: $schema=<file>`).
 */
import type { Writable } from 'node:stream';
import { inventoryJsonSchema, playbookJsonSchema } from '../playbook/json-schema.js';
import type { StepRegistry } from '../playbook/resolve.js';

/** Output streams (or plain write functions), injected. */
export interface CliIo {
  stdout: Writable | ((s: string) => void);
  stderr: Writable | ((s: string) => void);
}

export function write(to: CliIo['stdout'], s: string): void {
  if (typeof to === 'function') to(s);
  else to.write(s);
}

export const SCHEMA_USAGE = 'usage: ha-provision schema inventory|playbook';

export async function runSchema(args: readonly string[], io: CliIo, deps: { registry?: StepRegistry } = {}): Promise<number> {
  const [what, ...rest] = args;
  if (rest.length > 0 || (what !== 'inventory' && what !== 'playbook')) {
    write(io.stderr, `${SCHEMA_USAGE}\n`);
    return 2;
  }
  const schema = what === 'inventory' ? inventoryJsonSchema() : playbookJsonSchema(deps.registry?.kinds());
  write(io.stdout, `${JSON.stringify(schema, null, 2)}\n`);
  return 0;
}
