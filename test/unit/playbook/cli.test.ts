/** `validate` and `schema` commands: exit codes and output, with injected streams. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSchema } from '../../../src/cli/schema.js';
import { runValidate } from '../../../src/cli/validate.js';
import { builtinRegistry } from '../../../src/steps/builtin.js';
import { testRegistry } from './test-registry.js';
import { sink } from '../../support/sink.js';

const repo = join(import.meta.dirname, '../../..');

async function run(fn: typeof runValidate | typeof runSchema, args: string[], registry = testRegistry()) {
  const out = sink();
  const err = sink();
  const code = await fn(args, { stdout: out.stream, stderr: err.stream }, { registry, cwd: repo, homeDir: '/home/test' });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('ha-provision validate', () => {
  it('the Kopano inventory and its playbook (kopano-drbd.yaml) are valid with the built-in step kinds', async () => {
    const r = await run(runValidate, ['inventory/kopano-bob-alice.yaml'], builtinRegistry());
    expect(r).toEqual({
      code: 0,
      stdout: 'inventory/kopano-bob-alice.yaml: valid (2 nodes: bob, alice; 25 steps)\n',
      // no known_hosts in the (test's) home directory: said, not an error (test/unit/cli/validate-files.test.ts)
      stderr:
        'warning: inventory/kopano-bob-alice.yaml:21:20 ssh.host_key_policy: the known_hosts file ~/.ssh/known_hosts (/home/test/.ssh/known_hosts) does not exist: ' +
        'with host_key_policy strict, every connection to bob, alice is refused (host key unknown) until the keys are recorded: ' +
        "check the fingerprints and run apply once with --accept-new-host-keys, or ssh-keyscan 192.168.122.25 >> '/home/test/.ssh/known_hosts'\n",
    });
  });

  // The lab inventory names the lab's key, secret and known_hosts under .state/lab/ (written by
  // `npm run lab`): validated with and without them in test/unit/cli/validate-files.test.ts.

  it('prints every error of both files and exits 2', async () => {
    const r = await run(runValidate, ['test/fixtures/inventory/projects/both-invalid/inventory.yaml']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'test/fixtures/inventory/projects/both-invalid/inventory.yaml:5:38 nodes.bob.ssh.port: expected an integer 1-65535, found 99999',
        'test/fixtures/inventory/projects/both-invalid/playbook.yaml:3:43 steps[0].colour: unknown key "colour"',
        '2 errors',
        '',
      ].join('\n'),
    );
  });

  it('--json prints the errors as data', async () => {
    const r = await run(runValidate, ['--json', 'test/fixtures/inventory/invalid/missing-defaults.yaml']);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { valid: boolean; errors: { code: string; line: number; column: number; path: string }[] };
    expect(out.valid).toBe(false);
    expect(out.errors.map((e) => [e.code, e.line, e.column, e.path])).toEqual([
      ['INVENTORY_RULE', 4, 10, 'nodes.bob.ssh'],
      ['INVENTORY_RULE', 4, 10, 'nodes.bob.ssh'],
      ['INVENTORY_RULE', 6, 10, 'nodes.alice.ssh'],
    ]);
  });

  it('an inventory that names no playbook is validated alone', async () => {
    const r = await run(runValidate, ['test/fixtures/inventory/valid/minimal.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('test/fixtures/inventory/valid/minimal.yaml: valid inventory (1 nodes; it names no playbook)\n');
    // the default policy (strict) with no ~/.ssh/known_hosts: said, at the node's ssh (the files are checked here too)
    expect(r.stderr).toMatch(
      /^warning: test\/fixtures\/inventory\/valid\/minimal\.yaml:5:10 nodes\.solo\.ssh: the known_hosts file ~\/\.ssh\/known_hosts \(\/home\/test\/\.ssh\/known_hosts\) does not exist: with host_key_policy strict, every connection to solo is refused/,
    );
  });

  it('--check-secrets reads env secrets and reports missing ones', async () => {
    const r = await run(runValidate, ['--check-secrets', 'test/fixtures/inventory/projects/ok-refs/inventory.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('drbd[0].shared_secret.env: expected environment variable R0_SECRET to hold the shared secret of DRBD resource r0, found it unset');
  });

  it('usage errors exit 2 with the usage line', async () => {
    for (const args of [[], ['a.yaml', 'b.yaml'], ['--nope', 'a.yaml'], ['a.yaml', '--playbook']]) {
      const r = await run(runValidate, args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/usage: ha-provision validate/);
    }
  });

  it('a missing file is reported, not thrown', async () => {
    const r = await run(runValidate, ['inventory/nope.yaml']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'inventory/nope.yaml:1:1 cannot read the file: no such file\n1 error\n' });
  });
});

describe('ha-provision schema', () => {
  it('inventory: a strict JSON Schema generated from the zod schema', async () => {
    const r = await run(runSchema, ['inventory']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { type: string; additionalProperties: boolean; required: string[]; properties: Record<string, { propertyNames?: { pattern: string } }> };
    expect(s.type).toBe('object');
    expect(s.additionalProperties).toBe(false);
    expect(s.required).toEqual(['cluster', 'nodes']);
    expect(Object.keys(s.properties)).toEqual(['cluster', 'playbook', 'settings', 'ssh', 'networks', 'nodes', 'vars', 'drbd', 'filesystems', 'vips', 'fencing', 'secrets']);
    expect(s.properties['nodes']!.propertyNames!.pattern).toBe('^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$');
  });

  it('playbook: step kinds come from the registry', async () => {
    const r = await run(runSchema, ['playbook']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { properties: { steps: { items: { properties: { kind: { enum: string[] } }; additionalProperties: boolean } } } };
    expect(s.properties.steps.items.properties.kind.enum).toEqual(testRegistry().kinds());
    expect(s.properties.steps.items.additionalProperties).toBe(false);
  });

  it('anything else is a usage error', async () => {
    const r = await run(runSchema, ['plan']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'usage: ha-provision schema inventory|playbook\n' });
  });
});
