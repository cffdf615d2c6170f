/**
 * Data-driven step tests (pyinfra style): every
 * test/fixtures/steps/<kind>/<case>.yaml maps {params, facts} to the exact
 * changes `diff` returns (or the exact error it throws).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { StepNode } from '../../../src/steps/contract.js';
import { builtinRegistry } from '../../../src/steps/registry.js';

const root = join(import.meta.dirname, '../../fixtures/steps');
const registry = builtinRegistry();

interface Fixture {
  params: unknown;
  node?: Partial<StepNode>;
  /** Expected probe ids (in order); optional. */
  probes?: string[];
  facts: Record<string, { exitCode?: number; stdout?: string; stderr?: string }>;
  changes?: unknown[];
  /** Expected error (substring) thrown by params parsing or diff. */
  error?: string;
}

const kinds = readdirSync(root);
it('has fixtures for every built-in kind, and only for them', () => {
  for (const k of ['file', 'line', 'command']) expect(kinds, `fixtures for kind ${k}`).toContain(k);
  for (const k of kinds) expect(registry.get(k), `registered kind for fixtures ${k}`).toBeDefined();
});

for (const kind of kinds) {
  describe(kind, () => {
    const cases = readdirSync(join(root, kind)).filter((f) => f.endsWith('.yaml'));
    it('has cases', () => expect(cases.length).toBeGreaterThan(2));
    for (const file of cases) {
      it(file.replace(/\.yaml$/, ''), () => {
        const fx = parse(readFileSync(join(root, kind, file), 'utf8')) as Fixture;
        const k = registry.kind(kind);
        const node: StepNode = { name: 'bob', roles: [], groups: [], networks: {}, vars: {}, secrets: [], ...fx.node };
        const run = () => {
          const params = k.params.parse(fx.params);
          const probes = k.probes(params, node);
          if (fx.probes) expect(probes.map((p) => p.id)).toEqual(fx.probes);
          const facts = Object.fromEntries(
            Object.entries(fx.facts ?? {}).map(([id, r]) => [id, { exitCode: r.exitCode ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }]),
          );
          return k.diff(params, facts, node);
        };
        if (fx.error !== undefined) {
          expect(run).toThrow(fx.error);
          return;
        }
        expect(run()).toEqual(fx.changes);
      });
    }
  });
}
