/**
 * The objects a `crm-configure` step declares, compared with the live CIB
 * and rendered in crm shell syntax (crmsh 4.x, Pacemaker 2.1).
 *
 * Comparison rules (what "already right" means):
 *  - primitive: agent, params (exactly), ops (exactly: name + attributes,
 *    durations compared as milliseconds, roles normalised), declared meta keys;
 *  - group: members (exactly, in order), declared meta keys;
 *  - clone: child, declared meta keys (`promotable: true` is meta promotable=true);
 *  - colocation / order / location / fencing level: every field.
 * Meta keys that are not declared (target-role set by `crm resource stop`,
 * is-managed...) are left as they are: the rendered object carries them over.
 */
import { z } from 'zod';
import { normalizeRole, normalizeScore, type CibObject, type NvMap } from '../../facts/cib.js';
import { inCrm } from '../config-values.js';

export const Id = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'a CIB id (letters, digits, "_", "." or "-"; not starting with a digit)');
/** Values go into crm syntax: no quotes, backslashes, newlines or other control characters (config-values.ts). */
const Value = z
  .union([z.string(), z.number(), z.boolean()])
  .transform((v) => String(v))
  .superRefine(inCrm);
const NAME = /^[A-Za-z0-9_.#-]+$/;
const Name = z.string().regex(NAME, 'a name (letters, digits, "_", ".", "-")');
export const NvParams = z.record(Name, Value).default({});
const Role = z.enum(['Started', 'Stopped', 'Promoted', 'Unpromoted', 'Master', 'Slave']).transform((r) => normalizeRole(r)!);

export const OpSchema = z
  .object({
    name: z.enum(['start', 'stop', 'monitor', 'promote', 'demote', 'notify', 'migrate_to', 'migrate_from', 'reload', 'reload-agent']),
    interval: Value.default('0'),
    timeout: Value.optional(),
    role: Role.optional(),
  })
  .catchall(Value)
  // the other attributes' names go into crm syntax as they are (`op monitor NAME=VALUE`)
  .superRefine((op, ctx) => {
    for (const k of Object.keys(op)) {
      if (!NAME.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `expected an operation attribute name (letters, digits, "_", ".", "-"), found ${JSON.stringify(k)}` });
    }
  });

