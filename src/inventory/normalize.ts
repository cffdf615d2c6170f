/**
 * Schema-valid, rule-valid inventory -> the engine's model: defaults applied,
 * paths made absolute, secrets read from the environment or a prompt.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Endpoint, HostKeyPolicy } from '../ssh/types.js';
import { configValueProblem } from '../steps/config-values.js';
import type { InputError } from './errors.js';
import { formatPath } from './errors.js';
import { secretFileProblem } from './files.js';
import { parseCidr } from './net.js';
import { effectiveJump } from './rules.js';
import type { AuthFile, InventoryFile, JumpEndpointFile, NamedSecretRefFile, SecretRefFile } from './schema.js';
import { errorAt, type YamlSource } from './source.js';
import type { ClusterModel, DrbdResource, Fencing, ProjectSettings, ResolvedNode } from './types.js';

export interface SecretSources {
  env: Record<string, string | undefined>;
  prompt?: (question: string) => Promise<string>;
  mode: 'resolve' | 'skip';
}

export interface NormalizeOptions {
  /** Absolute path of the inventory file. */
  absPath: string;
  homeDir: string;
  secrets: SecretSources;
}

export interface NormalizedInventory {
  cluster: ClusterModel;
  nodes: ResolvedNode[];
  settings: ProjectSettings;
  /** Absolute path of the playbook the inventory names, if any. */
  playbookPath?: string;
  secrets: string[];
  /** Some secret was replaced by its placeholder (secrets mode 'skip'): reading secrets may give another result. */
  secretsSkipped: boolean;
}

type Path = (string | number)[];

/**
 * Stands for every secret when secrets are not read ('skip', for validate):
 * non-empty, so parameter schemas that require a value still pass; never a
 * real credential, and never listed among the values to mask.
 */
export const SKIPPED_SECRET = '********';

/**
 * Stands for a named secret (`secrets:`) when secrets are not read: 256
 * characters, so that a key's length rule (corosync's authkey: 128-4096
 * bytes) passes in validate; never a real credential, never masked.
 */
export const SKIPPED_NAMED_SECRET = '*'.repeat(256);

/** "90s" | "10m" | "1h" | "500ms" | 30 (seconds) -> milliseconds. */
export function durationMs(d: number | string): number {
  if (typeof d === 'number') return d * 1000;
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`unvalidated duration ${d}`);
  const n = Number(m[1]);
  switch (m[2] as 'ms' | 's' | 'm' | 'h') {
    case 'ms':
      return n;
    case 's':
      return n * 1000;
    case 'm':
      return n * 60_000;
    case 'h':
      return n * 3_600_000;
  }
}

/** `.ha-provision/<inventory file name without .yaml>`, beside the inventory. */
export function defaultStateDir(inventoryPath: string): string {
  return path.join('.ha-provision', path.basename(inventoryPath).replace(/\.ya?ml$/i, '') || 'inventory');
}

