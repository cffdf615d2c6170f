/**
 * Issue 11.6: `validate` checks what it can without a connection: secret
 * files exist and are owner-only, SSH key files exist and are readable,
 * known_hosts (missing, or no entry for a node under a strict policy: a
 * warning saying what apply will do), and the playbook's references resolve
 * for every node. Each problem names the inventory file, line, column and
 * key path. Nothing is contacted.
 */
import { chmod, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runValidate } from '../../../src/cli/validate.js';
import { builtinRegistry } from '../../../src/steps/builtin.js';
import { sink } from '../../support/sink.js';

const repo = join(import.meta.dirname, '../../..');
const KEY_LINE = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

let root: string;
let dir: string;
let n = 0;

async function validate(args: string[], cwd = dir) {
  const out = sink();
  const err = sink();
  const code = await runValidate(args, { stdout: out.stream, stderr: err.stream }, { registry: builtinRegistry(), cwd, homeDir: join(cwd, 'home') });
  const clean = (s: string) => s.split(cwd).join('<dir>');
  return { code, stdout: clean(out.text()), stderr: clean(err.text()) };
}

async function file(name: string, text: string, mode = 0o600) {
  const p = join(dir, name);
  await mkdir(join(p, '..'), { recursive: true });
  await writeFile(p, text);
  await chmod(p, mode);
}

const PLAYBOOK = 'name: p\nsteps:\n  - {id: marker, kind: command, with: {argv: [touch, /tmp/x], creates: /tmp/x}}\n';

/** An inventory of two nodes; `extra` is appended, `ssh` replaces the defaults' line. */
const inventory = (o: { ssh?: string; bob?: string; alice?: string; extra?: string } = {}) =>
  [
    'cluster: c',
    'playbook: playbook.yaml',
    o.ssh ?? 'ssh: {user: root, auth: {agent: true}, host_key_policy: accept-new}',
    'nodes:',
    `  bob: {ssh: {host: 192.0.2.10${o.bob ?? ''}}}`,
    `  alice: {ssh: {host: 192.0.2.11${o.alice ?? ''}}}`,
    o.extra ?? '',
  ].join('\n');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ha-validate-files-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  dir = join(root, String(++n));
  await mkdir(dir);
  await file('playbook.yaml', PLAYBOOK, 0o644);
});

describe('validate: secret files', () => {
  it('an owner-only, non-empty secret file is fine', async () => {
    await file('authkey', 'k'.repeat(200));
    await file('inv.yaml', inventory({ extra: 'secrets:\n  authkey: {file: authkey}\n' }), 0o644);
    expect(await validate(['inv.yaml'])).toEqual({ code: 0, stdout: 'inv.yaml: valid (2 nodes: bob, alice; 1 steps)\n', stderr: '' });
  });

  it('readable by group/others, missing, empty, a directory: each an error at its key, all at once', async () => {
    await file('open', 'k'.repeat(200), 0o644);
    await file('empty', '');
    await mkdir(join(dir, 'adir'));
    await file('inv.yaml', inventory({ extra: 'secrets:\n  a: {file: open}\n  b: {file: missing}\n  c: {file: empty}\n  d: {file: adir}\n' }), 0o644);
    const r = await validate(['inv.yaml']);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: [
        'inv.yaml:8:13 secrets.a.file: expected open (the secret a) to be readable by its owner only (mode 0600 or 0400), found mode 0644, readable by group/others: chmod 600 it',
        'inv.yaml:9:13 secrets.b.file: expected missing to hold the secret b, found no such file',
        'inv.yaml:10:13 secrets.c.file: expected empty to hold the secret c, found it empty',
        'inv.yaml:11:13 secrets.d.file: expected adir to be a file holding the secret d, found a directory',
        '4 errors',
        '',
      ].join('\n'),
    });
  });

  it('--check-secrets (which reads the file) reports the same problem once', async () => {
    await file('open', 'k'.repeat(200), 0o640);
    await file('inv.yaml', inventory({ extra: 'secrets:\n  a: {file: open}\n' }), 0o644);
    const r = await validate(['--check-secrets', 'inv.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'inv.yaml:8:13 secrets.a.file: expected open (the secret a) to be readable by its owner only (mode 0600 or 0400), found mode 0640, readable by group/others: chmod 600 it\n1 error\n',
    );
  });
});

