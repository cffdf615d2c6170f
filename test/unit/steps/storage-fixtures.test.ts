/**
 * Data-driven tests of the node and storage step kinds (same format as
 * fixtures.test.ts): test/fixtures/steps/<kind>/<case>.yaml maps
 * {params, node?, facts} to the exact changes (exec/upload/refuse/wait) or
 * the error. Facts are real outputs captured from a test-bed node unless
 * the fixture's comment says otherwise.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { StepNode } from '../../../src/steps/contract.js';
import { storageKinds } from './storage-kinds.js';

const root = join(import.meta.dirname, '../../fixtures/steps');

interface Fixture {
  params: unknown;
  node?: Partial<StepNode>;
  probes?: string[];
  facts: Record<string, { exitCode?: number; stdout?: string; stderr?: string }>;
  changes?: unknown[];
  error?: string;
}

for (const k of storageKinds) {
  describe(k.kind, () => {
    const dir = join(root, k.kind);
    const cases = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    it('has cases', () => expect(cases.length).toBeGreaterThan(2));
    for (const file of cases) {
      it(file.replace(/\.yaml$/, ''), () => {
        const fx = parse(readFileSync(join(dir, file), 'utf8')) as Fixture;
        const node: StepNode = { name: 'bob', roles: [], groups: [], networks: {}, vars: {}, secrets: [], ...fx.node };
        const run = () => {
          const params = k.params.parse(fx.params);
          const probes = k.probes(params, node);
          if (fx.probes) expect(probes.map((p) => p.id)).toEqual(fx.probes);
          for (const p of probes) expect(p.argv.length).toBeGreaterThan(0);
          const facts = Object.fromEntries(
            Object.entries(fx.facts ?? {}).map(([id, r]) => [id, { exitCode: r.exitCode ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }]),
          );
          return k.diff(params, facts, node);
        };
        if (fx.error !== undefined) {
          expect(run).toThrow(fx.error);
          return;
        }
        const changes = run();
        expect(changes).toEqual(fx.changes);
        // secrets never appear in what is shown (descriptions, diffs, reasons)
        const secrets = [...(node.secrets ?? []), ...((fx.params as { shared_secret?: string }).shared_secret ? [(fx.params as { shared_secret: string }).shared_secret] : [])];
        for (const c of changes) {
          const shown = JSON.stringify({ ...c, content: undefined, argv: undefined, stdin: undefined });
          for (const s of secrets) expect(shown).not.toContain(s);
        }
      });
    }
  });
}
