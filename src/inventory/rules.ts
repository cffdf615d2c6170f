/**
 * Cross-field rules of a schema-valid inventory. Each rule reports every
 * violation it finds, at the position of the offending value.
 */
import type { InputError } from './errors.js';
import { didYouMean } from './errors.js';
import { isCredentialName } from '../mask.js';
import { cidrContains, familyOf, isNetworkAddress, parseCidr } from './net.js';
import { durationMs, HEURISTICS_NAME } from './model.js';
import type { InventoryFile } from './schema.js';
import { errorAt, type YamlSource } from './source.js';

type Path = (string | number)[];

export function inventoryRules(inv: InventoryFile, source: YamlSource): InputError[] {
  const errors: InputError[] = [];
  const err = (path: Path, message: string, at: 'value' | 'key' = 'value') =>
    errors.push(errorAt(source, path, 'INVENTORY_RULE', message, at));
  const nodeNames = Object.keys(inv.nodes);
  const networks = inv.networks ?? {};
  const netNames = Object.keys(networks);

  // Networks: a cidr names its network address.
  for (const [name, net] of Object.entries(networks)) {
    if (!isNetworkAddress(net.cidr)) err(['networks', name, 'cidr'], `expected the network address of the subnet (host bits zero), found "${net.cidr}"`);
  }

  // Roles: at most one initial primary.
  const primaries = nodeNames.filter((n) => inv.nodes[n]!.roles?.includes('primary'));
  for (const extra of primaries.slice(1)) {
    const i = inv.nodes[extra]!.roles!.indexOf('primary');
    err(['nodes', extra, 'roles', i], `expected at most one node with role "primary" (the initial primary), found ${primaries.join(', ')}`);
  }
  for (const n of nodeNames) {
    const node = inv.nodes[n]!;
    dupes(node.roles ?? [], (i, v) => err(['nodes', n, 'roles', i], `role "${v}" is listed twice`));
    dupes(node.groups ?? [], (i, v) => err(['nodes', n, 'groups', i], `group "${v}" is listed twice`));
  }

  // SSH: one node per host:port, user and auth set (on the node or in the defaults), jump hosts exist, no cycles.
  const seenEndpoint = new Map<string, string>();
  for (const n of nodeNames) {
    const ssh = inv.nodes[n]!.ssh;
    const port = ssh.port ?? inv.ssh?.port ?? 22;
    const key = `${ssh.host.toLowerCase()}:${port}`;
    const other = seenEndpoint.get(key);
    if (other) err(['nodes', n, 'ssh', 'host'], `expected a unique SSH address, found ${key} which node ${other} already uses`);
    else seenEndpoint.set(key, n);
    if ((ssh.user ?? inv.ssh?.user) === undefined) err(['nodes', n, 'ssh'], 'expected "user" here or under the top-level "ssh:" defaults, found none');
    if ((ssh.auth ?? inv.ssh?.auth) === undefined) err(['nodes', n, 'ssh'], 'expected "auth" (key, agent or password) here or under the top-level "ssh:" defaults, found none');
    const jump = effectiveJump(inv, n);
    if (typeof jump === 'string') {
      const where: Path = ssh.jump !== undefined ? ['nodes', n, 'ssh', 'jump'] : ['ssh', 'jump'];
      if (!inv.nodes[jump]) err(where, `expected the name of a node, found "${jump}"${didYouMean(jump, nodeNames)}`);
    }
  }
  for (const n of nodeNames) {
    const chain = jumpChain(inv, n);
    if (chain.cycle && chain.names[chain.names.length - 1] === n) err(inv.nodes[n]!.ssh.jump !== undefined ? ['nodes', n, 'ssh', 'jump'] : ['ssh', 'jump'], `jump hosts form a cycle: ${chain.names.join(' -> ')}`);
  }

  // Node networks: declared, inside the cidr, prefix consistent, addresses unique per network.
  const seenAddress = new Map<string, string>();
  for (const n of nodeNames) {
    for (const [net, a] of Object.entries(inv.nodes[n]!.networks ?? {})) {
      const base: Path = ['nodes', n, 'networks', net];
      const decl = networks[net];
      if (!decl) {
        err(base, `expected a network declared under top-level "networks:", found "${net}"${didYouMean(net, netNames)}${netNames.length ? ` (declared: ${netNames.join(', ')})` : ' (none declared)'}`, 'key');
        continue;
      }
      if (!cidrContains(decl.cidr, a.address)) err([...base, 'address'], `expected an address inside ${decl.cidr} (network ${net}), found "${a.address}"`);
      const p = parseCidr(decl.cidr).prefix;
      if (a.prefix !== undefined && a.prefix !== p) err([...base, 'prefix'], `expected ${p} (the prefix of ${decl.cidr}), found ${a.prefix}`);
      const other = seenAddress.get(a.address);
      if (other) err([...base, 'address'], `expected a unique address, found ${a.address} which ${other} already uses`);
      else seenAddress.set(a.address, `node ${n} (network ${net})`);
    }
  }

  // DRBD resources.
  const drbd = inv.drbd ?? [];
  const drbdNames = drbd.map((d) => d.name);
  uniqueField(drbd.map((d) => d.name), (i, v) => err(['drbd', i, 'name'], `expected a unique resource name, found "${v}" twice`));
  uniqueField(drbd.map((d) => d.minor), (i, v) => err(['drbd', i, 'minor'], `expected a unique minor, found ${v} twice`));
  uniqueField(drbd.map((d) => d.port), (i, v) => err(['drbd', i, 'port'], `expected a unique port, found ${v} twice`));
  uniqueField(drbd.map((d) => d.device ?? `/dev/drbd${d.minor}`), (i, v) => err(['drbd', i, 'device'], `expected a unique device, found "${v}" twice`));
  const diskUse = new Map<string, string>();
  drbd.forEach((d, i) => {
    const m = d.device && /^\/dev\/drbd([0-9]+)$/.exec(d.device);
    if (m && Number(m[1]) !== d.minor) err(['drbd', i, 'device'], `expected /dev/drbd${d.minor} (minor ${d.minor}), found "${d.device}"`);
    if (!networks[d.network]) err(['drbd', i, 'network'], `expected a network declared under top-level "networks:", found "${d.network}"${didYouMean(d.network, netNames)}`);
    const members = Object.keys(d.nodes);
    if (members.length < 2) err(['drbd', i, 'nodes'], `expected at least 2 nodes, found ${members.length}`);
    // the ids DRBD will use: given ones, else the position (drbd-resource refuses to renumber a running resource)
    const ids = members.map((n, k) => d.nodes[n]?.node_id ?? k);
    ids.forEach((id, k) => {
      const first = ids.indexOf(id);
      if (first !== k) err(['drbd', i, 'nodes', members[k]!, 'node_id'], `expected a node id no other node of the resource has, found ${id}, also ${members[first]}'s${d.nodes[members[k]!]?.node_id === undefined ? ` (${members[k]}'s by its position: give node_id for each node)` : ''}`);
    });
    if (d.max_peers !== undefined && members.length >= 2 && d.max_peers < members.length - 1)
      err(['drbd', i, 'max_peers'], `expected at least the resource's ${members.length - 1} peers (DRBD cannot attach a disk with fewer peer slots than peers), found ${d.max_peers}`);
    if (d.quorum !== undefined && d.quorum !== 'off' && members.length < 3)
      err(['drbd', i, 'quorum'], `expected "off" with ${members.length} nodes: DRBD quorum needs 3 or more (with 2, one node down loses quorum; use fencing), found "${d.quorum}"`);
    if (d.on_no_quorum !== undefined && (d.quorum === undefined || d.quorum === 'off')) err(['drbd', i, 'on_no_quorum'], 'expected it only with quorum (majority or all), found it without');
    for (const n of members) {
      const node = inv.nodes[n];
      if (!node) {
        err(['drbd', i, 'nodes', n], `expected the name of a node, found "${n}"${didYouMean(n, nodeNames)}`, 'key');
        continue;
      }
      if (networks[d.network] && !node.networks?.[d.network]) err(['drbd', i, 'nodes', n], `node ${n} has no address on network "${d.network}" (add nodes.${n}.networks.${d.network})`, 'key');
      const disk = d.nodes[n]!.disk ?? d.disk;
      if (!disk) err(['drbd', i, 'nodes', n], `expected a backing disk: set "disk" on the resource or on this node`, 'key');
      else {
        const k = `${n} ${disk}`;
        const other = diskUse.get(k);
        if (other) err(d.nodes[n]!.disk ? ['drbd', i, 'nodes', n, 'disk'] : ['drbd', i, 'disk'], `disk ${disk} on node ${n} is already the backing disk of DRBD resource ${other}`);
        else diskUse.set(k, d.name);
      }
    }
  });

  // Filesystems.
  const fss = inv.filesystems ?? [];
  uniqueField(fss.map((f) => f.name), (i, v) => err(['filesystems', i, 'name'], `expected a unique name, found "${v}" twice`));
  uniqueField(fss.map((f) => f.directory), (i, v) => err(['filesystems', i, 'directory'], `expected a unique directory, found "${v}" twice`));
  fss.forEach((f, i) => {
    if (f.device === undefined && f.drbd === undefined) err(['filesystems', i], 'expected "device" or "drbd", found neither');
    if (f.drbd !== undefined) {
      const r = drbd.find((d) => d.name === f.drbd);
      if (!r) err(['filesystems', i, 'drbd'], `expected the name of a DRBD resource, found "${f.drbd}"${didYouMean(f.drbd, drbdNames)}`);
      else if (f.device !== undefined && f.device !== (r.device ?? `/dev/drbd${r.minor}`)) {
        err(['filesystems', i, 'device'], `expected ${r.device ?? `/dev/drbd${r.minor}`} (the device of DRBD resource ${r.name}), found "${f.device}"`);
      }
    }
  });

  // Virtual IPs.
  const vips = inv.vips ?? [];
  uniqueField(vips.map((v) => v.name), (i, v) => err(['vips', i, 'name'], `expected a unique name, found "${v}" twice`));
  uniqueField(vips.map((v) => v.ip), (i, v) => err(['vips', i, 'ip'], `expected a unique address, found ${v} twice`));
  vips.forEach((v, i) => {
    const max = familyOf(v.ip) === 'ipv4' ? 32 : 128;
    if (v.cidr_netmask > max) err(['vips', i, 'cidr_netmask'], `expected a prefix length 0-${max}, found ${v.cidr_netmask}`);
    const owner = seenAddress.get(v.ip);
    if (owner) err(['vips', i, 'ip'], `expected an address no node owns, found ${v.ip} which ${owner} uses`);
    if (v.network !== undefined) {
      const decl = networks[v.network];
      if (!decl) err(['vips', i, 'network'], `expected a network declared under top-level "networks:", found "${v.network}"${didYouMean(v.network, netNames)}`);
      else if (!cidrContains(decl.cidr, v.ip)) err(['vips', i, 'ip'], `expected an address inside ${decl.cidr} (network ${v.network}), found "${v.ip}"`);
    }
  });

  // Fencing: devices that can run elsewhere, credentials from `secrets:`. Whether every
  // Pacemaker node has a device is checked by crm-configure (not every node runs Pacemaker:
  // an arbitrator runs corosync-qnetd only).
  const fencing = inv.fencing;
  if (fencing && fencing.enabled !== false) {
    const devices = fencing.devices ?? [];
    if (devices.length === 0 && !fencing.sbd) err(['fencing'], 'expected "devices" (at least one fence device) or "sbd", or "enabled: false" to run without fencing (UNSAFE outside a lab)', 'key');
    if (fencing.sbd) sbdRules(fencing, nodeNames.length, err);
    uniqueField(devices.map((d) => d.name), (i, v) => err(['fencing', 'devices', i, 'name'], `expected a unique name, found "${v}" twice`));
    const secretNames = Object.keys(inv.secrets ?? {});
    devices.forEach((d, i) => {
      d.fences.forEach((n, j) => {
        if (!inv.nodes[n]) err(['fencing', 'devices', i, 'fences', j], `expected an inventory node, found "${n}"${didYouMean(n, nodeNames)}`);
      });
      dupes(d.fences, (j, v) => err(['fencing', 'devices', i, 'fences', j], `node "${v}" is listed twice`));
      if (nodeNames.every((n) => d.fences.includes(n))) {
        err(['fencing', 'devices', i, 'fences'], `expected a device that leaves some node to run it (no node runs the device that fences itself), found one that fences every node (${nodeNames.join(', ')}): give each node its own device`);
      }
      for (const [param, name] of Object.entries(d.secrets ?? {})) {
        if (!inv.secrets?.[name]) err(['fencing', 'devices', i, 'secrets', param], `expected the name of a secret under top-level "secrets:", found "${name}"${didYouMean(name, secretNames)}`);
        if (d.params?.[param] !== undefined) err(['fencing', 'devices', i, 'secrets', param], `expected "${param}" in "params" or in "secrets", not both`, 'key');
      }
      for (const param of Object.keys(d.params ?? {})) {
        if (isCredentialName(param)) {
          err(['fencing', 'devices', i, 'params', param], `expected "${param}" under "secrets" (the name of a secret under top-level "secrets:"): credentials are never written in the inventory`, 'key');
        }
        if (param === 'pcmk_host_list' || param === 'pcmk_delay_max') {
          err(['fencing', 'devices', i, 'params', param], `expected no "${param}": it is set from ${param === 'pcmk_host_list' ? '"fences"' : 'fencing.delay_max'}`, 'key');
        }
      }
    });
    if (fencing.heuristics && fencing.sbd) err(['fencing', 'heuristics'], 'expected heuristics with "devices" only: the ping check is put before each fence device, and SBD has none per node', 'key');
    else if (fencing.heuristics) heuristicsRules(fencing.heuristics, fencing.timeout, devices.map((d) => d.name), err);
  }

  return errors;
}

/** The ping check's seconds from a duration (the agent takes whole seconds); undefined when it is not whole seconds. */
function wholeSeconds(d: number | string): number | undefined {
  const ms = durationMs(d);
  return ms >= 1000 && ms % 1000 === 0 ? ms / 1000 : undefined;
}

/**
 * fencing.sbd: instead of devices, not beside them; timeouts in whole
 * seconds, msgwait at least twice the watchdog timeout and the stonith
 * timeout at least twice msgwait (sbd(8)); watchdog only needs 3 or more
 * votes; disks that fence_sbd's comma list and SBD_DEVICE's ";" list can hold.
 */
function sbdRules(f: NonNullable<InventoryFile['fencing']>, nodes: number, err: (path: Path, message: string, at?: 'value' | 'key') => void): void {
  const s = f.sbd!;
  const at = (...p: Path): Path => ['fencing', 'sbd', ...p];
  if ((f.devices ?? []).length > 0) err(at(), 'expected "sbd" or "devices", not both: SBD fences every node through its disks or its watchdog', 'key');
  const secs: Record<'watchdog_timeout' | 'msgwait', number | undefined> = { watchdog_timeout: 5, msgwait: undefined };
  for (const k of ['watchdog_timeout', 'msgwait'] as const) {
    const v = s[k];
    if (v === undefined) continue;
    const n = wholeSeconds(v);
    if (n === undefined) err(at(k), `expected whole seconds (sbd takes seconds), found ${JSON.stringify(v)}`);
    secs[k] = n;
  }
  const disks = s.devices ?? [];
  dupes(disks, (i, v) => err(at('devices', i), `disk "${v}" is listed twice`));
  disks.forEach((d, i) => {
    if (/[,;]/.test(d)) err(at('devices', i), `expected a path without "," or ";" (they separate the disks in fence_sbd's and sbd's lists), found "${d}"`);
  });
  const wd = secs.watchdog_timeout;
  const stonithS = f.timeout === undefined ? 60 : Math.floor(durationMs(f.timeout) / 1000);
  const timeoutAt: Path = f.timeout === undefined ? ['fencing'] : ['fencing', 'timeout'];
  const timeoutHow = f.timeout === undefined ? " (Pacemaker's default): set fencing.timeout" : '';
  if (disks.length > 0) {
    const mw = secs.msgwait ?? (wd !== undefined ? 2 * wd : undefined);
    if (wd !== undefined && mw !== undefined && s.msgwait !== undefined && mw < 2 * wd) err(at('msgwait'), `expected at least twice watchdog_timeout (${2 * wd}s, sbd(8)), found ${mw}s`);
    if (mw !== undefined && stonithS < 2 * mw) {
      err(timeoutAt, `expected a stonith timeout of at least twice msgwait (${2 * mw}s, sbd(8): else fencing through SBD never completes), found ${stonithS}s${timeoutHow}`, f.timeout === undefined ? 'key' : 'value');
    }
  } else {
    if (s.msgwait !== undefined) err(at('msgwait'), 'expected msgwait only with "devices": without disks there is no header to write it in');
    if (s.overwrite !== undefined) err(at('overwrite'), 'expected overwrite only with "devices": without disks nothing is written');
    if (nodes < 3) {
      err(at(), `expected "devices" with ${nodes} nodes: watchdog-only SBD fences a node by its loss of quorum, which needs 3 or more votes (add a shared disk, or an arbitrator node)`, 'key');
    }
    // Pacemaker waits stonith-watchdog-timeout (twice the watchdog timeout) before it takes a node as fenced
    if (wd !== undefined && stonithS <= 2 * wd) {
      err(timeoutAt, `expected a stonith timeout above stonith-watchdog-timeout (twice watchdog_timeout: ${2 * wd}s), found ${stonithS}s${timeoutHow}`, f.timeout === undefined ? 'key' : 'value');
    }
  }
}

/**
 * fencing.heuristics: a check that can fail (maxfail below the targets), can
 * pass (good_count within count), fits in the stonith timeout, and a name of
 * its own.
 */
function heuristicsRules(h: NonNullable<NonNullable<InventoryFile['fencing']>['heuristics']>, stonithTimeout: number | string | undefined, deviceNames: string[], err: (path: Path, message: string, at?: 'value' | 'key') => void): void {
  const at = (...p: Path): Path => ['fencing', 'heuristics', ...p];
  const name = h.name ?? HEURISTICS_NAME;
  if (deviceNames.includes(name)) err(h.name !== undefined ? at('name') : at(), `expected a name no fence device has, found "${name}"${h.name === undefined ? ' (the default; set "name")' : ''}`, h.name !== undefined ? 'value' : 'key');
  dupes(h.ping, (i, v) => err(at('ping', i), `ping target "${v}" is listed twice`));
  if (h.maxfail !== undefined && h.maxfail >= h.ping.length) {
    err(at('maxfail'), `expected fewer than the ${h.ping.length} ping target(s): with ${h.maxfail} allowed to fail the check always passes and never stops a cut-off node from fencing, found ${h.maxfail}`);
  }
  const count = h.count ?? 10;
  if (h.good_count !== undefined && h.good_count > count) err(at('good_count'), `expected at most count (${count}${h.count === undefined ? ', the default' : ''}) answered probes: more can never be reached, found ${h.good_count}`);
  const secs = { interval: 1, timeout: 2 };
  for (const k of ['interval', 'timeout'] as const) {
    const v = h[k];
    if (v === undefined) continue;
    const s = wholeSeconds(v);
    if (s === undefined) err(at(k), `expected whole seconds (fence_heuristics_ping takes seconds), found ${JSON.stringify(v)}`);
    else secs[k] = s;
  }
  // the agent pings every target at once: (count - 1) intervals and one timeout
  const check = (count - 1) * secs.interval + secs.timeout;
  const limit = stonithTimeout === undefined ? 60 : Math.floor(durationMs(stonithTimeout) / 1000);
  if (check >= limit) {
    const where: Path = stonithTimeout === undefined ? at() : ['fencing', 'timeout'];
    err(where, `expected a stonith timeout longer than the ping check (${count - 1} x ${secs.interval}s + ${secs.timeout}s = ${check}s), found ${limit}s${stonithTimeout === undefined ? ' (Pacemaker\'s default): set fencing.timeout, or fewer probes' : ''}`, stonithTimeout === undefined ? 'key' : 'value');
  }
}

function dupes<T>(values: readonly T[], report: (index: number, value: T) => void): void {
  const seen = new Set<T>();
  values.forEach((v, i) => {
    if (seen.has(v)) report(i, v);
    seen.add(v);
  });
}

const uniqueField = dupes;

/** Follows node-name jump hosts from `start`; `cycle` when it comes back to a node already seen. */
export function jumpChain(inv: InventoryFile, start: string): { names: string[]; cycle: boolean } {
  const names = [start];
  let cur = start;
  for (;;) {
    const j = effectiveJump(inv, cur);
    if (typeof j !== 'string' || !inv.nodes[j]) return { names, cycle: false };
    if (names.includes(j)) return { names: [...names, j], cycle: true };
    names.push(j);
    cur = j;
  }
}

/** The node's jump host: its own, else the default (which does not apply to the jump node itself). */
export function effectiveJump(inv: InventoryFile, node: string): InventoryFile['nodes'][string]['ssh']['jump'] {
  const own = inv.nodes[node]?.ssh.jump;
  if (own !== undefined) return own;
  const d = inv.ssh?.jump;
  return d === node ? undefined : d;
}
