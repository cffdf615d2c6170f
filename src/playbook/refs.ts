/**
 * Inventory references in step parameters, without a templating language:
 *
 *   !ref self.networks.replication.address   the node the step runs on
 *   !ref nodes.alice.networks.lan.address    a named node
 *   !ref primary.networks.lan.address        the node with role "primary"
 *   !ref nodes[*].networks.lan.address       a list, one item per node (inventory order)
 *   !ref peers[*].name                       the same, without the node the step runs on
 *   !ref targets[*].name                     the same, for the nodes the step runs on (its `on:`)
 *   !ref group.storage[*].name               the same, for the nodes of a group
 *   !ref nodes[*]                            the nodes themselves (a list of node views, for
 *                                            kinds that take members: hosts `nodes`, corosync `members`)
 *   !ref nodes[0].name, group.storage[1].name, targets[0]...   one node by position (inventory order)
 *   !ref cluster.drbd.mysql.port             cluster data (drbd, filesystems, vips by name)
 *   !ref vars.x                              the node's vars (cluster vars overridden by node vars)
 *   !concat [!ref self.name, ".example.com"] strings and references joined into one string
 *
 * A node exposes: name, host, port, user, roles, groups, networks.<net>.{address,
 * interface, prefix, cidr}, vars. The cluster exposes: name, primary, nodes (names),
 * vars, networks.<net>.{cidr, address, prefix}, drbd.<name>.{name, minor, device, port,
 * network, meta_disk, protocol, sync_rate, max_peers, quorum, on_no_quorum, nodes, hosts.<node>.{disk, address, port},
 * members[i].{name, node_id, address, port, disk}, shared_secret}, filesystems.<name>.{...}, vips.<name>.{name, ip, cidr_netmask, nic, network, hostnames},
 * fencing.{enabled, action, timeout, delay_max, drbd, devices[i].{name, agent, fences, params,
 * secret_params, monitor}, heuristics.{name, targets, count, good_count, interval, timeout, maxfail},
 * sbd.{name, devices, watchdog, watchdog_timeout, msgwait, startmode, overwrite}}
 * (the inventory's `fencing:`; enabled false when it has none; heuristics only when set),
 * secrets.<name> (the inventory's `secrets:`, masked in every output).
 */
import { isAlias, isMap, isPair, isScalar, isSeq, YAMLSeq, type Tags } from 'yaml';
import { didYouMean } from '../inventory/errors.js';
import type { YamlSource } from '../inventory/source.js';
import type { ClusterModel, Fencing, ResolvedNode } from '../inventory/types.js';

export const REF_TAG = '!ref';
export const CONCAT_TAG = '!concat';

/** Custom tags known to the playbook parser (values are resolved later, per node). */
export const playbookTags: Tags = [
  { tag: REF_TAG, resolve: (s: string) => s },
  { tag: CONCAT_TAG, collection: 'seq', nodeClass: YAMLSeq, resolve: (seq: unknown) => seq } as unknown as Tags[number],
];

export type DocPath = (string | number)[];

export class RefValue {
  constructor(
    readonly expr: string,
    readonly docPath: DocPath,
  ) {}
}

export class ConcatValue {
  constructor(
    readonly parts: readonly ParamTree[],
    readonly docPath: DocPath,
  ) {}
}

/** Step parameters as written: plain data with references left in place. */
export type ParamTree = RefValue | ConcatValue | null | string | number | boolean | ParamTree[] | { [k: string]: ParamTree };

export interface RefProblem {
  docPath: DocPath;
  message: string;
}

const ROOT = /^(self|primary|vars|cluster|(nodes|targets|group\.[A-Za-z0-9_-]+)\[(\*|[0-9]+)\]|peers\[\*\]|nodes\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[A-Za-z0-9_-]+)*$/;

/** `nodes[*]`, `targets[1]`, `group.storage[*]`: which list of nodes, and all of them or one. */
const LIST_ROOT = /^(nodes|targets|group\.([A-Za-z0-9_-]+))\[(\*|[0-9]+)\]/;