export async function normalizeInventory(
  inv: InventoryFile,
  source: YamlSource,
  opts: NormalizeOptions,
): Promise<{ ok: true; value: NormalizedInventory } | { ok: false; errors: InputError[] }> {
  const dir = path.dirname(opts.absPath);
  const errors: InputError[] = [];
  const asked = new Map<string, string>();
  let secretsSkipped = false;
  const file = (p: string) => {
    const expanded = p === '~' ? opts.homeDir : p.startsWith('~/') ? path.join(opts.homeDir, p.slice(2)) : p;
    return path.resolve(dir, expanded);
  };

  const secret = async (ref: SecretRefFile, at: Path, what: string): Promise<string> => {
    if (opts.secrets.mode === 'skip') {
      secretsSkipped = true;
      return SKIPPED_SECRET;
    }
    if (ref.env !== undefined) {
      const v = opts.secrets.env[ref.env];
      if (v === undefined || v === '') {
        errors.push(errorAt(source, [...at, 'env'], 'INVENTORY_SECRET_MISSING', `expected environment variable ${ref.env} to hold the ${what}, found it ${v === undefined ? 'unset' : 'empty'}`));
        return '';
      }
      return v;
    }
    const key = formatPath(at);
    const cached = asked.get(key);
    if (cached !== undefined) return cached;
    if (!opts.secrets.prompt) {
      errors.push(errorAt(source, at, 'INVENTORY_SECRET_MISSING', `expected to prompt for the ${what}, but no terminal is available (use {env: VAR} for unattended runs)`));
      return '';
    }
    const v = await opts.secrets.prompt(`${what} (${key} in ${source.file}): `);
    asked.set(key, v);
    return v;
  };

  // A named secret from a file: owner-only, one trailing newline dropped.
  const fileSecret = async (p: string, at: Path, what: string): Promise<string> => {
    const abs = file(p);
    // The same checks as `validate` (./files.ts), then the read.
    const problem = await secretFileProblem(p, abs, what);
    if (problem !== undefined) {
      errors.push(errorAt(source, [...at, 'file'], 'INVENTORY_SECRET_MISSING', problem));
      return '';
    }
    try {
      const v = (await readFile(abs, 'utf8')).replace(/\r?\n$/, '');
      if (v === '') errors.push(errorAt(source, [...at, 'file'], 'INVENTORY_SECRET_MISSING', `expected ${p} to hold the ${what}, found it empty`));
      return v;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      errors.push(errorAt(source, [...at, 'file'], 'INVENTORY_SECRET_MISSING', `expected ${p} to hold the ${what}, found ${code === 'ENOENT' ? 'no such file' : `it unreadable (${code ?? String(e)})`}`));
      return '';
    }
  };
  const namedSecret = async (ref: NamedSecretRefFile, at: Path, what: string): Promise<string> => {
    if (opts.secrets.mode === 'skip') {
      secretsSkipped = true;
      return SKIPPED_NAMED_SECRET;
    }
    if (ref.file !== undefined) return fileSecret(ref.file, at, what);
    return secret(ref.env !== undefined ? { env: ref.env } : { prompt: true }, at, what);
  };

  // Cluster-wide secrets first: every node masks them.
  const clusterSecrets: string[] = [];
  const named: Record<string, string> = {};
  for (const [name, ref] of Object.entries(inv.secrets ?? {})) {
    const v = await namedSecret(ref, ['secrets', name], `secret ${name}`);
    named[name] = v;
    if (v) clusterSecrets.push(v);
  }
  const drbd: DrbdResource[] = [];
  for (const [i, d] of (inv.drbd ?? []).entries()) {
    const names = Object.keys(inv.nodes).filter((n) => d.nodes[n] !== undefined);
    const sharedSecret = d.shared_secret ? await secret(d.shared_secret, ['drbd', i, 'shared_secret'], `shared secret of DRBD resource ${d.name}`) : undefined;
    if (sharedSecret) clusterSecrets.push(sharedSecret);
    // written into the .res file as "...": a quote, backslash or control character would end it there (../steps/config-values.ts)
    const secretProblem = sharedSecret ? configValueProblem('drbd-string', sharedSecret) : undefined;
    if (secretProblem !== undefined) errors.push(errorAt(source, ['drbd', i, 'shared_secret'], 'INVENTORY_RULE', `the shared secret of DRBD resource ${d.name}: ${secretProblem}`));
    drbd.push({
      name: d.name,
      device: d.device ?? `/dev/drbd${d.minor}`,
      minor: d.minor,
      port: d.port,
      network: d.network,
      metaDisk: d.meta_disk ?? 'internal',
      protocol: d.protocol ?? 'C',
      ...(d.sync_rate !== undefined ? { syncRate: d.sync_rate } : {}),
      nodes: names,
      hosts: Object.fromEntries(
        names.map((n) => [n, { disk: (d.nodes[n]!.disk ?? d.disk)!, address: inv.nodes[n]!.networks![d.network]!.address, port: d.port }]),
      ),
      ...(sharedSecret !== undefined ? { sharedSecret } : {}),
    });
  }

  const authOf = async (auth: AuthFile, at: Path): Promise<{ auth: Endpoint['auth']; secrets: string[] }> => {
    if (auth.key !== undefined) {
      return { auth: { kind: 'key', privateKeyPath: file(auth.key), ...(auth.passphrase ? { passphraseEnv: auth.passphrase.env } : {}) }, secrets: [] };
    }
    if (auth.agent !== undefined) return { auth: auth.agent === true ? { kind: 'agent' } : { kind: 'agent', socket: file(auth.agent) }, secrets: [] };
    const password = await secret(auth.password!, [...at, 'password'], 'SSH password');
    return { auth: { kind: 'password', password }, secrets: password ? [password] : [] };
  };

  const built = new Map<string, { endpoint: Endpoint; secrets: string[] }>();
  const endpointOf = async (name: string): Promise<{ endpoint: Endpoint; secrets: string[] }> => {
    const done = built.get(name);
    if (done) return done;
    const node = inv.nodes[name]!;
    const ssh = node.ssh;
    const d = inv.ssh ?? {};
    const user = (ssh.user ?? d.user)!;
    const authAt: Path = ssh.auth ? ['nodes', name, 'ssh', 'auth'] : ['ssh', 'auth'];
    const a = await authOf((ssh.auth ?? d.auth)!, authAt);
    const secrets = [...a.secrets];
    const endpoint: Endpoint = { name, host: ssh.host, port: ssh.port ?? d.port ?? 22, user, auth: a.auth };
    const become = ssh.become ?? d.become;
    if (become !== undefined) {
      const becomeAt: Path = ssh.become !== undefined ? ['nodes', name, 'ssh', 'become'] : ['ssh', 'become'];
      if (become === 'sudo' || become.password === undefined) endpoint.become = { method: 'sudo' };
      else {
        const pw = await secret(become.password, [...becomeAt, 'password'], 'sudo password');
        if (pw) secrets.push(pw);
        endpoint.become = { method: 'sudo', password: pw };
      }
    }
    const jump = effectiveJump(inv, name);
    if (typeof jump === 'string') {
      const j = await endpointOf(jump);
      endpoint.jump = j.endpoint;
      secrets.push(...j.secrets);
    } else if (jump !== undefined) {
      const jumpAt: Path = ssh.jump !== undefined ? ['nodes', name, 'ssh', 'jump'] : ['ssh', 'jump'];
      const j = await jumpEndpoint(jump, jumpAt, endpoint);
      endpoint.jump = j.endpoint;
      secrets.push(...j.secrets);
    }
    const result = { endpoint, secrets };
    built.set(name, result);
    return result;
  };

  const jumpEndpoint = async (j: JumpEndpointFile, at: Path, via: Endpoint): Promise<{ endpoint: Endpoint; secrets: string[] }> => {
    const user = j.user ?? via.user;
    if (j.auth === undefined) return { endpoint: { name: `jump:${j.host}`, host: j.host, port: j.port ?? 22, user, auth: via.auth }, secrets: [] };
    const a = await authOf(j.auth, [...at, 'auth']);
    return { endpoint: { name: `jump:${j.host}`, host: j.host, port: j.port ?? 22, user, auth: a.auth }, secrets: a.secrets };
  };

  const clusterVars = { ...(inv.vars ?? {}) };
  const nodes: ResolvedNode[] = [];
  for (const [name, node] of Object.entries(inv.nodes)) {
    const { endpoint, secrets } = await endpointOf(name);
    const hostKeys: HostKeyPolicy = {
      knownHostsPath: file(node.ssh.known_hosts ?? inv.ssh?.known_hosts ?? '~/.ssh/known_hosts'),
      mode: node.ssh.host_key_policy ?? inv.ssh?.host_key_policy ?? 'strict',
    };
    const networks = Object.fromEntries(
      Object.entries(node.networks ?? {}).map(([net, a]) => [
        net,
        { address: a.address, ...(a.interface !== undefined ? { interface: a.interface } : {}), prefix: a.prefix ?? parseCidr(inv.networks![net]!.cidr).prefix },
      ]),
    );
    nodes.push({
      name,
      endpoint,
      hostKeys,
      roles: [...(node.roles ?? [])],
      groups: [...(node.groups ?? [])],
      networks,
      vars: { ...clusterVars, ...(node.vars ?? {}) },
      secrets: unique([...secrets, ...clusterSecrets]),
    });
  }

  const s = inv.settings ?? {};
  const settings: ProjectSettings = {
    concurrency: s.concurrency ?? 10,
    maxFailPercent: s.max_fail_percent ?? 0,
    stepTimeoutMs: durationMs(s.step_timeout ?? '10m'),
    strategy: s.strategy ?? 'linear',
    // by default one folder per inventory file: two inventories side by side
    // never share a lock, a journal or run logs
    stateDir: file(s.state_dir ?? defaultStateDir(opts.absPath)),
  };

  const primary = nodes.find((n) => n.roles.includes('primary'))?.name;
  const cluster: ClusterModel = {
    name: inv.cluster,
    vars: clusterVars,
    networks: Object.entries(inv.networks ?? {}).map(([name, n]) => {
      const c = parseCidr(n.cidr);
      return { name, cidr: n.cidr, address: c.base, prefix: c.prefix };
    }),
    drbd,
    filesystems: (inv.filesystems ?? []).map((f) => ({
      name: f.name,
      device: f.device ?? drbd.find((r) => r.name === f.drbd)!.device,
      directory: f.directory,
      fstype: f.fstype,
      ...(f.options !== undefined ? { options: f.options } : {}),
      ...(f.drbd !== undefined ? { drbd: f.drbd } : {}),
    })),
    vips: (inv.vips ?? []).map((v) => ({ name: v.name, ip: v.ip, cidrNetmask: v.cidr_netmask, nic: v.nic, hostnames: v.hostnames ?? [], ...(v.network !== undefined ? { network: v.network } : {}) })),
    fencing: fencingModel(inv, named),
    ...(primary !== undefined ? { primary } : {}),
    secrets: named,
  };

  if (errors.length > 0) return { ok: false, errors };
  const allSecrets = unique([...clusterSecrets, ...nodes.flatMap((n) => n.secrets)]);
  return {
    ok: true,
    value: { cluster, nodes, settings, ...(inv.playbook !== undefined ? { playbookPath: file(inv.playbook) } : {}), secrets: allSecrets, secretsSkipped },
  };
}

