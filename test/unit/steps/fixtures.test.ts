/**
 * Data-driven step tests (pyinfra style): every
 * test/fixtures/steps/<kind>/<case>.yaml maps {params, node?, facts} to the
 * exact changes `diff` returns (exec/upload/refuse/wait), or the error it
 * throws; and no secret appears in what a plan shows. Facts are real outputs
 * captured from test-bed nodes unless the fixture's comment says otherwise
 * (chkconfig/yum/dnf cases, some DRBD states).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { StepNode } from '../../../src/steps/contract.js';
import { builtinRegistry } from '../../../src/steps/builtin.js';

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
  for (const k of registry.kinds()) expect(kinds, `fixtures for kind ${k}`).toContain(k);
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
          for (const p of probes) expect(p.argv.length).toBeGreaterThan(0);
          const facts = Object.fromEntries(Object.entries(fx.facts ?? {}).map(([id, r]) => [id, { exitCode: r.exitCode ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' }]));
          return k.diff(params, facts, node);
        };
        if (fx.error !== undefined) {
          expect(run).toThrow(fx.error);
          return;
        }
        const changes = run();
        expect(changes).toEqual(fx.changes);
        // a secret never appears in what a plan shows (descriptions, diffs, reasons, non-secret commands)
        const sharedSecret = (fx.params as { shared_secret?: unknown }).shared_secret;
        const secrets = [...node.secrets, ...(typeof sharedSecret === 'string' ? [sharedSecret] : [])];
        for (const c of changes) {
          const shown =
            c.kind === 'upload' ? c.description + c.diff : c.kind === 'exec' ? c.description + (c.secret ? '' : c.argv.join(' ')) : c.kind === 'refuse' ? c.reason : c.description;
          for (const secret of secrets) expect(shown).not.toContain(secret);
        }
      });
    }
  });
}
