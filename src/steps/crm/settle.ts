/**
 * Whether the cluster has brought the declared primitives to their target
 * roles, and if not, why (failed, still acting, or settled without them).
 */
import type { Cib, NvMap } from '../../facts/cib.js';
import type { CrmMon } from '../../facts/crm-mon.js';
import type { Primitive } from './objects.js';

/** Effective target-role of a primitive: its own meta, else its parents'. */
function targetRole(id: string, cib: Cib): string | undefined {
  let cur: string | undefined = id;
  for (let depth = 0; cur !== undefined && depth < 4; depth++) {
    const o = cib.objects.get(cur);
    const meta = o && 'meta' in o ? (o.meta as NvMap) : undefined;
    if (meta?.['target-role'] !== undefined) return meta['target-role'];
    const parentId: string | undefined = [...cib.objects.values()].find((x) => (x.type === 'group' && x.members.includes(cur!)) || (x.type === 'clone' && x.child === cur))?.id;
    cur = parentId;
  }
  return undefined;
}

function promotable(id: string, cib: Cib): boolean {
  for (const o of cib.objects.values()) {
    if (o.type !== 'clone' || o.meta['promotable'] !== 'true') continue;
    if (o.child === id) return true;
    const g = cib.objects.get(o.child);
    if (g?.type === 'group' && g.members.includes(id)) return true;
  }
  return false;
}

export interface NotReady {
  id: string;
  failed: boolean;
  /** An action on it is running now (Starting, Promoting...). */
  acting?: boolean;
  /** Why, for messages. */
  text: string;
}

/**
 * Roles crm_mon shows while an action runs (record-pending): the cluster is
 * still acting even when crm_simulate's transition summary, which counts
 * only actions not yet started, is empty.
 */
const IN_FLIGHT = new Set(['Starting', 'Stopping', 'Promoting', 'Demoting', 'Migrating']);

/** Declared primitives not yet in their target role, with why. */
export function notReady(p: { primitives: readonly Primitive[] }, cib: Cib, mon: Extract<CrmMon, { state: 'up' }>): NotReady[] {
  const out: NotReady[] = [];
  for (const prim of p.primitives) {
    const role = targetRole(prim.id, cib)?.toLowerCase();
    if (role === 'stopped') continue;
    // a group starts its members in order: a stopped member holds back the ones after it
    const group = [...cib.objects.values()].find((o) => o.type === 'group' && o.members.includes(prim.id));
    if (group?.type === 'group' && group.members.slice(0, group.members.indexOf(prim.id)).some((m) => targetRole(m, cib)?.toLowerCase() === 'stopped')) continue;
    const inst = mon.instances.filter((i) => i.id === prim.id);
    if (inst.some((i) => !i.managed)) continue;
    const failed = inst.filter((i) => i.failed);
    if (failed.length) {
      out.push({ id: prim.id, failed: true, text: `${prim.id} failed on ${failed.flatMap((i) => i.nodes).join(', ') || '?'}` });
      continue;
    }
    const wantPromoted = promotable(prim.id, cib) && role !== 'unpromoted' && role !== 'slave';
    const ok = wantPromoted ? inst.some((i) => i.role === 'Promoted') : inst.some((i) => i.active && (i.role === 'Started' || i.role === 'Promoted' || i.role === 'Unpromoted'));
    const acting = inst.some((i) => IN_FLIGHT.has(i.role));
    // stopped after a failed start (start-failure-is-fatal): crm_mon marks no instance failed
    const fails = mon.failed.filter((f) => f.resource === prim.id);
    if (!ok && !acting && fails.length) {
      out.push({ id: prim.id, failed: true, text: `${prim.id} failed: ${fails.map((f) => `${f.task} on ${f.node}${f.why ? ` (${f.why})` : ''}`).join(', ')}` });
      continue;
    }
    if (!ok)
      out.push({
        id: prim.id,
        failed: false,
        acting,
        text: `${prim.id} not yet ${wantPromoted ? 'Promoted' : 'Started'} (${inst.map((i) => i.role).join(', ') || 'no instance'})`,
      });
  }
  return out;
}
