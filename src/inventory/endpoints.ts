/**
 * How to reach each node: the `ssh:` settings of the node over the
 * inventory's defaults -> an Endpoint (user, port, auth, sudo, jump chain),
 * with the secrets it carries. Reads nothing itself: passwords come from the
 * SecretRead it is given (./secrets.ts), paths are resolved by `file`.
 */
import type { Endpoint } from '../ssh/types.js';
import { effectiveJump } from './rules.js';
import type { AuthFile, InventoryFile, JumpEndpointFile, SecretRefFile } from './schema.js';

type Path = (string | number)[];

/** Where passwords come from (SecretReader.secret, or a stand-in in tests). */
export interface SecretRead {
  secret(ref: SecretRefFile, at: Path, what: string): Promise<string>;
}

export interface BuiltEndpoint {
  endpoint: Endpoint;
  /** The passwords it carries (SSH, sudo, its jump's), '' left out. */
  secrets: string[];
}

type SshFile = NonNullable<InventoryFile['ssh']>;

/** A node's own `ssh.<key>` if set, else the defaults'; with the path of the one that applies. */
function own<K extends 'auth' | 'become' | 'jump'>(inv: InventoryFile, name: string, key: K): { at: Path; value: SshFile[K] } {
  const mine: SshFile[K] = inv.nodes[name]!.ssh[key];
  if (mine !== undefined) return { at: ['nodes', name, 'ssh', key], value: mine };
  return { at: ['ssh', key], value: inv.ssh?.[key] as SshFile[K] };
}

/**
 * Returns the endpoint builder for `inv`: one Endpoint per node name, built
 * once (a node another one jumps through is the same object in both).
 */
export function endpointBuilder(inv: InventoryFile, read: SecretRead, file: (p: string) => string): (name: string) => Promise<BuiltEndpoint> {
  const built = new Map<string, BuiltEndpoint>();

  const authOf = async (auth: AuthFile, at: Path): Promise<{ auth: Endpoint['auth']; secrets: string[] }> => {
    if (auth.key !== undefined) {
      return { auth: { kind: 'key', privateKeyPath: file(auth.key), ...(auth.passphrase ? { passphraseEnv: auth.passphrase.env } : {}) }, secrets: [] };
    }
    if (auth.agent !== undefined) return { auth: auth.agent === true ? { kind: 'agent' } : { kind: 'agent', socket: file(auth.agent) }, secrets: [] };
    const password = await read.secret(auth.password!, [...at, 'password'], 'SSH password');
    return { auth: { kind: 'password', password }, secrets: password ? [password] : [] };
  };

  const jumpEndpoint = async (j: JumpEndpointFile, at: Path, via: Endpoint): Promise<BuiltEndpoint> => {
    const a = j.auth === undefined ? { auth: via.auth, secrets: [] } : await authOf(j.auth, [...at, 'auth']);
    return { endpoint: { name: `jump:${j.host}`, host: j.host, port: j.port ?? 22, user: j.user ?? via.user, auth: a.auth }, secrets: a.secrets };
  };

  const endpointOf = async (name: string): Promise<BuiltEndpoint> => {
    const done = built.get(name);
    if (done) return done;
    const ssh = inv.nodes[name]!.ssh;
    const auth = own(inv, name, 'auth');
    const a = await authOf(auth.value!, auth.at);
    const secrets = [...a.secrets];
    const endpoint: Endpoint = { name, host: ssh.host, port: ssh.port ?? inv.ssh?.port ?? 22, user: (ssh.user ?? inv.ssh?.user)!, auth: a.auth };
    const become = own(inv, name, 'become');
    if (become.value !== undefined) {
      if (become.value === 'sudo' || become.value.password === undefined) endpoint.become = { method: 'sudo' };
      else {
        const pw = await read.secret(become.value.password, [...become.at, 'password'], 'sudo password');
        if (pw) secrets.push(pw);
        endpoint.become = { method: 'sudo', password: pw };
      }
    }
    const jump = effectiveJump(inv, name);
    if (jump !== undefined) {
      const j = typeof jump === 'string' ? await endpointOf(jump) : await jumpEndpoint(jump, own(inv, name, 'jump').at, endpoint);
      endpoint.jump = j.endpoint;
      secrets.push(...j.secrets);
    }
    const result = { endpoint, secrets };
    built.set(name, result);
    return result;
  };

  return endpointOf;
}
