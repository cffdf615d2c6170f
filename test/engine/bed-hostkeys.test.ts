/**
 * Issue 4, "a host key mismatch is refused", on real test-bed nodes through
 * the BUILT CLI: bob's host keys are replaced (as a reinstalled server's, or a
 * man in the middle's) while the bed's known_hosts still holds the old ones.
 * plan and apply refuse bob with exit 1 and a message naming the node, the
 * known_hosts file and line, and both fingerprints; --accept-new-host-keys
 * does not override a CHANGED key; nothing ran on bob (no marker file, no
 * login in its sshd journal) while alice, whose key is right, was provisioned.
 * Then an unknown host (empty known_hosts): refused in strict mode with the
 * offered fingerprint, accepted and recorded with --accept-new-host-keys (the
 * recorded keys are the nodes' real ones), and a later strict run succeeds.
 *
 * The nodes' own host keys are read with `docker exec` (out of band, as an
 * admin would read them from a console), never over the connection under test.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import { bedInventory } from '../support/bed-inventory.js';
import { cli, ensureBuilt, json, type ApplyReport } from './bed-support.js';

const run = promisify(execFile);
const MARKER = '/root/ha-provision-hostkey-test';

let bed: Bed;
let dir: string;

async function onNode(name: string, line: string): Promise<string> {
  const { stdout } = await run('docker', ['exec', bed.node(name).containerId, 'sh', '-c', line]);
  return stdout.trim();
}

/** OpenSSH's SHA256 fingerprint of a base64 key blob. */
const fp = (b64: string) => `SHA256:${createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64').replace(/=+$/, '')}`;

/** The node's host keys (read out of band): key type -> fingerprint. */
async function hostKeysOf(name: string): Promise<Record<string, string>> {
  const out = await onNode(name, 'cat /etc/ssh/ssh_host_*_key.pub');
  return Object.fromEntries(
    out
      .split('\n')
      .map((l) => l.split(/\s+/))
      .map(([type, b64]) => [type!, fp(b64!)]),
  );
}
const fingerprintOf = async (name: string) => (await hostKeysOf(name))['ssh-ed25519']!;

/** An inventory for the bed (no DRBD: just the nodes) with this known_hosts file. */
async function writeInventory(file: string, knownHosts: string): Promise<string> {
  const doc = await bedInventory(bed, { dir });
  delete doc.drbd;
  delete doc.filesystems;
  (doc.ssh as Record<string, unknown>).known_hosts = knownHosts;
  (doc.settings as Record<string, unknown>).step_timeout = '30s';
  const path = join(dir, file);
  await writeFile(path, stringify({ ...doc, playbook: 'playbook.yaml' }));
  return path;
}

/** Logins sshd accepted on a node since a journal cursor. */
async function loginsSince(name: string, cursor: string): Promise<string[]> {
  const out = await onNode(name, `journalctl -q -o cat --after-cursor='${cursor}' _COMM=sshd-session _COMM=sshd | grep 'Accepted publickey' || true`);
  return out.split('\n').filter(Boolean);
}
const cursorOf = async (name: string) => (await onNode(name, 'journalctl -q -n0 --show-cursor')).replace(/^-- cursor: /, '');

