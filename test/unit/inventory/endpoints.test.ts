/** endpointBuilder (src/inventory/endpoints.ts): ssh settings over the defaults, passwords from a stand-in reader, jump chains. */
import { describe, expect, it } from 'vitest';
import { endpointBuilder, type SecretRead } from '../../../src/inventory/endpoints.js';
import { Inventory, type InventoryFile } from '../../../src/inventory/schema.js';
import { parseYamlSource } from '../../../src/inventory/source.js';

function inventory(text: string): InventoryFile {
  return Inventory.parse(parseYamlSource('inv.yaml', text).data);
}

/** Answers `<path>=<what>`, and records what it was asked, in order. */
function fakeRead(): SecretRead & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    secret: async (_ref, at, what) => {
      asked.push(at.join('.'));
      return `${at.join('.')}=${what}`;
    },
  };
}

const file = (p: string) => `/abs/${p}`;

describe('endpointBuilder', () => {
  it('applies the defaults under the node settings: user, port, key auth with its passphrase variable, become', async () => {
    const inv = inventory(`cluster: c
ssh: {user: root, port: 2222, auth: {key: id_ed25519, passphrase: {env: KEY_PASS}}, become: sudo}
nodes:
  a: {ssh: {host: 10.0.0.1}}
  b: {ssh: {host: 10.0.0.2, user: admin, port: 22, auth: {agent: agent.sock}}}
`);
    const read = fakeRead();
    const endpointOf = endpointBuilder(inv, read, file);
    expect(await endpointOf('a')).toEqual({
      endpoint: { name: 'a', host: '10.0.0.1', port: 2222, user: 'root', auth: { kind: 'key', privateKeyPath: '/abs/id_ed25519', passphraseEnv: 'KEY_PASS' }, become: { method: 'sudo' } },
      secrets: [],
    });
    expect((await endpointOf('b')).endpoint).toEqual({ name: 'b', host: '10.0.0.2', port: 22, user: 'admin', auth: { kind: 'agent', socket: '/abs/agent.sock' }, become: { method: 'sudo' } });
    expect(read.asked).toEqual([]);
  });

  it('reads the SSH and sudo passwords where they are written, and lists them as the node secrets', async () => {
    const inv = inventory(`cluster: c
ssh: {user: root, auth: {password: {prompt: true}}, become: {method: sudo, password: {env: SUDO}}}
nodes:
  a: {ssh: {host: 10.0.0.1}}
  b: {ssh: {host: 10.0.0.2, auth: {password: {env: B_PW}}, become: {method: sudo}}}
`);
    const read = fakeRead();
    const endpointOf = endpointBuilder(inv, read, file);
    const a = await endpointOf('a');
    expect(a.endpoint.auth).toEqual({ kind: 'password', password: 'ssh.auth.password=SSH password' });
    expect(a.endpoint.become).toEqual({ method: 'sudo', password: 'ssh.become.password=sudo password' });
    expect(a.secrets).toEqual(['ssh.auth.password=SSH password', 'ssh.become.password=sudo password']);
    const b = await endpointOf('b');
    expect(b.endpoint.become).toEqual({ method: 'sudo' });
    expect(b.secrets).toEqual(['nodes.b.ssh.auth.password=SSH password']);
    expect(read.asked).toEqual(['ssh.auth.password', 'ssh.become.password', 'nodes.b.ssh.auth.password']);
  });

  it('leaves an empty password (one that could not be read) out of the secrets', async () => {
    const inv = inventory(`cluster: c
ssh: {user: root, auth: {password: {env: PW}}}
nodes: {a: {ssh: {host: 10.0.0.1}}}
`);
    const built = await endpointBuilder(inv, { secret: async () => '' }, file)('a');
    expect(built).toEqual({ endpoint: { name: 'a', host: '10.0.0.1', port: 22, user: 'root', auth: { kind: 'password', password: '' } }, secrets: [] });
  });

  it('jumps through another node (built once, its secrets carried) or through an endpoint with its own or the node auth', async () => {
    const inv = inventory(`cluster: c
ssh: {user: root, auth: {agent: true}}
nodes:
  gw: {ssh: {host: 10.0.0.1, auth: {password: {env: GW_PW}}, jump: {host: bastion, port: 2200, user: jumper}}}
  a: {ssh: {host: 10.0.0.2, jump: gw}}
  b: {ssh: {host: 10.0.0.3, jump: {host: bastion2, auth: {password: {env: J_PW}}}}}
`);
    const read = fakeRead();
    const endpointOf = endpointBuilder(inv, read, file);
    const a = await endpointOf('a');
    const gw = await endpointOf('gw');
    expect(a.endpoint.jump).toBe(gw.endpoint);
    expect(gw.endpoint.jump).toEqual({ name: 'jump:bastion', host: 'bastion', port: 2200, user: 'jumper', auth: gw.endpoint.auth });
    expect(a.secrets).toEqual(['nodes.gw.ssh.auth.password=SSH password']);
    const b = await endpointOf('b');
    expect(b.endpoint.jump).toEqual({ name: 'jump:bastion2', host: 'bastion2', port: 22, user: 'root', auth: { kind: 'password', password: 'nodes.b.ssh.jump.auth.password=SSH password' } });
    expect(b.secrets).toEqual(['nodes.b.ssh.jump.auth.password=SSH password']);
    expect(read.asked).toEqual(['nodes.gw.ssh.auth.password', 'nodes.b.ssh.jump.auth.password']);
  });
});
