/**
 * Fencing as the steps take it: the inventory's `fencing:` (its view
 * `!ref cluster.fencing`, see src/playbook/refs.ts) turned into what
 * Pacemaker and DRBD need.
 *
 * - crm-configure's `fencing` parameter: one stonith primitive per device
 *   (`stonith:<agent>`, its parameters, `pcmk_host_list` = the nodes it
 *   fences, `pcmk_delay_max`, a monitor operation), a -INFINITY location per
 *   fenced node so that no node runs the device that fences itself, and the
 *   properties stonith-enabled=true, stonith-action, stonith-timeout.
 *   With `sbd`: a fence_sbd device, or stonith-watchdog-timeout (sbdObjects).
 *   With `heuristics`: a fence_heuristics_ping device and a fencing topology
 *   that puts it first on each fenced node's levels (heuristicsObjects).
 *   Fencing off: stonith-enabled=false, which the plan calls UNSAFE.
 * - drbd-resource's `fencing` parameter: DRBD's resource-level fencing
 *   (`fencing resource-and-stonith|resource-only` with the crm-fence-peer.9.sh
 *   and crm-unfence-peer.9.sh handlers).
 */
import { z } from 'zod';
import { SbdParam } from './sbd.js';
import { FencingLevelSchema, Id, LocationSchema, PrimitiveSchema, type FencingLevel } from './crm/objects.js';

const NodeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a node name');

export const DrbdFencing = z.enum(['resource-and-stonith', 'resource-only', 'off']);
export type DrbdFencing = z.infer<typeof DrbdFencing>;

export const FencingParam = z
  .object({
    enabled: z.boolean(),
    action: z.enum(['reboot', 'off']).default('reboot'),
    /** stonith-timeout, seconds. */
    timeout: z.number().int().positive().optional(),
    /** pcmk_delay_max of every device, seconds (0: none). */
    delay_max: z.number().int().min(0).default(0),
    drbd: DrbdFencing.default('resource-and-stonith'),
    devices: z
      .array(
        z
          .object({
            name: Id,
            agent: z.string().regex(/^fence_[a-z0-9_]+$/, 'a fence agent such as fence_ipmilan'),
            fences: z.array(NodeName).min(1),
            params: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'a parameter name'), z.string()).default({}),
            /** Which params hold secrets (their values are masked like every secret). */
            secret_params: z.array(z.string()).default([]),
            /** Monitor interval, seconds. */
            monitor: z.number().int().positive().default(60),
          })
          .strict(),
      )
      .default([]),
    /** SBD instead of devices (src/steps/sbd.ts): a fence_sbd device with disks, stonith-watchdog-timeout without. */
    sbd: SbdParam.optional(),
    /** fence_heuristics_ping before every device (counts; interval and timeout in seconds). */
    heuristics: z
      .object({
        name: Id,
        targets: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.:-]*$/, 'an IP address or a host name')).min(1),
        count: z.number().int().min(1).default(10),
        good_count: z.number().int().min(1).default(8),
        interval: z.number().int().min(1).default(1),
        timeout: z.number().int().min(1).default(2),
        maxfail: z.number().int().min(0).default(0),
      })
      .strict()
      .optional(),
  })
  .strict();
export type FencingParam = z.infer<typeof FencingParam>;

type Primitive = z.infer<typeof PrimitiveSchema>;
type Location = z.infer<typeof LocationSchema>;

export interface FencingObjects {
  primitives: Primitive[];
  locations: Location[];
  /** The fencing topology (only with heuristics): per fenced node, one level per device, the check first. */
  levels: FencingLevel[];
  properties: Record<string, string>;
  /** Why the playbook and the inventory cannot both be had. */
  refusals: string[];
}

/**
 * What `fencing` adds to a crm-configure: pure. `declared` are the playbook's
 * own ids and properties, to refuse a clash rather than override it silently.
 */
export function fencingObjects(f: FencingParam, declared: { ids: ReadonlySet<string>; properties: Readonly<Record<string, string>> }): FencingObjects {
  const out: FencingObjects = { primitives: [], locations: [], levels: [], properties: {}, refusals: [] };
  if (!f.enabled) {
    // Pacemaker refuses to start resources with stonith-enabled=true and no device
    if (declared.properties['stonith-enabled'] === undefined) out.properties['stonith-enabled'] = 'false';
    return out;
  }
  if (declared.properties['stonith-enabled'] !== undefined && declared.properties['stonith-enabled'] !== 'true') {
    out.refusals.push(
      `the playbook sets stonith-enabled=${declared.properties['stonith-enabled']} and the inventory declares fencing (fencing.devices): remove the property from the playbook, or set "fencing: {enabled: false}" in the inventory`,
    );
  }
  if (f.devices.length === 0 && !f.sbd) out.refusals.push('fencing is enabled and declares no device: add fencing.devices (or fencing.sbd) to the inventory');
  if (f.sbd) sbdObjects(f, declared.ids, out);
  for (const d of f.devices) {
    if (declared.ids.has(d.name)) out.refusals.push(`fence device ${d.name} has the id of an object the playbook declares: rename one of them`);
    out.primitives.push(
      PrimitiveSchema.parse({
        id: d.name,
        agent: `stonith:${d.agent}`,
        params: { ...d.params, pcmk_host_list: d.fences.join(' '), ...(f.delay_max > 0 ? { pcmk_delay_max: `${f.delay_max}s` } : {}) },
        ops: [{ name: 'monitor', interval: `${d.monitor}s` }],
      }),
    );
    for (const node of d.fences) out.locations.push(LocationSchema.parse({ id: `${d.name}-not-on-${node}`, resource: d.name, node, score: '-inf' }));
  }
  if (f.heuristics) heuristicsObjects(f, declared.ids, out);
  out.properties['stonith-enabled'] = 'true';
  out.properties['stonith-action'] = f.action;
  if (f.timeout !== undefined) out.properties['stonith-timeout'] = `${f.timeout}s`;
  return out;
}

