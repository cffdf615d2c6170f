/** The inventory's top-level `secrets:` map: env, prompt, file (owner-only), skip, masking, !ref. */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatInputError } from '../../../src/inventory/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { SKIPPED_NAMED_SECRET } from '../../../src/inventory/secrets.js';
import { buildScope, resolveRef } from '../../../src/playbook/refs.js';

const KEY = 'k'.repeat(200);
let dir: string;

const inventory = (secrets: string) => `cluster: lab
ssh: {user: root, auth: {agent: true}}
nodes:
  bob: {ssh: {host: 127.0.0.1}}
secrets:
${secrets}
`;

async function load(secrets: string, opts: { env?: Record<string, string>; skip?: boolean; prompt?: (q: string) => Promise<string> } = {}) {
  const path = join(dir, 'inv.yaml');
  await writeFile(path, inventory(secrets));
  return loadInventory({ path, env: opts.env ?? {}, secrets: opts.skip ? 'skip' : 'resolve', homeDir: '/home/op', ...(opts.prompt ? { prompt: opts.prompt } : {}) });
}

describe('inventory secrets: map', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ha-named-secrets-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads env and prompt secrets, masks them, and exposes them as cluster.secrets.<name>', async () => {
    const asked: string[] = [];
    const r = await load('  corosync_authkey: {env: HA_KEY}\n  other: {prompt: true}', { env: { HA_KEY: KEY }, prompt: async (q) => (asked.push(q), 'typed-secret') });
    if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
    expect(r.value.cluster.secrets).toEqual({ corosync_authkey: KEY, other: 'typed-secret' });
    expect(asked).toEqual([`secret other (secrets.other in ${join(dir, 'inv.yaml')}): `]);
    expect(r.value.secrets).toEqual(expect.arrayContaining([KEY, 'typed-secret']));
    expect(r.value.nodes[0]!.secrets).toEqual(expect.arrayContaining([KEY, 'typed-secret']));
    const scope = buildScope(r.value.nodes, r.value.cluster);
    expect(resolveRef('cluster.secrets.corosync_authkey', 'bob', scope)).toEqual({ ok: true, value: KEY });
    const missing = resolveRef('cluster.secrets.nope', 'bob', scope);
    expect(missing.ok).toBe(false);
  });

  it('reads an owner-only file relative to the inventory, dropping one trailing newline', async () => {
    await writeFile(join(dir, 'key'), `${KEY}\n`, { mode: 0o600 });
    await chmod(join(dir, 'key'), 0o600);
    const r = await load('  corosync_authkey: {file: key}');
    if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
    expect(r.value.cluster.secrets).toEqual({ corosync_authkey: KEY });
    expect(r.value.secrets).toContain(KEY);
  });

  it('refuses a file readable by others, a missing file and an unset variable, naming the key', async () => {
    await writeFile(join(dir, 'open'), KEY);
    await chmod(join(dir, 'open'), 0o644);
    const r = await load('  a: {file: open}\n  b: {file: missing}\n  c: {env: HA_UNSET}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const msgs = r.errors.map((e) => `${e.path}: ${e.message}`);
    expect(msgs).toEqual([
      'secrets.a.file: expected open (the secret a) to be readable by its owner only (mode 0600 or 0400), found mode 0644, readable by group/others: chmod 600 it',
      'secrets.b.file: expected missing to hold the secret b, found no such file',
      'secrets.c.env: expected environment variable HA_UNSET to hold the secret c, found it unset',
    ]);
  });

  it('refuses a literal secret and two sources at once', async () => {
    const r = await load('  a: hunter2\n  b: {env: X, file: y}', { skip: true });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.path)).toEqual(['secrets.a', 'secrets.b']);
    expect(r.errors[1]!.message).toMatch(/exactly one of "env: VAR_NAME", "prompt: true" or "file: <path>"/);
  });

  it("with secrets: 'skip' reads nothing, asks nothing, and masks nothing", async () => {
    const r = await load('  corosync_authkey: {file: nowhere}\n  p: {prompt: true}', { skip: true, prompt: async () => { throw new Error('asked'); } });
    if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
    expect(r.value.cluster.secrets).toEqual({ corosync_authkey: SKIPPED_NAMED_SECRET, p: SKIPPED_NAMED_SECRET });
    expect(r.value.secrets).toEqual([]);
  });
});
