/**
 * The CIB `<configuration>` a crm-configure commit writes: the live one as
 * read, with the objects and properties that differ (difference.ts) written
 * in, in Pacemaker's own XML. Only Pacemaker's tools apply it on the node
 * (cibadmin, crm_diff: difference.ts's APPLY_SCRIPT); crmsh is not needed.
 *
 * Everything not declared is kept as read: other objects, rules, ids,
 * undeclared meta keys, fencing levels. Ids of existing attribute sets, nvpairs and
 * operations are kept, so the patch Pacemaker computes holds only the real
 * changes; new ones are named as crmsh names them (`RSC-instance_attributes`,
 * `RSC-instance_attributes-NAME`, `RSC-monitor-30s`), so that a cluster
 * configured earlier with crmsh and this tool agree.
 *
 * Nesting follows the declaration: a group's members and a clone's child are
 * moved inside it (from wherever they are); a member a group no longer
 * declares is kept, as a resource of its own at the top level.
 */
import type { Cib, NvMap } from '../../facts/cib.js';
import type { XmlElement } from '../../facts/xml.js';
import type { Wanted } from './objects.js';

/** What to write: the merged objects (mergeLive) and the properties whose values change. */
export interface Writes {
  objects: Wanted[];
  properties: NvMap;
  rscDefaults: NvMap;
}

const RESOURCE_TAGS = new Set(['primitive', 'group', 'clone', 'master', 'bundle']);

function el(name: string, attrs: Record<string, string>, children: XmlElement[] = []): XmlElement {
  return { name, attrs, children };
}

function copy(e: XmlElement): XmlElement {
  return { name: e.name, attrs: { ...e.attrs }, children: e.children.map(copy) };
}

/** The element with this id under `root` and its parent. */
function find(root: XmlElement, id: string): { node: XmlElement; parent: XmlElement } | undefined {
  for (const c of root.children) {
    if (c.attrs['id'] === id) return { node: c, parent: root };
    const deeper = find(c, id);
    if (deeper) return deeper;
  }
  return undefined;
}

function section(conf: XmlElement, name: string): XmlElement {
  let s = conf.children.find((c) => c.name === name);
  if (!s) {
    s = el(name, {});
    conf.children.push(s);
  }
  return s;
}

function detach(found: { node: XmlElement; parent: XmlElement }): XmlElement {
  found.parent.children = found.parent.children.filter((c) => c !== found.node);
  return found.node;
}

/**
 * Sets `want` in `sets`: an nvpair found in any of them gets its value in
 * place (keeping its id); the missing ones go into the first set, or into the
 * one `newSet` adds when there is none.
 */
function writePairs(sets: XmlElement[], want: NvMap, newSet: () => XmlElement): void {
  const missing = Object.entries(want).filter(([k, v]) => {
    const nv = sets.flatMap((s) => s.children).find((c) => c.name === 'nvpair' && c.attrs['name'] === k);
    if (nv) nv.attrs['value'] = v;
    return !nv;
  });
  if (missing.length === 0) return;
  const set = sets[0] ?? newSet();
  for (const [k, v] of missing) set.children.push(el('nvpair', { id: `${set.attrs['id']}-${k}`, name: k, value: v }));
}

/**
 * Sets `want` in the attribute sets `tag` of `owner` (a new one is named
 * `${owner id}-${tag}`). `exact`: names not in `want` are removed from every
 * set of that tag (a primitive's params); otherwise they are kept (meta:
 * undeclared keys stay).
 */
function setPairs(owner: XmlElement, tag: string, want: NvMap, exact: boolean): void {
  const sets = owner.children.filter((c) => c.name === tag);
  if (exact) for (const s of sets) s.children = s.children.filter((nv) => nv.name !== 'nvpair' || want[nv.attrs['name'] ?? ''] !== undefined);
  writePairs(sets, want, () => {
    const set = el(tag, { id: `${owner.attrs['id']}-${tag}` });
    owner.children.push(set);
    return set;
  });
}

/** `want`'s attributes in the order `live` has them (new ones after): an element rewritten with the same values is unchanged. */
function ordered(live: Record<string, string>, want: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(live)) if (want[k] !== undefined) out[k] = want[k];
  return { ...out, ...want };
}

function agentAttrs(agent: string): Record<string, string> {
  const parts = agent.split(':');
  return parts.length === 3 ? { class: parts[0]!, provider: parts[1]!, type: parts[2]! } : { class: parts[0]!, type: parts[1]! };
}

function writePrimitive(live: XmlElement | undefined, w: Extract<Wanted, { type: 'primitive' }>): XmlElement {
  const p = live ?? el('primitive', { id: w.id });
  const { id: _id, class: _c, provider: _p, type: _t, ...other } = p.attrs;
  p.attrs = ordered(p.attrs, { id: w.id, ...agentAttrs(w.agent), ...other });
  setPairs(p, 'instance_attributes', w.params, true);
  setPairs(p, 'meta_attributes', w.meta, false);
  // operations: exactly the declared ones, each keeping the id of the live op it matches
  const opsEl = p.children.find((c) => c.name === 'operations');
  const liveOps = opsEl ? opsEl.children.filter((c) => c.name === 'op') : [];
  const used = new Set<string>();
  const ops = w.ops.map((op) => {
    const interval = op.attrs['interval'] ?? '0';
    const match = liveOps.find((l) => !used.has(l.attrs['id'] ?? '') && l.attrs['name'] === op.name && l.attrs['interval'] === interval && l.attrs['role'] === op.attrs['role']);
    if (match) {
      used.add(match.attrs['id'] ?? '');
      match.attrs = ordered(match.attrs, { id: match.attrs['id'] ?? '', name: op.name, ...op.attrs });
      return match;
    }
    let id = `${w.id}-${op.name}-${interval}`;
    for (let n = 1; used.has(id); n++) id = `${w.id}-${op.name}-${interval}-${n}`;
    used.add(id);
    return el('op', { id, name: op.name, ...op.attrs });
  });
  if (opsEl && ops.length) opsEl.children = ops;
  else if (opsEl) p.children = p.children.filter((c) => c !== opsEl);
  else if (ops.length) p.children.push(el('operations', {}, ops));
  return p;
}