describe('host keys on the test bed', () => {
  let inventory: string;
  let oldKeys: Record<string, string>;
  let newKeys: Record<string, string>;
  let cursor: string;

  beforeAll(async () => {
    ensureBuilt();
    bed = await startBed({ nodes: ['bob', 'alice'], diskSize: '16M' });
    dir = await mkdtemp(join(tmpdir(), 'ha-bed-hostkeys-'));
    await writeFile(
      join(dir, 'playbook.yaml'),
      `name: hostkeys
steps:
  - id: marker
    kind: command
    with:
      argv: [sh, -c, 'echo ran >> ${MARKER}']
      creates: ${MARKER}
`,
    );
    inventory = await writeInventory('inventory.yaml', bed.knownHostsPath);
    oldKeys = await hostKeysOf('bob');
    // bob gets new host keys; the bed's known_hosts keeps the old ones
    await onNode('bob', 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh');
    newKeys = await hostKeysOf('bob');
    cursor = await cursorOf('bob');
  }, 240_000);

  afterAll(async () => {
    await bed?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("bob really has a new key, and the bed's known_hosts still holds the old one", async () => {
    expect(Object.keys(newKeys).sort()).toEqual(Object.keys(oldKeys).sort());
    expect(Object.keys(newKeys)).toContain('ssh-ed25519');
    for (const [type, f] of Object.entries(newKeys)) {
      expect(f).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(f, type).not.toBe(oldKeys[type]);
    }
  });

  /** Bob's lines in the bed's known_hosts: 1-based line -> [type, fingerprint]. */
  async function bobLines(): Promise<Map<number, [string, string]>> {
    const lines = (await readFile(bed.knownHostsPath, 'utf8')).split('\n');
    const m = new Map<number, [string, string]>();
    lines.forEach((l, i) => {
      const [host, type, b64] = l.split(/\s+/);
      if (host === `[127.0.0.1]:${bed.node('bob').ssh.port}`) m.set(i + 1, [type!, fp(b64!)]);
    });
    expect([...m.values()].map(([, f]) => f).sort()).toEqual(Object.values(oldKeys).sort());
    return m;
  }

  /** Checks the mismatch text: the key bob sent is one of its new keys, the line named holds the old key of that type. */
  async function expectMismatch(text: string): Promise<void> {
    const port = bed.node('bob').ssh.port;
    expect(text).toContain(`REMOTE HOST IDENTIFICATION HAS CHANGED for bob (127.0.0.1:${port})!`);
    const sent = /The (\S+) key sent by the host has fingerprint (SHA256:\S+)\./.exec(text);
    expect(sent, text).not.toBeNull();
    const [, type, sentFp] = sent!;
    expect(sentFp).toBe(newKeys[type!]);
    const held = new RegExp(`${bed.knownHostsPath.replace(/[.]/g, '\\.')}:(\\d+) holds a different (\\S+) key for \\[127\\.0\\.0\\.1\\]:${port}: (SHA256:\\S+)\\.`).exec(text);
    expect(held, text).not.toBeNull();
    const [, line, heldType, heldFp] = held!;
    expect(heldType).toBe(type);
    expect((await bobLines()).get(Number(line))).toEqual([type, heldFp]);
    expect(heldFp).toBe(oldKeys[type!]);
  }

  for (const args of [['plan'], ['apply'], ['apply', '--accept-new-host-keys']]) {
    it(`\`${args.join(' ')}\` refuses bob with exit 1, naming the node, the known_hosts file:line and both fingerprints`, async () => {
      const known = await readFile(bed.knownHostsPath, 'utf8');
      const r = await cli([args[0]!, inventory, ...args.slice(1)], dir);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const out = r.stdout + r.stderr;
      await expectMismatch(out);
      expect(out).not.toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED for alice/);
      // known_hosts is left as it was (a changed key is never replaced, even with --accept-new-host-keys)
      expect(await readFile(bed.knownHostsPath, 'utf8')).toBe(known);
      // nothing ran on bob: no marker, no accepted login since its keys changed
      expect(await onNode('bob', `test -e ${MARKER} && echo present || echo absent`)).toBe('absent');
      expect(await loginsSince('bob', cursor)).toEqual([]);
    });
  }

  it('alice, whose key is right, was provisioned by the same apply; --json names bob unreachable with the mismatch', async () => {
    expect(await onNode('alice', `cat ${MARKER}`)).toBe('ran');
    const r = await cli(['apply', inventory, '--json'], dir);
    expect(r.code).toBe(1);
    const report = json<ApplyReport>(r);
    expect(report.unreachable.map((u) => u.node)).toEqual(['bob']);
    await expectMismatch(report.unreachable[0]!.error);
    expect(report.steps.filter((s) => s.node === 'bob' && s.changes.some((c) => c.kind === 'exec'))).toEqual([]);
    expect(await onNode('bob', `test -e ${MARKER} && echo present || echo absent`)).toBe('absent');
    // the refused connections did reach bob's sshd (the refusal is the client's, after the key exchange)
    expect(
      await onNode('bob', `journalctl -q -o cat --after-cursor='${cursor}' | grep -c -i 'Connection closed by\\|Received disconnect\\|kex\\|Connection reset' || true`),
    ).not.toBe('0');
  });

  describe('an unknown host', () => {
    let empty: string;
    let inv: string;

    beforeAll(async () => {
      empty = join(dir, 'known_hosts.new');
      await writeFile(empty, '');
      inv = await writeInventory('inventory-new.yaml', empty);
      await onNode('alice', `rm -f ${MARKER}`);
      cursor = await cursorOf('bob');
    });

    it('is refused in strict mode, with the fingerprint it offered and how to accept it; nothing ran', async () => {
      const r = await cli(['apply', inv], dir);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const out = r.stdout + r.stderr;
      for (const name of ['bob', 'alice']) {
        const port = bed.node(name).ssh.port;
        expect(out).toContain(`${name} (127.0.0.1:${port}): host key is not known: no entry for [127.0.0.1]:${port} in ${empty}.`);
        expect(out).toContain(`The host offered ssh-ed25519 ${await fingerprintOf(name)}.`);
        expect(await onNode(name, `test -e ${MARKER} && echo present || echo absent`)).toBe('absent');
      }
      expect(out).toContain('--accept-new-host-keys');
      expect(await readFile(empty, 'utf8')).toBe('');
      expect(await loginsSince('bob', cursor)).toEqual([]);
    });

    it("is accepted and recorded with --accept-new-host-keys: the recorded keys are the nodes' real keys", async () => {
      const r = await cli(['apply', inv, '--accept-new-host-keys'], dir);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const lines = (await readFile(empty, 'utf8')).split('\n').filter(Boolean).sort();
      const expected = await Promise.all(
        ['bob', 'alice'].map(
          async (name) => `[127.0.0.1]:${bed.node(name).ssh.port} ${(await onNode(name, 'cat /etc/ssh/ssh_host_ed25519_key.pub')).split(/\s+/).slice(0, 2).join(' ')}`,
        ),
      );
      expect(lines).toEqual(expected.sort());
      for (const name of ['bob', 'alice']) expect(await onNode(name, `cat ${MARKER}`)).toBe('ran');
      expect(await loginsSince('bob', cursor)).toHaveLength(1);
    });

    it('a later run in strict mode succeeds with the recorded keys and changes nothing', async () => {
      const before = await readFile(empty, 'utf8');
      const r = await cli(['apply', inv, '--detailed-exitcode'], dir);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(await readFile(empty, 'utf8')).toBe(before);
      for (const name of ['bob', 'alice']) expect(await onNode(name, `cat ${MARKER}`)).toBe('ran');
    });
  });
});