describe('validate: SSH key files', () => {
  it('a missing key is an error where it is written (defaults or node), once; a key every node overrides is not checked', async () => {
    await file('keys/alice', 'KEY');
    await file(
      'inv.yaml',
      [
        'cluster: c',
        'playbook: playbook.yaml',
        'ssh: {user: root, auth: {key: keys/nope}, host_key_policy: accept-new}',
        'nodes:',
        '  bob: {ssh: {host: 192.0.2.10, auth: {key: ~/.ssh/id_missing}}}',
        '  alice: {ssh: {host: 192.0.2.11, auth: {key: keys/alice}}}',
        '  carol: {ssh: {host: 192.0.2.12}}',
        '  dave: {ssh: {host: 192.0.2.13}}',
        '',
      ].join('\n'),
      0o644,
    );
    const r = await validate(['inv.yaml']);
    expect(r.stderr).toBe(
      [
        'inv.yaml:3:31 ssh.auth.key: expected keys/nope (<dir>/keys/nope) to be a readable SSH private key file, found no such file',
        'inv.yaml:5:45 nodes.bob.ssh.auth.key: expected ~/.ssh/id_missing (<dir>/home/.ssh/id_missing) to be a readable SSH private key file, found no such file',
        '2 errors',
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(2);

    // every node has its own key: the default one is not used, so not checked
    await file(
      'inv2.yaml',
      inventory({ ssh: 'ssh: {user: root, auth: {key: keys/nope}, host_key_policy: accept-new}', bob: ', auth: {key: keys/alice}', alice: ', auth: {key: keys/alice}' }),
      0o644,
    );
    expect((await validate(['inv2.yaml'])).code).toBe(0);
  });

  it('a directory is an error; a key readable by group/others is a warning (exit 0)', async () => {
    await mkdir(join(dir, 'keydir'));
    await file('open_key', 'KEY', 0o644);
    await file('inv.yaml', inventory({ bob: ', auth: {key: keydir}', alice: ', auth: {key: open_key}' }), 0o644);
    let r = await validate(['inv.yaml']);
    expect(r.stderr).toBe(
      'inv.yaml:5:45 nodes.bob.ssh.auth.key: expected keydir (<dir>/keydir) to be an SSH private key file, found a directory\n' +
        'warning: inv.yaml:6:47 nodes.alice.ssh.auth.key: the SSH private key open_key (<dir>/open_key) is readable by group/others (mode 0644); expected owner-only (chmod 600): ssh(1) refuses such a key\n' +
        '1 error, 1 warning\n',
    );
    expect(r.code).toBe(2);
    await file('inv.yaml', inventory({ alice: ', auth: {key: open_key}' }), 0o644);
    r = await validate(['inv.yaml']);
    expect(r).toEqual({
      code: 0,
      stdout: 'inv.yaml: valid (2 nodes: bob, alice; 1 steps)\n',
      stderr:
        'warning: inv.yaml:6:47 nodes.alice.ssh.auth.key: the SSH private key open_key (<dir>/open_key) is readable by group/others (mode 0644); expected owner-only (chmod 600): ssh(1) refuses such a key\n',
    });
  });

  it('a jump host’s own key is checked too', async () => {
    await file('inv.yaml', inventory({ bob: ', jump: {host: 192.0.2.1, auth: {key: jump_key}}' }), 0o644);
    const r = await validate(['inv.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^inv\.yaml:5:\d+ nodes\.bob\.ssh\.jump\.auth\.key: expected jump_key \(<dir>\/jump_key\) to be a readable SSH private key file, found no such file\n1 error\n$/,
    );
  });
});

describe('validate: known_hosts', () => {
  it('strict and no known_hosts file: a warning at the policy saying what apply will do; accept-new: nothing to say', async () => {
    await file('inv.yaml', inventory({ ssh: 'ssh: {user: root, auth: {agent: true}, host_key_policy: strict}' }), 0o644);
    const r = await validate(['inv.yaml']);
    expect(r).toEqual({
      code: 0,
      stdout: 'inv.yaml: valid (2 nodes: bob, alice; 1 steps)\n',
      stderr:
        "warning: inv.yaml:3:57 ssh.host_key_policy: the known_hosts file ~/.ssh/known_hosts (<dir>/home/.ssh/known_hosts) does not exist: with host_key_policy strict, every connection to bob, alice is refused (host key unknown) until the keys are recorded: check the fingerprints and run apply once with --accept-new-host-keys, or ssh-keyscan 192.0.2.10 >> '<dir>/home/.ssh/known_hosts'\n",
    });
    await file('inv.yaml', inventory(), 0o644);
    expect(await validate(['inv.yaml'])).toEqual({ code: 0, stdout: 'inv.yaml: valid (2 nodes: bob, alice; 1 steps)\n', stderr: '' });
  });

  it('strict: a node without an entry is named (ports other than 22 as [host]:port); --json lists warnings apart', async () => {
    await file('kh', `[192.0.2.10]:2201 ssh-ed25519 ${KEY_LINE}\n`, 0o644);
    await file('inv.yaml', inventory({ ssh: 'ssh: {user: root, port: 2201, auth: {agent: true}, known_hosts: kh}' }), 0o644);
    const r = await validate(['inv.yaml']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      "warning: inv.yaml:3:65 ssh.known_hosts: no host key for [192.0.2.11]:2201 (node alice) in kh (<dir>/kh): with host_key_policy strict, the connection to alice is refused until its key is recorded (check the fingerprint and run apply once with --accept-new-host-keys, or ssh-keyscan -p 2201 192.0.2.11 >> '<dir>/kh')\n",
    );
    const j = await validate(['--json', 'inv.yaml']);
    const out = JSON.parse(j.stdout) as { valid: boolean; warnings: { path: string; line: number; code: string }[] };
    expect(j.stderr).toBe('');
    expect(out.valid).toBe(true);
    expect(out.warnings.map((w) => [w.path, w.line, w.code])).toEqual([['ssh.known_hosts', 3, 'INVENTORY_FILE']]);
  });

  it('a known_hosts path that is a directory is an error', async () => {
    await mkdir(join(dir, 'khdir'));
    await file('inv.yaml', inventory({ alice: ', known_hosts: khdir' }), 0o644);
    const r = await validate(['inv.yaml']);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: 'inv.yaml:6:48 nodes.alice.ssh.known_hosts: expected khdir (<dir>/khdir) to be a known_hosts file, found a directory\n1 error\n',
    });
  });
});

describe('validate: the lab inventory', () => {
  beforeEach(async () => {
    await mkdir(join(dir, 'inventory'));
    await cp(join(repo, 'inventory/lab.yaml'), join(dir, 'inventory/lab.yaml'));
    await cp(join(repo, 'playbooks'), join(dir, 'playbooks'), { recursive: true });
  });

  it('before the lab is up (no key, secret or known_hosts under .state/lab): exit 2, each named', async () => {
    const r = await validate(['inventory/lab.yaml']);
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^inventory\/lab\.yaml:\d+:\d+ ssh\.auth\.key: expected \.\.\/\.state\/lab\/id_ed25519 \(<dir>\/\.state\/lab\/id_ed25519\) to be a readable SSH private key file, found no such file$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^inventory\/lab\.yaml:\d+:\d+ secrets\.corosync_authkey\.file: expected \.\.\/\.state\/lab\/corosync-authkey to hold the secret corosync_authkey, found no such file$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^warning: inventory\/lab\.yaml:\d+:\d+ ssh\.known_hosts: the known_hosts file \.\.\/\.state\/lab\/known_hosts .* does not exist: with host_key_policy strict/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^inventory\/lab\.yaml:\d+:\d+ secrets\.fence_password\.file: expected \.\.\/\.state\/lab\/fence-password to hold the secret fence_password, found no such file$/,
      ),
    );
    expect(lines.at(-1)).toBe('3 errors, 1 warning');
  });

  it('once the lab has written them, valid with nothing to say', async () => {
    await file('.state/lab/id_ed25519', 'KEY');
    await file('.state/lab/corosync-authkey', 'k'.repeat(256));
    await file('.state/lab/fence-password', 'f'.repeat(32));
    await file('.state/lab/known_hosts', `[127.0.0.1]:2201 ssh-ed25519 ${KEY_LINE}\n[127.0.0.1]:2202 ssh-ed25519 ${KEY_LINE}\n`);
    const r = await validate(['inventory/lab.yaml']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^inventory\/lab\.yaml: valid \(2 nodes: bob, alice; \d+ steps\)\n$/);
  });
});