/** `fencing:` as the engine sees it: defaults applied, secret parameters resolved from `secrets:`. */
function fencingModel(inv: InventoryFile, named: Record<string, string>): Fencing {
  const f = inv.fencing;
  if (!f || f.enabled === false) return { enabled: false, devices: [], action: 'reboot', delayMaxS: 0, drbd: 'off' };
  const seconds = (d: number | string) => Math.ceil(durationMs(d) / 1000);
  const twoNodes = Object.keys(inv.nodes).length === 2;
  return {
    enabled: true,
    devices: (f.devices ?? []).map((d) => ({
      name: d.name,
      agent: d.agent,
      fences: [...d.fences],
      params: {
        ...Object.fromEntries(Object.entries(d.params ?? {}).map(([k, v]) => [k, String(v)])),
        ...Object.fromEntries(Object.entries(d.secrets ?? {}).map(([k, name]) => [k, named[name] ?? ''])),
      },
      secretParams: Object.keys(d.secrets ?? {}),
      monitorS: seconds(d.monitor ?? '60s'),
    })),
    ...(f.timeout !== undefined ? { timeoutS: seconds(f.timeout) } : {}),
    action: f.action ?? 'reboot',
    delayMaxS: f.delay_max === undefined ? (twoNodes ? 5 : 0) : f.delay_max === 0 ? 0 : seconds(f.delay_max),
    drbd: f.drbd ?? 'resource-and-stonith',
  };
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs.filter((x) => x !== '' && x !== SKIPPED_SECRET && x !== SKIPPED_NAMED_SECRET))];
}
