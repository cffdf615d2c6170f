/**
 * The Pacemaker CIB as facts: `cibadmin --query` parsed into a model that
 * can be compared with what a playbook declares (ids of nvpairs and ops are
 * ignored; roles and scores normalised), plus the CIB version that guards a
 * commit (see src/steps/kinds/crm-configure.ts).
 */
import type { FactProbe, ProbeResult } from '../steps/contract.js';
import { child, children, parseXml, type XmlElement } from './xml.js';

export type NvMap = Record<string, string>;

export interface CibOp {
  name: string;
  /** Every attribute but id and name (interval, timeout, role, on-fail...). */
  attrs: NvMap;
}

export type CibObject =
  | { type: 'primitive'; id: string; agent: string; params: NvMap; meta: NvMap; ops: CibOp[] }
  | { type: 'group'; id: string; members: string[]; meta: NvMap }
  /** `<clone>`, or the deprecated `<master>` (then meta.promotable is "true"). */
  | { type: 'clone'; id: string; child: string; meta: NvMap; legacyMaster: boolean }
  | { type: 'colocation'; id: string; score: string; rsc: string; rscRole?: string; withRsc: string; withRscRole?: string }
  | { type: 'order'; id: string; kind: string; first: string; firstAction?: string; then: string; thenAction?: string }
  /** A simple `<rsc_location rsc node score [role]>` (no rules, no sets). */
  | { type: 'location'; id: string; rsc: string; role?: string; node: string; score: string }
  /** A `<fencing-level>` of the fencing topology for one node (`target`); `devices` all must succeed, in order. */
  | { type: 'fencing-level'; id: string; target: string; index: number; devices: string[] }
  /** Anything else with an id under resources/constraints/fencing-topology (location, ticket, bundle, sets, levels by pattern or attribute...). */
  | { type: 'other'; id: string; element: string };

export interface CibVersion {
  adminEpoch: number;
  epoch: number;
  numUpdates: number;
}

export interface Cib {
  version: CibVersion;
  /** cluster_property_set "cib-bootstrap-options". */
  properties: NvMap;
  /** All rsc_defaults meta_attributes nvpairs; `rscDefaultsSet` is the id of the first set. */
  rscDefaults: NvMap;
  rscDefaultsSet?: string;
  objects: Map<string, CibObject>;
  /** Node names (uname) in the nodes section. */
  nodes: string[];
  /** The `<configuration>` element as read: what a commit starts from (src/steps/crm/configuration.ts). */
  configuration: XmlElement;
}

/**
 * The whole CIB in one read (the version attributes and the configuration
 * must come from the same instant), without the status section, which can
 * be large and is not needed: cibadmin's exit code is kept.
 */
const CIB_SCRIPT = 'x=$(cibadmin --query) || exit $?; printf "%s\\n" "$x" | sed "/<status>/,/<\\/status>/d"';

export function cibProbe(sudo?: boolean): FactProbe<ProbeResult> {
  return {
    argv: ['sh', '-c', CIB_SCRIPT],
    ...(sudo ? { sudo } : {}),
    parse: (r) => r,
    // the configuration and its epoch; num_updates (status writes) and cib-last-written move on their own
    digest: (r, id) => {
      const { version, configuration: _tree, ...rest } = parseCib(r, id);
      return { ...rest, version: { adminEpoch: version.adminEpoch, epoch: version.epoch } };
    },
  };
}

/** What cibProbe's sed does, for tests built from full `cibadmin --query` captures. */
export function withoutStatus(xml: string): string {
  const out: string[] = [];
  let skip = false;
  for (const line of xml.split('\n')) {
    if (!skip && line.includes('<status>')) skip = true;
    if (!skip) out.push(line);
    if (skip && line.includes('</status>')) skip = false;
  }
  return out.join('\n');
}

/** Pacemaker 2.1 role names (Master/Slave are the deprecated spellings). */
export function normalizeRole(role: string | undefined): string | undefined {
  if (role === undefined) return undefined;
  const r = role.toLowerCase();
  if (r === 'master' || r === 'promoted') return 'Promoted';
  if (r === 'slave' || r === 'unpromoted') return 'Unpromoted';
  if (r === 'started') return 'Started';
  if (r === 'stopped') return 'Stopped';
  return role;
}

/** INFINITY spellings to one. */
export function normalizeScore(score: string): string {
  const s = score.trim().toLowerCase();
  if (s === 'inf' || s === '+inf' || s === 'infinity' || s === '+infinity') return 'INFINITY';
  if (s === '-inf' || s === '-infinity') return '-INFINITY';
  return score.trim();
}

function nvpairs(sets: XmlElement[]): NvMap {
  const out: NvMap = {};
  for (const set of sets) for (const nv of children(set, 'nvpair')) if (nv.attrs['name'] !== undefined) out[nv.attrs['name']] = nv.attrs['value'] ?? '';
  return out;
}

function metaOf(el: XmlElement): NvMap {
  return nvpairs(children(el, 'meta_attributes'));
}

function primitiveOf(el: XmlElement): CibObject {
  const a = el.attrs;
  const agent = [a['class'], a['provider'], a['type']].filter((x) => x !== undefined).join(':');
  const ops = children(child(el, 'operations') ?? { name: '', attrs: {}, children: [] }, 'op').map((op) => {
    const { id: _id, name, ...rest } = op.attrs;
    if (rest['role'] !== undefined) rest['role'] = normalizeRole(rest['role'])!;
    return { name: name ?? '', attrs: rest };
  });
  return { type: 'primitive', id: a['id']!, agent, params: nvpairs(children(el, 'instance_attributes')), meta: metaOf(el), ops };
}