export const PrimitiveSchema = z
  .object({
    id: Id,
    agent: z
      .string()
      .regex(
        /^(ocf:[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+|(lsb|systemd|service|stonith):[A-Za-z0-9@_.-]+)$/,
        'an agent such as ocf:heartbeat:IPaddr2, lsb:mysqld, systemd:mariadb or stonith:fence_ipmilan',
      ),
    params: NvParams,
    meta: NvParams,
    ops: z.array(OpSchema).default([]),
  })
  .strict();
export const GroupSchema = z.object({ id: Id, members: z.array(Id).min(1), meta: NvParams }).strict();
export const CloneSchema = z.object({ id: Id, resource: Id, promotable: z.boolean().default(false), meta: NvParams }).strict();
const Score = z.union([z.literal('inf'), z.literal('-inf'), z.literal('INFINITY'), z.literal('-INFINITY'), z.int()]).transform((s) => normalizeScore(String(s)));
export const ColocationSchema = z.object({ id: Id, score: Score.default('INFINITY'), resource: Id, role: Role.optional(), with: Id, with_role: Role.optional() }).strict();
/** A node preference: `location ID RESOURCE [role=ROLE] SCORE: NODE` (role: e.g. where a promotable clone is Promoted). */
export const LocationSchema = z
  .object({ id: Id, resource: Id, role: Role.optional(), node: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a node name'), score: Score })
  .strict();
const Action = z.enum(['start', 'stop', 'promote', 'demote']);
export const OrderSchema = z
  .object({
    id: Id,
    kind: z.enum(['Mandatory', 'Optional', 'Serialize']).default('Mandatory'),
    first: Id,
    first_action: Action.optional(),
    then: Id,
    then_action: Action.optional(),
  })
  .strict();

/**
 * A level of the fencing topology (crm `fencing_topology`, CIB `<fencing-level>`):
 * to fence `target`, every device of the level must succeed, in order;
 * Pacemaker tries level 1 first, then 2... Ids follow pcs: fl-NODE-INDEX.
 */
export const FencingLevelSchema = z
  .object({
    id: Id,
    target: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a node name'),
    index: z.int().min(1).max(9),
    devices: z.array(Id).min(1),
  })
  .strict();

export type Primitive = z.infer<typeof PrimitiveSchema>;
export type Group = z.infer<typeof GroupSchema>;
export type Clone = z.infer<typeof CloneSchema>;
export type Colocation = z.infer<typeof ColocationSchema>;
export type Order = z.infer<typeof OrderSchema>;
export type Location = z.infer<typeof LocationSchema>;
export type FencingLevel = z.infer<typeof FencingLevelSchema>;

/** A declared object in the CIB's own shape (the shape parseCib gives). */
export type Wanted = Exclude<CibObject, { type: 'other' }>;

export function wantedObjects(p: {
  primitives: Primitive[];
  groups: Group[];
  clones: Clone[];
  colocations: Colocation[];
  orders: Order[];
  locations?: Location[];
  fencing_levels?: FencingLevel[];
}): Wanted[] {
  return [
    ...p.primitives.map((x): Wanted => {
      const ops = x.ops.map(({ name, ...attrs }) => ({ name, attrs: Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined)) as NvMap }));
      return { type: 'primitive', id: x.id, agent: x.agent, params: x.params, meta: x.meta, ops };
    }),
    ...p.groups.map((x): Wanted => ({ type: 'group', id: x.id, members: x.members, meta: x.meta })),
    ...p.clones.map((x): Wanted => ({ type: 'clone', id: x.id, child: x.resource, meta: x.promotable ? { promotable: 'true', ...x.meta } : x.meta, legacyMaster: false })),
    ...p.colocations.map((x): Wanted => ({
      type: 'colocation',
      id: x.id,
      score: x.score,
      rsc: x.resource,
      ...(x.role !== undefined ? { rscRole: x.role } : {}),
      withRsc: x.with,
      ...(x.with_role !== undefined ? { withRscRole: x.with_role } : {}),
    })),
    ...p.orders.map((x): Wanted => ({
      type: 'order',
      id: x.id,
      kind: x.kind,
      first: x.first,
      ...(x.first_action !== undefined ? { firstAction: x.first_action } : {}),
      then: x.then,
      ...(x.then_action !== undefined ? { thenAction: x.then_action } : {}),
    })),
    ...(p.locations ?? []).map((x): Wanted => ({ type: 'location', id: x.id, rsc: x.resource, ...(x.role !== undefined ? { role: x.role } : {}), node: x.node, score: x.score })),
    ...(p.fencing_levels ?? []).map((x): Wanted => ({ type: 'fencing-level', id: x.id, target: x.target, index: x.index, devices: [...x.devices] })),
  ];
}

/** Milliseconds for Pacemaker durations ("30", "30s", "1m", "500ms"); undefined if not one. */
export function durationMs(v: string): number | undefined {
  const m = /^\s*([0-9]+)\s*(ms|msec|us|usec|s|sec|m|min|h|hr)?\s*$/i.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const f: Record<string, number> = { ms: 1, msec: 1, us: 0.001, usec: 0.001, s: 1000, sec: 1000, m: 60000, min: 60000, h: 3600000, hr: 3600000 };
  return n * f[unit]!;
}

const DURATION_KEYS = new Set(['interval', 'timeout', 'start-delay', 'interval-origin']);

function sameValue(key: string, a: string, b: string): boolean {
  if (a === b) return true;
  if (DURATION_KEYS.has(key)) {
    const x = durationMs(a);
    return x !== undefined && x === durationMs(b);
  }
  if (key === 'role') return normalizeRole(a) === normalizeRole(b);
  return false;
}

function sameMap(a: NvMap, b: NvMap): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] !== undefined && sameValue(k, a[k]!, b[k]!));
}

/** Every declared key has its value in live. */
function subMap(declared: NvMap, live: NvMap): boolean {
  return Object.entries(declared).every(([k, v]) => live[k] !== undefined && sameValue(k, v, live[k]!));
}

function sameOps(want: Primitive['ops'] | { name: string; attrs: NvMap }[], live: { name: string; attrs: NvMap }[]): boolean {
  const w = want as { name: string; attrs: NvMap }[];
  if (w.length !== live.length) return false;
  const used = new Set<number>();
  return w.every((op) => {
    const i = live.findIndex((l, j) => !used.has(j) && l.name === op.name && sameMap(op.attrs, l.attrs));
    if (i < 0) return false;
    used.add(i);
    return true;
  });
}

