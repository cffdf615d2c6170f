/** SecretReader (src/inventory/secrets.ts): env, prompt once per place, owner-only files, skip; errors at the reference. */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatInputError } from '../../../src/inventory/errors.js';
import { Inventory } from '../../../src/inventory/schema.js';
import { readClusterSecrets, SecretReader, SKIPPED_NAMED_SECRET, SKIPPED_SECRET, type SecretSources } from '../../../src/inventory/secrets.js';
import { parseYamlSource } from '../../../src/inventory/source.js';

const TEXT = `cluster: lab
ssh: {user: root, auth: {password: {prompt: true}}}
nodes:
  bob: {ssh: {host: 127.0.0.1}, networks: {rep: {address: 10.0.0.1}}}
networks: {rep: {cidr: 10.0.0.0/24}}
secrets:
  authkey: {file: authkey}
  other: {env: HA_OTHER}
drbd:
  - {name: r0, minor: 0, port: 7788, network: rep, disk: /dev/sdb, nodes: {bob: {}}, shared_secret: {env: DRBD_SECRET}}
  - {name: r1, minor: 1, port: 7789, network: rep, disk: /dev/sdc, nodes: {bob: {}}}
`;

let dir: string;
const source = parseYamlSource('inv.yaml', TEXT).source;
const reader = (sources: Partial<SecretSources>) => new SecretReader(source, { env: {}, mode: 'resolve', ...sources }, { absPath: join(dir, 'inv.yaml'), homeDir: '/home/op' });

describe('SecretReader', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ha-secret-reader-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads an environment variable, and names an unset or empty one at the env key', async () => {
    const r = reader({ env: { HA_OTHER: 'v', EMPTY: '' } });
    expect(await r.secret({ env: 'HA_OTHER' }, ['secrets', 'other'], 'secret other')).toBe('v');
    expect(await r.secret({ env: 'EMPTY' }, ['secrets', 'other'], 'secret other')).toBe('');
    expect(await r.secret({ env: 'UNSET' }, ['secrets', 'other'], 'secret other')).toBe('');
    expect(r.errors.map(formatInputError)).toEqual([
      'inv.yaml:8:16 secrets.other.env: expected environment variable EMPTY to hold the secret other, found it empty',
      'inv.yaml:8:16 secrets.other.env: expected environment variable UNSET to hold the secret other, found it unset',
    ]);
    expect(r.skipped).toBe(false);
  });

  it('prompts once per place in the file, and refuses to prompt without a terminal', async () => {
    const asked: string[] = [];
    const r = reader({ prompt: async (q) => (asked.push(q), `typed-${asked.length}`) });
    const at = ['ssh', 'auth', 'password'];
    expect(await r.secret({ prompt: true }, at, 'SSH password')).toBe('typed-1');
    expect(await r.secret({ prompt: true }, at, 'SSH password')).toBe('typed-1');
    expect(await r.secret({ prompt: true }, ['nodes', 'bob', 'ssh', 'auth', 'password'], 'SSH password')).toBe('typed-2');
    expect(asked).toEqual(['SSH password (ssh.auth.password in inv.yaml): ', 'SSH password (nodes.bob.ssh.auth.password in inv.yaml): ']);
    const none = reader({});
    expect(await none.secret({ prompt: true }, at, 'SSH password')).toBe('');
    expect(none.errors.map((e) => `${e.path}: ${e.message}`)).toEqual(['ssh.auth.password: expected to prompt for the SSH password, but no terminal is available (use {env: VAR} for unattended runs)']);
  });

  it('reads a named secret from an owner-only file beside the inventory, one trailing newline dropped', async () => {
    await writeFile(join(dir, 'authkey'), 'key\n\n', { mode: 0o600 });
    await chmod(join(dir, 'authkey'), 0o600);
    const r = reader({});
    expect(await r.named({ file: 'authkey' }, ['secrets', 'authkey'], 'secret authkey')).toBe('key\n');
    await writeFile(join(dir, 'blank'), '\n', { mode: 0o600 });
    await chmod(join(dir, 'blank'), 0o600);
    expect(await r.named({ file: 'blank' }, ['secrets', 'authkey'], 'secret authkey')).toBe('');
    expect(await r.named({ file: 'missing' }, ['secrets', 'authkey'], 'secret authkey')).toBe('');
    expect(r.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'secrets.authkey.file: expected blank to hold the secret authkey, found it empty',
      'secrets.authkey.file: expected missing to hold the secret authkey, found no such file',
    ]);
  });

  it('skip mode reads nothing and returns the placeholders', async () => {
    const r = reader({ mode: 'skip', prompt: async () => expect.unreachable() });
    expect(await r.secret({ prompt: true }, ['ssh'], 'x')).toBe(SKIPPED_SECRET);
    expect(await r.named({ file: 'missing' }, ['secrets', 'authkey'], 'x')).toBe(SKIPPED_NAMED_SECRET);
    expect(r.errors).toEqual([]);
    expect(r.skipped).toBe(true);
  });
});

describe('readClusterSecrets', () => {
  it('reads `secrets:` by name and each DRBD resource shared secret by index', async () => {
    const inv = Inventory.parse(parseYamlSource('inv.yaml', TEXT).data);
    const r = new SecretReader(source, { env: { HA_OTHER: 'o', DRBD_SECRET: 's' }, mode: 'skip' }, { absPath: '/x/inv.yaml', homeDir: '/home/op' });
    expect(await readClusterSecrets(inv, r)).toEqual({ named: { authkey: SKIPPED_NAMED_SECRET, other: SKIPPED_NAMED_SECRET }, drbd: [SKIPPED_SECRET, undefined] });
    const read = new SecretReader(source, { env: { DRBD_SECRET: 's' }, mode: 'resolve' }, { absPath: '/x/inv.yaml', homeDir: '/home/op' });
    expect(await readClusterSecrets(inv, read)).toEqual({ named: { authkey: '', other: '' }, drbd: ['s', undefined] });
    expect(read.errors.map((e) => e.path)).toEqual(['secrets.authkey.file', 'secrets.other.env']);
  });
});