/** Reads the YAML subtree at `at` into a ParamTree; reports malformed references. */
export function readParamTree(source: YamlSource, at: DocPath): { tree: ParamTree; problems: RefProblem[] } {
  const problems: RefProblem[] = [];
  const walk = (node: unknown, p: DocPath): ParamTree => {
    if (isAlias(node)) {
      // parseYamlSource refused cycles and alias bombs, so this ends; a depth bound all the same
      if (p.length - at.length > 500) {
        problems.push({ docPath: p, message: `alias *${node.source} nests more than 500 levels deep` });
        return null;
      }
      return walk(source.aliases.get(node) ?? node.resolve(source.doc), p);
    }
    if (isScalar(node)) {
      if (node.tag === REF_TAG) {
        const expr = String(node.value).trim();
        if (!ROOT.test(expr)) {
          problems.push({
            docPath: p,
            message: `expected a reference such as self.networks.lan.address, nodes.<name>..., primary..., nodes[*]..., peers[*]..., targets[*]..., group.<name>[*]..., nodes[0]..., cluster... or vars..., found "${expr}"`,
          });
        }
        return new RefValue(expr, p);
      }
      const v = node.value;
      if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
      return String(v);
    }
    if (isSeq(node)) {
      const items = node.items.map((item, i) => walk(item, [...p, i]));
      if (node.tag === CONCAT_TAG) return new ConcatValue(items, p);
      return items;
    }
    if (isMap(node)) {
      const out: { [k: string]: ParamTree } = {};
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        out[key] = walk(pair.value, [...p, key]);
      }
      return out;
    }
    return null;
  };
  return { tree: walk(source.doc.getIn(at, true), at), problems };
}

/** References outside `steps[*].with` are errors (they would never be resolved). */
export function misplacedTags(source: YamlSource): RefProblem[] {
  const out: RefProblem[] = [];
  const walk = (node: unknown, p: DocPath) => {
    if (isAlias(node)) return;
    const insideWith = p.length >= 3 && p[0] === 'steps' && p[2] === 'with';
    if ((isScalar(node) || isSeq(node) || isMap(node)) && (node.tag === REF_TAG || node.tag === CONCAT_TAG) && !insideWith) {
      out.push({ docPath: p, message: `${node.tag} is only allowed inside a step's "with:" parameters` });
    }
    if (isSeq(node)) node.items.forEach((item, i) => walk(item, [...p, i]));
    if (isMap(node)) {
      for (const pair of node.items) if (isPair(pair) && isScalar(pair.key)) walk(pair.value, [...p, String(pair.key.value)]);
    }
  };
  walk(source.doc.contents, []);
  return out;
}

/** What references can see (no credentials). */
export interface RefScope {
  nodes: Record<string, Record<string, unknown>>;
  order: string[];
  cluster: Record<string, unknown>;
  primary?: string;
  /** The nodes the step being resolved runs on (inventory order), for `targets[...]`. */
  targets?: readonly string[];
}