/**
 * SBD: with disks, one stonith:fence_sbd device (`devices` = the disks,
 * pcmk_delay_max as every device; no location: any node may write a poison
 * pill, even into a slot of its own, and Pacemaker registers it on every
 * node); without, stonith-watchdog-timeout = twice the watchdog timeout
 * (Pacemaker then takes a node without quorum as fenced after it).
 */
function sbdObjects(f: FencingParam, ids: ReadonlySet<string>, out: FencingObjects): void {
  const s = f.sbd!;
  if (f.devices.length) out.refusals.push('the inventory declares fencing.sbd and fencing.devices: SBD fences every node, keep one of them');
  if (f.heuristics) out.refusals.push('fencing.heuristics goes with fencing.devices, not with fencing.sbd');
  if (s.devices.length === 0) {
    out.properties['stonith-watchdog-timeout'] = `${2 * s.watchdog_timeout}s`;
    return;
  }
  if (ids.has(s.name)) out.refusals.push(`the SBD fence device ${s.name} has the id of an object the playbook declares: rename one of them`);
  out.primitives.push(
    PrimitiveSchema.parse({
      id: s.name,
      agent: 'stonith:fence_sbd',
      params: { devices: s.devices.join(','), ...(f.delay_max > 0 ? { pcmk_delay_max: `${f.delay_max}s` } : {}) },
      ops: [{ name: 'monitor', interval: '60s' }],
    }),
  );
}

/**
 * The ping check (fence_heuristics_ping) and the topology that puts it first:
 * for each fenced node, level i = "<check>,<i-th device that fences it>".
 * Every device of a level must succeed, so a node that cannot reach the
 * targets fails the level and does not fence its peer. The check fences
 * nothing itself; it may run on any node (no location constraint): the node
 * that executes a level runs its check. It gets no pcmk_delay_max (the
 * devices have it). Its monitor always succeeds (the agent has no status):
 * only a fencing request runs the pings.
 */
function heuristicsObjects(f: FencingParam, ids: ReadonlySet<string>, out: FencingObjects): void {
  const h = f.heuristics!;
  if (ids.has(h.name)) out.refusals.push(`the heuristics device ${h.name} has the id of an object the playbook declares: rename one of them`);
  if (f.devices.some((d) => d.name === h.name)) out.refusals.push(`the heuristics device ${h.name} has the name of a fence device: rename one of them`);
  const fenced = [...new Set(f.devices.flatMap((d) => d.fences))];
  out.primitives.push(
    PrimitiveSchema.parse({
      id: h.name,
      agent: 'stonith:fence_heuristics_ping',
      params: {
        ping_targets: h.targets.join(','),
        ping_count: h.count,
        ping_good_count: h.good_count,
        ping_interval: h.interval,
        ping_timeout: h.timeout,
        ping_maxfail: h.maxfail,
        pcmk_host_list: fenced.join(' '),
      },
      ops: [{ name: 'monitor', interval: '60s' }],
    }),
  );
  for (const node of fenced) {
    f.devices
      .filter((d) => d.fences.includes(node))
      .forEach((d, i) => {
        const id = `fl-${node}-${i + 1}`;
        if (ids.has(id)) out.refusals.push(`fencing level ${id} has the id of an object the playbook declares: rename it`);
        out.levels.push(FencingLevelSchema.parse({ id, target: node, index: i + 1, devices: [h.name, d.name] }));
      });
  }
}

/** DRBD's resource-level fencing: the `net` option and the handlers (DRBD 9). */
export function drbdFencingLines(policy: DrbdFencing | undefined): { net: string[]; handlers: string[] } {
  if (policy === undefined || policy === 'off') return { net: [], handlers: [] };
  return {
    net: [`    fencing ${policy};`],
    handlers: ['  handlers {', '    fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh";', '    unfence-peer "/usr/lib/drbd/crm-unfence-peer.9.sh";', '  }'],
  };
}

/**
 * The same for a DRBD 8.4 module, as drbd.conf(5) 8.4 and the 8.4 user's
 * guide have it: `fencing` is a `disk` option there, the handlers are the
 * 8.4 scripts (crm-fence-peer.sh, which drbd-utils 9 still ships), and the
 * constraint is removed `after-resync-target` (8.4 calls no unfence-peer).
 */
export function drbdFencingLines84(policy: DrbdFencing | undefined): { net: string[]; disk: string[]; handlers: string[] } {
  if (policy === undefined || policy === 'off') return { net: [], disk: [], handlers: [] };
  return {
    net: [],
    disk: [`    fencing ${policy};`],
    handlers: ['  handlers {', '    fence-peer "/usr/lib/drbd/crm-fence-peer.sh";', '    after-resync-target "/usr/lib/drbd/crm-unfence-peer.sh";', '  }'],
  };
}
