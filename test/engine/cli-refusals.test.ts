/**
 * Issue 4, "bad inventories are refused with the file, line and key", through
 * the BUILT CLI (no bed needed): exit code 2, each problem as
 * FILE:LINE:COLUMN: KEY.PATH: what was expected, and nothing contacted: the
 * nodes point at a loopback listener that counts connections, and it counts
 * none for a bad inventory (and at least one for the same inventory fixed,
 * so the count can fail).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ensureBuilt } from './bed-support.js';

let dir: string;
/** Two loopback listeners (one per node: addresses must be unique) that count connections and close them. */
let servers: Server[] = [];
let port: number;
let port2: number;
let connections = 0;

/** `LINE:COLUMN` (1-based) of `token` in the first line of `text` containing `lineHas`. */
function at(text: string, lineHas: string, token: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(lineHas));
  if (i < 0) throw new Error(`no line with ${lineHas}`);
  const col = lines[i]!.indexOf(token, lines[i]!.indexOf(lineHas));
  if (col < 0) throw new Error(`no ${token} on line ${i + 1}`);
  return `${i + 1}:${col + 1}`;
}

/** A two-node inventory whose nodes both point at the counting listener; `edit` breaks it. */
const inventory = (edit: (s: string) => string = (s) => s) =>
  edit(
    `cluster: c
playbook: playbook.yaml
settings: {step_timeout: 10s}
ssh:
  user: root
  auth: {key: ${join('KEYDIR', 'id_ed25519')}}
  known_hosts: ${join('KEYDIR', 'known_hosts')}
  host_key_policy: strict
nodes:
  bob:
    ssh: {host: 127.0.0.1, port: PORT}
    roles: [primary]
  alice:
    ssh: {host: 127.0.0.1, port: PORT2}
    groups: [storage]
`
      .replaceAll('KEYDIR', dir)
      .replaceAll('PORT2', String(port2))
      .replaceAll('PORT', String(port)),
  );

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('bad inventories through the built CLI', () => {
  beforeAll(async () => {
    ensureBuilt();
    dir = await mkdtemp(join(tmpdir(), 'ha-bed-invalid-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_ed25519')]);
    await write('known_hosts', '');
    await write('playbook.yaml', 'name: t\nsteps:\n  - id: touch\n    kind: command\n    with: {argv: [touch, /tmp/ha-bed-invalid-ran], creates: /tmp/ha-bed-invalid-ran}\n');
    const ports: number[] = [];
    for (let i = 0; i < 2; i++) {
      const server = createServer((sock) => {
        connections++;
        sock.destroy();
      });
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      ports.push((server.address() as { port: number }).port);
    }
    [port, port2] = ports as [number, number];
  }, 120_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    servers = [];
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cases: { name: string; edit: (s: string) => string; where: (text: string) => string; key: string; says: () => RegExp }[] = [
    {
      name: 'a typo in a key',
      edit: (s) => s.replace('    groups: [storage]', '    gropus: [storage]'),
      where: (t) => at(t, 'gropus', 'gropus'),
      key: 'nodes.alice.gropus',
      says: () => /unknown key "gropus" \(did you mean "groups"\?\)/,
    },
    {
      name: 'a port given as a string',
      edit: (s) => s.replace(/(bob:\n {4}ssh: \{host: 127\.0\.0\.1, port: )(\d+)/, '$1"$2"'),
      where: (t) => at(t, `port: "${port}"`, `"${port}"`),
      key: 'nodes.bob.ssh.port',
      says: () => new RegExp(`expected an integer 1-65535, found "${port}"`),
    },
    {
      name: 'two primaries',
      edit: (s) => s.replace('    groups: [storage]', '    roles: [primary]'),
      where: (t) =>
        at(t.slice(t.indexOf('alice:')), 'roles: [primary]', 'primary').replace(/^\d+/, (l) => String(Number(l) + t.slice(0, t.indexOf('alice:')).split('\n').length - 1)),
      key: 'nodes.alice.roles[0]',
      says: () => /at most one node with role "primary".*found bob, alice/,
    },
    {
      name: 'an address outside its network',
      edit: (s) =>
        s
          .replace('host_key_policy: strict\n', 'host_key_policy: strict\nnetworks:\n  lan: {cidr: 172.29.250.0/24}\n')
          .replace('    groups: [storage]', '    groups: [storage]\n    networks:\n      lan: {address: 172.29.251.11, interface: eth0}'),
      where: (t) => at(t, 'address: 172.29.251.11', '172.29.251.11'),
      key: 'nodes.alice.networks.lan.address',
      says: () => /expected an address inside 172\.29\.250\.0\/24 \(network lan\), found "172\.29\.251\.11"/,
    },
  ];

  for (const c of cases) {
    for (const cmd of ['plan', 'apply', 'validate'] as const) {
      it(`${c.name}: \`${cmd}\` exits 2 naming file:line:column and the key; nothing is contacted`, async () => {
        const text = inventory(c.edit);
        const file = await write(`bad-${cmd}.yaml`, text);
        const stateDir = join(dir, '.ha-provision');
        await rm(stateDir, { recursive: true, force: true });
        const before = connections;
        const r = await cli([cmd, file], dir);
        expect(r.code, r.stdout + r.stderr).toBe(2);
        const out = r.stdout + r.stderr;
        // plan/apply print `FILE:LINE:COL: KEY: message`, validate `FILE:LINE:COL KEY: message`
        const head = `${file}:${c.where(text)}`;
        const line = out.split('\n').find((l) => l.startsWith(`${head}: ${c.key}: `) || (cmd === 'validate' && l.startsWith(`${head} ${c.key}: `)));
        expect(line, `expected ${head}: ${c.key}: ... in\n${out}`).toBeDefined();
        expect(line).toMatch(c.says());
        if (cmd !== 'validate') expect(r.stderr).toContain('nothing was contacted');
        expect(out).not.toMatch(/ECONNREFUSED|ECONNRESET|connect|handshake|unreachable/i);
        expect(connections - before).toBe(0);
        expect(existsSync(stateDir), 'no state dir (no lock, journal or log) for a refused inventory').toBe(false);
      });
    }
  }

  it('several problems are all reported at once, in file order', async () => {
    const text = inventory((s) => s.replace('    groups: [storage]', '    gropus: [storage]').replace(/port: (\d+)\}\n {4}roles/, 'port: "$1"}\n    roles'));
    const file = await write('bad-several.yaml', text);
    const r = await cli(['plan', file], dir);
    expect(r.code).toBe(2);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith(`${file}:`));
    expect(errors.map((l) => l.split(': ')[0]!.slice(file.length + 1) + ' ' + l.split(': ')[1])).toEqual([
      `${at(text, `port: "${port}"`, `"${port}"`)} nodes.bob.ssh.port`,
      `${at(text, 'gropus', 'gropus')} nodes.alice.gropus`,
    ]);
    expect(r.stderr).toContain('2 error(s); nothing was contacted.');
    expect(connections).toBe(0);
  });

  it('the same inventory without the mistake does connect (the listener counts), and fails as unreachable, not as invalid', async () => {
    const file = await write('good.yaml', inventory());
    const before = connections;
    const r = await cli(['plan', file], dir);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(connections - before).toBeGreaterThanOrEqual(1);
    expect(r.stderr + r.stdout).not.toContain('nothing was contacted');
  });

  it('a plan of a bad inventory pointing at ports where nothing listens reports the validation error, not a connect error', async () => {
    // two ports that were free a moment ago (bound, then closed)
    const probes = [createServer(), createServer()];
    await Promise.all(probes.map((p) => new Promise<void>((r) => p.listen(0, '127.0.0.1', r))));
    const [d1, d2] = probes.map((p) => (p.address() as { port: number }).port) as [number, number];
    await Promise.all(probes.map((p) => new Promise((r) => p.close(r))));
    const dead = (s: string) => s.replace(`port: ${port}}`, `port: ${d1}}`).replace(`port: ${port2}}`, `port: ${d2}}`);
    const text = inventory((s) => dead(s).replace('    groups: [storage]', '    gropus: [storage]'));
    const file = await write('bad-dead-port.yaml', text);
    const r = await cli(['plan', file], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:${at(text, 'gropus', 'gropus')}: nodes.alice.gropus: unknown key`);
    expect(r.stderr + r.stdout).not.toMatch(/ECONNREFUSED|refused|unreachable/i);
    // and the fixed inventory at that port is a connect error, which looks different
    const fixed = await write('dead-port.yaml', inventory(dead));
    const r2 = await cli(['plan', fixed], dir);
    expect(r2.code).toBe(1);
    expect(r2.stdout + r2.stderr).toMatch(/ECONNREFUSED|refused|unreachable/i);
  });
});
