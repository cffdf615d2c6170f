/**
 * The pure half of normalising: schema-valid, rule-valid inventory plus the
 * secrets already read -> the engine's model pieces (nodes' networks and
 * host keys, settings, DRBD resources, filesystems, virtual IPs, fencing),
 * defaults applied. No I/O: paths are resolved by the `file` given.
 */
import path from 'node:path';
import type { HostKeyPolicy } from '../ssh/types.js';
import { configValueProblem } from '../steps/config-values.js';
import { slotsFor } from '../steps/kinds/drbd-create-md.js';
import type { InputError } from './errors.js';
import { parseCidr } from './net.js';
import type { InventoryFile } from './schema.js';
import { SKIPPED_NAMED_SECRET, SKIPPED_SECRET, type ClusterSecrets } from './secrets.js';
import { errorAt, type YamlSource } from './source.js';
import type { ClusterModel, DrbdResource, FenceHeuristics, Fencing, NetworkAddress, ProjectSettings, Sbd } from './types.js';

/** Resolves a path as written in the inventory (`~`, relative to its directory). */
type ResolvePath = (p: string) => string;

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

/** The values to mask, each once: no empty string, no placeholder of a secret not read. */
export function maskable(xs: readonly string[]): string[] {
  return [...new Set(xs.filter((x) => x !== '' && x !== SKIPPED_SECRET && x !== SKIPPED_NAMED_SECRET))];
}

/** The cluster-wide secret values, `secrets:` first: every node masks them. */
export function clusterSecretValues(s: ClusterSecrets): string[] {
  return [...Object.values(s.named), ...s.drbd].filter((v): v is string => !!v);
}

/** `nodes.<name>.networks`, each with its prefix (the network's when not given). */
export function nodeNetworks(inv: InventoryFile, name: string): Record<string, NetworkAddress> {
  return Object.fromEntries(
    Object.entries(inv.nodes[name]!.networks ?? {}).map(([net, a]) => [
      net,
      { address: a.address, ...(a.interface !== undefined ? { interface: a.interface } : {}), prefix: a.prefix ?? parseCidr(inv.networks![net]!.cidr).prefix },
    ]),
  );
}

/** Host key verification for a node: its own settings over the defaults; strict, ~/.ssh/known_hosts when none. */
export function hostKeysOf(inv: InventoryFile, name: string, file: ResolvePath): HostKeyPolicy {
  const ssh = inv.nodes[name]!.ssh;
  return {
    knownHostsPath: file(ssh.known_hosts ?? inv.ssh?.known_hosts ?? '~/.ssh/known_hosts'),
    mode: ssh.host_key_policy ?? inv.ssh?.host_key_policy ?? 'strict',
  };
}

/** `settings:` with defaults; `absPath` is the inventory file's (it names the default state folder). */
export function settingsOf(inv: InventoryFile, absPath: string, file: ResolvePath): ProjectSettings {
  const s = inv.settings ?? {};
  return {
    concurrency: s.concurrency ?? 10,
    maxFailPercent: s.max_fail_percent ?? 0,
    stepTimeoutMs: durationMs(s.step_timeout ?? '10m'),
    strategy: s.strategy ?? 'linear',
    // by default one folder per inventory file: two inventories side by side
    // never share a lock, a journal or run logs
    stateDir: file(s.state_dir ?? defaultStateDir(absPath)),
  };
}

/** `drbd:` with defaults, each host's disk and replication address; `shared[i]` is resource i's shared secret. */
export function drbdResources(inv: InventoryFile, shared: readonly (string | undefined)[]): DrbdResource[] {
  return (inv.drbd ?? []).map((d, i) => {
    const names = Object.keys(inv.nodes).filter((n) => d.nodes[n] !== undefined);
    const sharedSecret = shared[i];
    return {
      name: d.name,
      device: d.device ?? `/dev/drbd${d.minor}`,
      minor: d.minor,
      port: d.port,
      network: d.network,
      metaDisk: d.meta_disk ?? 'internal',
      protocol: d.protocol ?? 'C',
      ...(d.sync_rate !== undefined ? { syncRate: d.sync_rate } : {}),
      // the same slots on every node, room to add nodes (issue 18; drbd-create-md's default too)
      maxPeers: d.max_peers ?? slotsFor(undefined, names.length - 1),
      quorum: d.quorum ?? 'off',
      onNoQuorum: d.on_no_quorum ?? 'io-error',
      nodes: names,
      hosts: Object.fromEntries(names.map((n, i) => [n, { disk: (d.nodes[n]!.disk ?? d.disk)!, address: inv.nodes[n]!.networks![d.network]!.address, port: d.port, nodeId: d.nodes[n]!.node_id ?? i }])),
      ...(sharedSecret !== undefined ? { sharedSecret } : {}),
    };
  });
}

/**
 * A shared secret is written into the .res file as "...": a quote, backslash
 * or control character would end it there (../steps/config-values.ts).
 */
export function sharedSecretProblems(inv: InventoryFile, shared: readonly (string | undefined)[], source: YamlSource): InputError[] {
  return (inv.drbd ?? []).flatMap((d, i) => {
    const secret = shared[i];
    const problem = secret ? configValueProblem('drbd-string', secret) : undefined;
    return problem === undefined ? [] : [errorAt(source, ['drbd', i, 'shared_secret'], 'INVENTORY_RULE', `the shared secret of DRBD resource ${d.name}: ${problem}`)];
  });
}

/** Cluster-wide data: networks, DRBD, filesystems, virtual IPs, fencing; `primary` is the node with that role. */
export function clusterModel(inv: InventoryFile, drbd: DrbdResource[], named: Record<string, string>, primary: string | undefined): ClusterModel {
  return {
    name: inv.cluster,
    vars: { ...(inv.vars ?? {}) },
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
    ...(f.heuristics ? { heuristics: heuristicsModel(f.heuristics) } : {}),
    ...(f.sbd ? { sbd: sbdModel(f.sbd) } : {}),
  };
}

/** fencing.sbd with sbd's defaults (watchdog /dev/watchdog, 5 s, msgwait twice that, start always). */
function sbdModel(s: NonNullable<NonNullable<InventoryFile['fencing']>['sbd']>): Sbd {
  const wd = durationMs(s.watchdog_timeout ?? 5) / 1000;
  return {
    devices: [...(s.devices ?? [])],
    watchdog: s.watchdog ?? '/dev/watchdog',
    watchdogTimeoutS: wd,
    msgwaitS: s.msgwait !== undefined ? durationMs(s.msgwait) / 1000 : 2 * wd,
    startmode: s.startmode ?? 'always',
    name: s.name ?? 'fence_sbd',
    overwrite: s.overwrite ?? false,
  };
}

/** The id of the heuristics device when `fencing.heuristics.name` is not given. */
export const HEURISTICS_NAME = 'heuristics_ping';

/** fencing.heuristics with fence_heuristics_ping's defaults (good_count: 8, or count when fewer probes are sent). */
function heuristicsModel(h: NonNullable<NonNullable<InventoryFile['fencing']>['heuristics']>): FenceHeuristics {
  const count = h.count ?? 10;
  return {
    name: h.name ?? HEURISTICS_NAME,
    targets: [...h.ping],
    count,
    goodCount: h.good_count ?? Math.min(8, count),
    intervalS: durationMs(h.interval ?? 1) / 1000,
    timeoutS: durationMs(h.timeout ?? 2) / 1000,
    maxfail: h.maxfail ?? 0,
  };
}
