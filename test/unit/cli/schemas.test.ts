/** The JSON Schemas committed for editors (schemas/) are the ones the CLI generates now. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';

async function generated(what: 'inventory' | 'playbook'): Promise<string> {
  let out = '';
  const code = await main(['schema', what], {
    stdout: (s: string) => {
      out += s;
    },
    stderr: () => undefined,
  } as never);
  expect(code).toBe(0);
  return out;
}

describe('schemas/ for editors', () => {
  for (const what of ['inventory', 'playbook'] as const) {
    it(`schemas/${what}.schema.json is up to date (regenerate with \`npm run schemas\`)`, async () => {
      const committed = await readFile(new URL(`../../../schemas/${what}.schema.json`, import.meta.url), 'utf8');
      expect(JSON.parse(committed)).toEqual(JSON.parse(await generated(what)));
    });
  }
});