export function buildScope(nodes: readonly ResolvedNode[], cluster: ClusterModel): RefScope {
  const cidrOf = new Map(cluster.networks.map((n) => [n.name, n.cidr]));
  const nodeViews: Record<string, Record<string, unknown>> = {};
  for (const n of nodes) {
    nodeViews[n.name] = {
      name: n.name,
      host: n.endpoint.host,
      port: n.endpoint.port,
      user: n.endpoint.user,
      roles: n.roles,
      groups: n.groups,
      networks: Object.fromEntries(Object.entries(n.networks).map(([k, a]) => [k, { ...a, cidr: cidrOf.get(k) }])),
      vars: n.vars,
    };
  }
  const byName = <T extends { name: string }>(xs: readonly T[], f: (x: T) => Record<string, unknown>) => Object.fromEntries(xs.map((x) => [x.name, f(x)]));
  const view: Record<string, unknown> = {
    name: cluster.name,
    primary: cluster.primary,
    nodes: nodes.map((n) => n.name),
    vars: cluster.vars,
    networks: byName(cluster.networks, (n) => ({ cidr: n.cidr, address: n.address, prefix: n.prefix })),
    drbd: byName(cluster.drbd, (d) => ({
      name: d.name,
      minor: d.minor,
      device: d.device,
      port: d.port,
      network: d.network,
      meta_disk: d.metaDisk,
      protocol: d.protocol,
      sync_rate: d.syncRate,
      max_peers: d.maxPeers,
      quorum: d.quorum,
      on_no_quorum: d.onNoQuorum,
      nodes: d.nodes,
      hosts: d.hosts,
      // The same hosts as a list, with DRBD node ids (the inventory's, else the position in `nodes`).
      members: d.nodes.map((n) => ({ name: n, node_id: d.hosts[n]!.nodeId, address: d.hosts[n]!.address, port: d.hosts[n]!.port, disk: d.hosts[n]!.disk })),
      shared_secret: d.sharedSecret,
    })),
    filesystems: byName(cluster.filesystems, (f) => ({ ...f })),
    vips: byName(cluster.vips, (v) => ({ name: v.name, ip: v.ip, cidr_netmask: v.cidrNetmask, nic: v.nic, network: v.network, hostnames: v.hostnames })),
    // Fencing as crm-configure's `fencing` and drbd-resource's `fencing` take it.
    fencing: fencingView(cluster.fencing),
    // The inventory's named secrets (masked everywhere: Project.secrets).
    secrets: { ...(cluster.secrets ?? {}) },
  };
  return { nodes: nodeViews, order: nodes.map((n) => n.name), cluster: view, ...(cluster.primary ? { primary: cluster.primary } : {}) };
}

/** `cluster.fencing`: the shape of crm-configure's `fencing` parameter (src/steps/fencing.ts). */
function fencingView(f: Fencing): Record<string, unknown> {
  return {
    enabled: f.enabled,
    action: f.action,
    ...(f.timeoutS !== undefined ? { timeout: f.timeoutS } : {}),
    delay_max: f.delayMaxS,
    drbd: f.drbd,
    devices: f.devices.map((d) => ({ name: d.name, agent: d.agent, fences: d.fences, params: d.params, secret_params: d.secretParams, monitor: d.monitorS })),
    ...(f.heuristics
      ? {
          heuristics: {
            name: f.heuristics.name,
            targets: f.heuristics.targets,
            count: f.heuristics.count,
            good_count: f.heuristics.goodCount,
            interval: f.heuristics.intervalS,
            timeout: f.heuristics.timeoutS,
            maxfail: f.heuristics.maxfail,
          },
        }
      : {}),
    ...(f.sbd
      ? {
          sbd: {
            name: f.sbd.name,
            devices: f.sbd.devices,
            watchdog: f.sbd.watchdog,
            watchdog_timeout: f.sbd.watchdogTimeoutS,
            msgwait: f.sbd.msgwaitS,
            startmode: f.sbd.startmode,
            overwrite: f.sbd.overwrite,
          },
        }
      : {}),
  };
}

type Walk = { ok: true; value: unknown } | { ok: false; message: string };

function walkPath(start: unknown, startLabel: string, segs: readonly string[]): Walk {
  let cur = start;
  let label = startLabel;
  for (const seg of segs) {
    if (Array.isArray(cur) && /^[0-9]+$/.test(seg) && Number(seg) < cur.length) cur = cur[Number(seg)];
    else if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, seg) && (cur as Record<string, unknown>)[seg] !== undefined) {
      cur = (cur as Record<string, unknown>)[seg];
    } else {
      const keys = cur !== null && typeof cur === 'object' && !Array.isArray(cur) ? Object.keys(cur).filter((k) => (cur as Record<string, unknown>)[k] !== undefined) : [];
      const isObj = cur !== null && typeof cur === 'object';
      const has = Array.isArray(cur)
        ? ` (a list of ${cur.length})`
        : keys.length
          ? ` (it has: ${keys.join(', ')})`
          : isObj || cur === undefined || cur === null
            ? ' (it is empty)'
            : ` (it is the value ${JSON.stringify(cur)})`;
      return { ok: false, message: `${label} has no "${seg}"${didYouMean(seg, keys)}${has}` };
    }
    label = `${label}.${seg}`;
  }
  return { ok: true, value: cur };
}