/** True when the live object already is as declared (see the rules at the top). */
export function sameObject(want: Wanted, live: CibObject): boolean {
  if (want.type !== live.type) return false;
  switch (want.type) {
    case 'primitive': {
      const l = live as Extract<CibObject, { type: 'primitive' }>;
      return want.agent === l.agent && sameMap(want.params, l.params) && sameOps(want.ops, l.ops) && subMap(want.meta, l.meta);
    }
    case 'group': {
      const l = live as Extract<CibObject, { type: 'group' }>;
      return want.members.join(' ') === l.members.join(' ') && subMap(want.meta, l.meta);
    }
    case 'clone': {
      const l = live as Extract<CibObject, { type: 'clone' }>;
      return want.child === l.child && subMap(want.meta, l.meta);
    }
    case 'colocation':
      return JSON.stringify(want) === JSON.stringify(live);
    case 'order':
      return JSON.stringify(want) === JSON.stringify(live);
    case 'location':
      return JSON.stringify(want) === JSON.stringify(live);
    case 'fencing-level':
      return JSON.stringify(want) === JSON.stringify(live);
  }
}

/** The object to write: declared fields, plus the live meta keys that are not declared. */
export function mergeLive(want: Wanted, live: CibObject | undefined): Wanted {
  if (!live || live.type !== want.type) return want;
  if (want.type === 'primitive' || want.type === 'group' || want.type === 'clone') {
    const liveMeta = (live as { meta: NvMap }).meta;
    const meta = { ...liveMeta, ...want.meta };
    if (want.type === 'clone' && (live as { legacyMaster?: boolean }).legacyMaster && want.meta['promotable'] !== 'true') delete meta['promotable'];
    return { ...want, meta };
  }
  return want;
}

const BARE = /^[A-Za-z0-9_.:/@%+,=-]+$/;
export function crmValue(v: string): string {
  return BARE.test(v) ? v : `"${v}"`;
}

function pairs(m: NvMap): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${crmValue(v)}`)
    .join(' ');
}

function withRole(id: string, role: string | undefined): string {
  return role === undefined ? id : `${id}:${role}`;
}

function scoreText(s: string): string {
  return s === 'INFINITY' ? 'inf' : s === '-INFINITY' ? '-inf' : s;
}

/** One object in crm shell syntax (continuation lines as `crm configure show` prints them). */
export function renderObject(o: Wanted): string {
  const lines: string[] = [];
  switch (o.type) {
    case 'primitive':
      lines.push(`primitive ${o.id} ${o.agent}`);
      if (Object.keys(o.params).length) lines.push(`\tparams ${pairs(o.params)}`);
      if (Object.keys(o.meta).length) lines.push(`\tmeta ${pairs(o.meta)}`);
      for (const op of o.ops) lines.push(`\top ${op.name}${Object.keys(op.attrs).length ? ' ' + pairs(op.attrs) : ''}`);
      break;
    case 'group':
      lines.push(`group ${o.id} ${o.members.join(' ')}`);
      if (Object.keys(o.meta).length) lines.push(`\tmeta ${pairs(o.meta)}`);
      break;
    case 'clone':
      lines.push(`clone ${o.id} ${o.child}`);
      if (Object.keys(o.meta).length) lines.push(`\tmeta ${pairs(o.meta)}`);
      break;
    case 'colocation':
      lines.push(`colocation ${o.id} ${scoreText(o.score)}: ${withRole(o.rsc, o.rscRole)} ${withRole(o.withRsc, o.withRscRole)}`);
      break;
    case 'order':
      lines.push(`order ${o.id} ${o.kind}: ${withRole(o.first, o.firstAction)} ${withRole(o.then, o.thenAction)}`);
      break;
    case 'location':
      lines.push(`location ${o.id} ${o.rsc}${o.role !== undefined ? ` role=${o.role}` : ''} ${scoreText(o.score)}: ${o.node}`);
      break;
    case 'fencing-level':
      // crm has one fencing_topology for all levels (a target's levels in index order, separated by spaces):
      // one level per line, its index and id in a comment above it
      lines.push(`# fencing level ${o.index} of ${o.target} (${o.id})\nfencing_topology ${o.target}: ${o.devices.join(',')}`);
      break;
  }
  return lines.join(' \\\n') + '\n';
}

/** A live object in crm syntax, for the "before" side of the plan's diff. */
export function renderLive(o: CibObject): string {
  if (o.type === 'other') return `# ${o.element} ${o.id}\n`;
  return renderObject(o);
}
