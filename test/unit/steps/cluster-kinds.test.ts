/**
 * Data-driven tests of the cluster step kinds (corosync, crm-configure), in
 * the same format as fixtures.test.ts: test/fixtures/steps/<kind>/<case>.yaml
 * maps {params, facts} to the exact changes (or the error). The facts are
 * real outputs captured on a two-node Pacemaker 2.1.5 / corosync 3.1.7 test
 * cluster (test/fixtures/steps/crm-configure/real/); each case says what
 * was edited. Runs until the kinds are in the built-in registry, then
 * fixtures.test.ts covers the same files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { StepNode } from '../../../src/steps/contract.js';
import { corosyncStep } from '../../../src/steps/kinds/corosync.js';
import { crmConfigureStep } from '../../../src/steps/kinds/crm-configure.js';

const root = join(import.meta.dirname, '../../fixtures/steps');
const kinds = { corosync: corosyncStep, 'crm-configure': crmConfigureStep };

interface Fixture {
  params: unknown;
  node?: Partial<StepNode>;
  probes?: string[];
  facts: Record<string, { exitCode?: number; stdout?: string; stderr?: string }>;
  changes?: unknown[];
  error?: string;
}

for (const [name, k] of Object.entries(kinds)) {
  describe(name, () => {
    const cases = readdirSync(join(root, name)).filter((f) => f.endsWith('.yaml'));
    it('has cases', () => expect(cases.length).toBeGreaterThan(5));
    for (const file of cases) {
      it(file.replace(/\.yaml$/, ''), () => {
        const fx = parse(readFileSync(join(root, name, file), 'utf8')) as Fixture;
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
        const changes = run();
        expect(changes).toEqual(fx.changes);
        // a secret never appears in what the plan shows
        for (const s of node.secrets) {
          for (const c of changes) {
            const shown = c.kind === 'upload' ? c.description + c.diff : c.kind === 'exec' ? c.description + c.argv.join(' ') : c.kind === 'refuse' ? c.reason : c.description;
            expect(shown).not.toContain(s);
          }
        }
      });
    }
  });
}