function resourcesInto(el: XmlElement, out: Map<string, CibObject>): void {
  for (const r of el.children) {
    const id = r.attrs['id'];
    if (id === undefined) continue;
    switch (r.name) {
      case 'primitive':
        out.set(id, primitiveOf(r));
        break;
      case 'group': {
        const members = children(r, 'primitive');
        out.set(id, { type: 'group', id, members: members.map((m) => m.attrs['id']!), meta: metaOf(r) });
        resourcesInto(r, out);
        break;
      }
      case 'clone':
      case 'master': {
        const inner = r.children.find((c) => c.name === 'primitive' || c.name === 'group');
        const meta = metaOf(r);
        if (r.name === 'master') meta['promotable'] = 'true';
        out.set(id, { type: 'clone', id, child: inner?.attrs['id'] ?? '', meta, legacyMaster: r.name === 'master' });
        resourcesInto(r, out);
        break;
      }
      default:
        out.set(id, { type: 'other', id, element: r.name });
    }
  }
}

function constraintOf(c: XmlElement): CibObject {
  const a = c.attrs;
  const id = a['id']!;
  const hasSets = children(c, 'resource_set').length > 0;
  if (c.name === 'rsc_colocation' && !hasSets) {
    return {
      type: 'colocation',
      id,
      score: normalizeScore(a['score'] ?? 'INFINITY'),
      rsc: a['rsc'] ?? '',
      ...(a['rsc-role'] !== undefined ? { rscRole: normalizeRole(a['rsc-role'])! } : {}),
      withRsc: a['with-rsc'] ?? '',
      ...(a['with-rsc-role'] !== undefined ? { withRscRole: normalizeRole(a['with-rsc-role'])! } : {}),
    };
  }
  if (c.name === 'rsc_order' && !hasSets) {
    // score INFINITY (or no kind and no score) is Mandatory; score 0 is Optional
    const score = a['score'] !== undefined ? normalizeScore(a['score']) : undefined;
    const kind = a['kind'] ?? (score === undefined || score === 'INFINITY' ? 'Mandatory' : score === '0' ? 'Optional' : `score ${score}`);
    return {
      type: 'order',
      id,
      kind,
      first: a['first'] ?? '',
      ...(a['first-action'] !== undefined ? { firstAction: a['first-action'] } : {}),
      then: a['then'] ?? '',
      ...(a['then-action'] !== undefined ? { thenAction: a['then-action'] } : {}),
    };
  }
  if (c.name === 'rsc_location' && !hasSets && a['rsc'] !== undefined && a['node'] !== undefined && a['score'] !== undefined && c.children.length === 0) {
    return { type: 'location', id, rsc: a['rsc'], ...(a['role'] !== undefined ? { role: normalizeRole(a['role'])! } : {}), node: a['node'], score: normalizeScore(a['score']) };
  }
  return { type: 'other', id, element: c.name };
}

/** A level for one node by name; a level for nodes by pattern or attribute is 'other'. */
function fencingLevelOf(l: XmlElement): CibObject {
  const a = l.attrs;
  const index = Number(a['index']);
  if (l.name === 'fencing-level' && a['target'] !== undefined && a['devices'] !== undefined && Number.isInteger(index) && index > 0) {
    return { type: 'fencing-level', id: a['id']!, target: a['target'], index, devices: a['devices'].split(',').map((d) => d.trim()) };
  }
  return { type: 'other', id: a['id']!, element: l.name };
}

function int(v: string | undefined): number {
  const n = Number(v ?? '0');
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/** Parses `cibadmin --query` output. Throws on a failed probe or malformed XML. */
export function parseCib(r: ProbeResult, probe = 'cib'): Cib {
  if (r.exitCode !== 0) throw new Error(`probe ${probe} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
  const root = parseXml(r.stdout);
  if (root.name !== 'cib') throw new Error(`probe ${probe}: expected a <cib> document, found <${root.name}>`);
  const conf = child(root, 'configuration');
  if (!conf) throw new Error(`probe ${probe}: the CIB has no <configuration>`);
  const crmConfig = child(conf, 'crm_config');
  const bootstrap = crmConfig ? children(crmConfig, 'cluster_property_set').filter((s) => s.attrs['id'] === 'cib-bootstrap-options') : [];
  const defaults = child(conf, 'rsc_defaults');
  const defaultSets = defaults ? children(defaults, 'meta_attributes') : [];
  const objects = new Map<string, CibObject>();
  const resources = child(conf, 'resources');
  if (resources) resourcesInto(resources, objects);
  const constraints = child(conf, 'constraints');
  for (const c of constraints?.children ?? []) if (c.attrs['id'] !== undefined) objects.set(c.attrs['id'], constraintOf(c));
  const topology = child(conf, 'fencing-topology');
  for (const l of topology?.children ?? []) if (l.attrs['id'] !== undefined) objects.set(l.attrs['id'], fencingLevelOf(l));
  const nodesEl = child(conf, 'nodes');
  return {
    version: { adminEpoch: int(root.attrs['admin_epoch']), epoch: int(root.attrs['epoch']), numUpdates: int(root.attrs['num_updates']) },
    properties: nvpairs(bootstrap),
    rscDefaults: nvpairs(defaultSets),
    ...(defaultSets[0]?.attrs['id'] !== undefined ? { rscDefaultsSet: defaultSets[0].attrs['id'] } : {}),
    objects,
    nodes: nodesEl ? children(nodesEl, 'node').map((n) => n.attrs['uname'] ?? n.attrs['id'] ?? '') : [],
    configuration: conf,
  };
}