/** Puts `node` at the top level of resources unless it is there already. */
function toTop(resources: XmlElement, node: XmlElement): void {
  if (!resources.children.includes(node)) resources.children.push(node);
}

/**
 * The configuration to commit: `cib.configuration` (not modified) with
 * `writes` applied.
 */
export function newConfiguration(cib: Cib, writes: Writes): XmlElement {
  const conf = copy(cib.configuration);
  const resources = section(conf, 'resources');
  const constraints = section(conf, 'constraints');
  // a resource taken out of wherever it is (every written one is in the tree by then)
  const take = (id: string): XmlElement | undefined => {
    const found = find(resources, id);
    return found ? detach(found) : undefined;
  };
  const byType = (t: Wanted['type']) => writes.objects.filter((o) => o.type === t);

  for (const w of byType('primitive') as Extract<Wanted, { type: 'primitive' }>[]) {
    const found = find(resources, w.id);
    const node = writePrimitive(found?.node, w);
    if (!found) resources.children.push(node);
  }
  for (const w of byType('group') as Extract<Wanted, { type: 'group' }>[]) {
    const found = find(resources, w.id);
    const g = found?.node ?? el('group', { id: w.id });
    if (!found) resources.children.push(g);
    setPairs(g, 'meta_attributes', w.meta, false);
    const oldMembers = g.children.filter((c) => c.name === 'primitive');
    g.children = g.children.filter((c) => c.name !== 'primitive');
    const members = w.members.map((m) => take(m) ?? el('primitive', { id: m }));
    g.children.push(...members);
    for (const old of oldMembers) if (!w.members.includes(old.attrs['id'] ?? '')) resources.children.push(old);
  }
  for (const w of byType('clone') as Extract<Wanted, { type: 'clone' }>[]) {
    const found = find(resources, w.id);
    const c = found?.node ?? el('clone', { id: w.id });
    if (!found) resources.children.push(c);
    const meta = { ...w.meta };
    // <master> says promotable by its name
    if (c.name === 'master') delete meta['promotable'];
    setPairs(c, 'meta_attributes', meta, false);
    const old = c.children.filter((x) => RESOURCE_TAGS.has(x.name));
    c.children = c.children.filter((x) => !RESOURCE_TAGS.has(x.name));
    const inner = take(w.child);
    if (inner) c.children.push(inner);
    for (const o of old) if (o !== inner && o.attrs['id'] !== w.child) toTop(resources, o);
  }

  for (const w of writes.objects) {
    const c = constraintElement(w);
    if (!c) continue;
    const found = find(constraints, w.id);
    if (found) found.parent.children[found.parent.children.indexOf(found.node)] = { ...c, attrs: ordered(found.node.attrs, c.attrs) };
    else constraints.children.push(c);
  }

  // fencing levels: in place by id; the levels not declared are kept
  const levels = byType('fencing-level') as Extract<Wanted, { type: 'fencing-level' }>[];
  if (levels.length) {
    const topology = section(conf, 'fencing-topology');
    for (const w of levels) {
      const e = el('fencing-level', { id: w.id, target: w.target, index: String(w.index), devices: w.devices.join(',') });
      const i = topology.children.findIndex((c) => c.attrs['id'] === w.id);
      if (i >= 0) topology.children[i] = { ...e, attrs: ordered(topology.children[i]!.attrs, e.attrs) };
      else topology.children.push(e);
    }
  }

  if (Object.keys(writes.properties).length) {
    const crmConfig = section(conf, 'crm_config');
    const bootstrap = crmConfig.children.filter((c) => c.name === 'cluster_property_set' && c.attrs['id'] === 'cib-bootstrap-options');
    writePairs(bootstrap, writes.properties, () => {
      const set = el('cluster_property_set', { id: 'cib-bootstrap-options' });
      crmConfig.children.unshift(set);
      return set;
    });
  }
  if (Object.keys(writes.rscDefaults).length) {
    const defaults = section(conf, 'rsc_defaults');
    writePairs(
      defaults.children.filter((c) => c.name === 'meta_attributes'),
      writes.rscDefaults,
      () => {
        const set = el('meta_attributes', { id: 'rsc-options' });
        defaults.children.push(set);
        return set;
      },
    );
  }
  return conf;
}

function constraintElement(w: Wanted): XmlElement | undefined {
  switch (w.type) {
    case 'colocation':
      return el('rsc_colocation', {
        id: w.id,
        score: w.score,
        rsc: w.rsc,
        ...(w.rscRole !== undefined ? { 'rsc-role': w.rscRole } : {}),
        'with-rsc': w.withRsc,
        ...(w.withRscRole !== undefined ? { 'with-rsc-role': w.withRscRole } : {}),
      });
    case 'order':
      return el('rsc_order', {
        id: w.id,
        kind: w.kind,
        first: w.first,
        ...(w.firstAction !== undefined ? { 'first-action': w.firstAction } : {}),
        then: w.then,
        ...(w.thenAction !== undefined ? { 'then-action': w.thenAction } : {}),
      });
    case 'location':
      return el('rsc_location', { id: w.id, rsc: w.rsc, ...(w.role !== undefined ? { role: w.role } : {}), node: w.node, score: w.score });
    default:
      return undefined;
  }
}