describe('validate: references resolve for every node; nothing is contacted', () => {
  let server: Server;
  let port: number;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, r)); // every local address
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it('a reference that fails on one node only is an error naming that node, at its line and key', async () => {
    await file(
      'inv.yaml',
      [
        'cluster: c',
        'playbook: playbook.yaml',
        `ssh: {user: root, port: ${port}, auth: {agent: true}, host_key_policy: strict}`,
        'networks:',
        '  replication: {cidr: 10.0.0.0/24}',
        'nodes:',
        '  bob:',
        '    ssh: {host: 127.0.0.1}',
        '    networks: {replication: {address: 10.0.0.1}}',
        '  alice:',
        '    ssh: {host: 127.0.0.2}',
        '',
      ].join('\n'),
      0o644,
    );
    await file(
      'playbook.yaml',
      'name: p\nsteps:\n  - id: addr\n    kind: file\n    with:\n      path: /etc/replication-address\n      content: !ref self.networks.replication.address\n',
      0o644,
    );
    const before = connections;
    const r = await validate(['inv.yaml']);
    expect(r.code).toBe(2);
    const errors = r.stderr.split('\n').filter((l) => !l.startsWith('warning: '));
    expect(errors[0]).toMatch(/^playbook\.yaml:7:21 steps\[0\]\.with\.content: .*replication.* \(for node alice\)$/);
    expect(errors[1]).toMatch(/^1 error/);
    expect(connections - before).toBe(0);
  });
});