/** Resolves one reference for the node `self`. */
export function resolveRef(expr: string, self: string, scope: RefScope): Walk {
  const list = LIST_ROOT.exec(expr);
  if (list)
    return resolveListRef(
      list,
      expr
        .slice(list[0].length)
        .split('.')
        .filter((s) => s !== ''),
      scope,
    );
  const segs = expr.split('.');
  const root = segs[0]!;
  switch (root) {
    case 'self':
      return walkPath(scope.nodes[self], 'self', segs.slice(1));
    case 'vars':
      return walkPath(scope.nodes[self]!['vars'], 'vars', segs.slice(1));
    case 'primary':
      if (!scope.primary) return { ok: false, message: 'no node has role "primary" (add `roles: [primary]` to one node)' };
      return walkPath(scope.nodes[scope.primary], `node ${scope.primary} (primary)`, segs.slice(1));
    case 'cluster':
      return walkPath(scope.cluster, 'cluster', segs.slice(1));
    case 'nodes[*]':
    case 'peers[*]': {
      const names = root === 'nodes[*]' ? scope.order : scope.order.filter((n) => n !== self);
      const out: unknown[] = [];
      for (const n of names) {
        const r = walkPath(scope.nodes[n], `node ${n}`, segs.slice(1));
        if (!r.ok) return r;
        out.push(r.value);
      }
      return { ok: true, value: out };
    }
    case 'nodes': {
      const name = segs[1]!;
      if (!scope.nodes[name]) return { ok: false, message: `no node named "${name}"${didYouMean(name, scope.order)} (nodes: ${scope.order.join(', ')})` };
      return walkPath(scope.nodes[name], `node ${name}`, segs.slice(2));
    }
    default:
      return { ok: false, message: `unknown reference root "${root}"` };
  }
}

function resolveListRef(m: RegExpExecArray, segs: readonly string[], scope: RefScope): Walk {
  const [, which, group, index] = m;
  let names: readonly string[];
  let label: string;
  if (which === 'nodes') {
    names = scope.order;
    label = 'nodes';
  } else if (which === 'targets') {
    names = scope.targets ?? [];
    label = "the step's targets";
  } else {
    names = scope.order.filter((n) => (scope.nodes[n]!['groups'] as readonly string[]).includes(group!));
    label = `group ${group}`;
    if (names.length === 0) {
      const known = [...new Set(scope.order.flatMap((n) => scope.nodes[n]!['groups'] as string[]))];
      return { ok: false, message: `no node is in group "${group}"${didYouMean(group!, known)}${known.length ? ` (groups: ${known.join(', ')})` : ''}` };
    }
  }
  if (index !== '*') {
    const name = names[Number(index)];
    if (name === undefined) return { ok: false, message: `${label} has no node [${index}] (it has ${names.length}: ${names.join(', ')})` };
    return walkPath(scope.nodes[name], `node ${name}`, segs);
  }
  const out: unknown[] = [];
  for (const n of names) {
    const r = walkPath(scope.nodes[n], `node ${n}`, segs);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return { ok: true, value: out };
}

/** Replaces every reference in `tree` with its value for node `self`. */
export function resolveTree(tree: ParamTree, self: string, scope: RefScope): { value: unknown; problems: RefProblem[] } {
  const problems: RefProblem[] = [];
  const go = (t: ParamTree): unknown => {
    if (t instanceof RefValue) {
      const r = resolveRef(t.expr, self, scope);
      if (!r.ok) {
        problems.push({ docPath: t.docPath, message: `cannot resolve !ref ${t.expr}: ${r.message}` });
        return undefined;
      }
      return structuredClone(r.value);
    }
    if (t instanceof ConcatValue) {
      let s = '';
      t.parts.forEach((part, i) => {
        const v = go(part);
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') s += String(v);
        else if (v !== undefined)
          problems.push({
            docPath: [...t.docPath, i],
            message: `expected a string or number to join with !concat, found ${Array.isArray(v) ? 'a list' : v === null ? 'an empty value' : 'a map'}`,
          });
      });
      return s;
    }
    if (Array.isArray(t)) return t.map(go);
    if (t !== null && typeof t === 'object') return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, go(v)]));
    return t;
  };
  return { value: go(tree), problems };
}
