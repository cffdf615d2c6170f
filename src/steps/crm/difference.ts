/**
 * What a crm-configure step would commit: the declared objects and
 * properties that differ from the live CIB (shown in the plan as crm shell
 * text, before and after; written as XML by configuration.ts), and the
 * script that commits the new configuration with Pacemaker's own tools only
 * while the CIB is still at the epoch it was computed from.
 */
import type { Cib, CibObject, NvMap } from '../../facts/cib.js';
import type { Writes } from './configuration.js';
import { crmValue, mergeLive, renderLive, renderObject, sameObject, wantedObjects, type Wanted } from './objects.js';

/** What the difference is computed from: the step's declared objects and properties. */
export type Declared = Parameters<typeof wantedObjects>[0] & { properties: NvMap; rsc_defaults: NvMap };

/** Unsafe settings the chapter uses for its two-node lab; the plan warns. */
const UNSAFE: Record<string, { value: string; why: string }> = {
  'stonith-enabled': { value: 'false', why: 'without fencing, a node that only looks dead can still write to shared data (split brain)' },
  'no-quorum-policy': { value: 'ignore', why: 'a partition without quorum keeps running resources (split brain in a 2-node cluster without fencing)' },
};

/** The UNSAFE values the params declare (shown even before pacemaker can be asked). */
export function declaredUnsafe(p: Declared): string {
  const w = Object.entries(UNSAFE)
    .filter(([k, u]) => p.properties[k] === u.value)
    .map(([k, u]) => `${k}=${u.value} is UNSAFE outside a lab: ${u.why}`);
  return w.length ? ` -- WARNING: ${w.join('; ')}` : '';
}

/**
 * Read by `sh -s` from stdin, with $1 = planned admin_epoch, $2 = planned epoch,
 * $3 = the file holding the new `<configuration>`. It is written into a COPY
 * of the CIB (`CIB_file=copy cibadmin --replace --scope configuration`, which
 * also checks it against Pacemaker's schema), `crm_diff` makes the patch from
 * the live CIB to that copy (only what really differs), and `cibadmin --patch`
 * applies it guarded by the planned epoch. Only Pacemaker's tools: no crmsh.
 * Exit 75: the CIB changed before the commit started; exit 103 (from
 * cibadmin): it changed while committing. Both: nothing committed.
 */
export const APPLY_SCRIPT = [
  'set -eu',
  'want="$1:$2"; f=$3',
  't=$(mktemp -d); trap \'rm -rf "$t"\' EXIT',
  'cibadmin --query > "$t/orig.xml"',
  'head=$(grep -m1 -o "<cib [^>]*>" "$t/orig.xml")',
  'a=$(printf "%s" "$head" | sed -n "s/.* admin_epoch=\\"\\([0-9]*\\)\\".*/\\1/p")',
  'e=$(printf "%s" "$head" | sed -n "s/.* epoch=\\"\\([0-9]*\\)\\".*/\\1/p")',
  'if [ "${a:-0}:$e" != "$want" ]; then echo "the CIB changed since the difference was computed (epoch $want, now ${a:-0}:$e): nothing committed; run again to recompute the difference" >&2; exit 75; fi',
  'cp "$t/orig.xml" "$t/new.xml"',
  'CIB_file="$t/new.xml" cibadmin --replace --scope configuration --xml-file "$f" >&2',
  'rc=0; crm_diff --original "$t/orig.xml" --new "$t/new.xml" > "$t/patch.xml" || rc=$?',
  'if [ "$rc" -eq 0 ]; then echo "the new configuration equals the live one: nothing to commit" >&2; exit 0; fi',
  'if [ "$rc" -ne 1 ]; then echo "crm_diff failed (exit $rc)" >&2; exit "$rc"; fi',
  // guard on admin_epoch:epoch only: status updates (num_updates) must not refuse the commit
  'sed -i -E "/<source /{s/ num_updates=\\"[0-9]+\\"//; s/ admin_epoch=\\"[0-9]+\\"/ admin_epoch=\\"$1\\"/; s/ epoch=\\"[0-9]+\\"/ epoch=\\"$2\\"/}" "$t/patch.xml"',
  'rc=0; cibadmin --patch --xml-file "$t/patch.xml" || rc=$?',
  'if [ "$rc" -eq 103 ]; then echo "the CIB changed while committing (epoch $want is gone): nothing committed; run again to recompute the difference" >&2; fi',
  'exit "$rc"',
].join('\n');

function propertyLines(set: string, want: NvMap, live: NvMap, prefix: string): { text: string; old: string; keys: string[] } {
  const keys = Object.keys(want).filter((k) => live[k] !== want[k]);
  if (keys.length === 0) return { text: '', old: '', keys };
  const text = `${prefix} ${set}: ${keys.map((k) => `${k}=${crmValue(want[k]!)}`).join(' ')}\n`;
  const oldKeys = keys.filter((k) => live[k] !== undefined);
  const old = oldKeys.length ? `${prefix} ${set}: ${oldKeys.map((k) => `${k}=${crmValue(live[k]!)}`).join(' ')}\n` : '';
  return { text, old, keys };
}

export interface ConfigDiff {
  /** What differs, in crm shell text (for people: the plan's "after" side). */
  text: string;
  /** Same objects as they are now, for the "before" side. */
  before: string;
  summary: string[];
  warnings: string[];
  refusals: string[];
  /** What to write into the configuration (configuration.ts). */
  writes: Writes;
}

export function configDiff(p: Declared, cib: Cib): ConfigDiff {
  const out: ConfigDiff = { text: '', before: '', summary: [], warnings: [], refusals: [], writes: { objects: [], properties: {}, rscDefaults: {} } };
  for (const w of wantedObjects(p)) {
    const live = cib.objects.get(w.id);
    if (live && live.type !== w.type) {
      out.refusals.push(`${w.id} exists in the CIB as ${live.type === 'other' ? live.element : live.type}, the playbook declares a ${w.type}: remove or rename one of them first`);
      continue;
    }
    if (w.type === 'fencing-level') {
      const other = [...cib.objects.values()].find(
        (o): o is Extract<CibObject, { type: 'fencing-level' }> => o.type === 'fencing-level' && o.id !== w.id && o.target === w.target && o.index === w.index,
      );
      if (other) {
        out.refusals.push(
          `the CIB has fencing level ${w.index} of ${w.target} as ${other.id} (${other.devices.join(',')}), the playbook declares it as ${w.id}: remove the live one first (cibadmin --delete --xml-text '<fencing-level id="${other.id}"/>')`,
        );
        continue;
      }
    }
    if (live && sameObject(w, live)) continue;
    const merged: Wanted = mergeLive(w, live);
    out.text += renderObject(merged);
    out.writes.objects.push(merged);
    if (live) out.before += renderLive(live);
    out.summary.push(`${live ? '~' : '+'} ${w.type} ${w.id}`);
  }
  const props = propertyLines('cib-bootstrap-options', p.properties, cib.properties, 'property');
  const defs = propertyLines(cib.rscDefaultsSet ?? 'rsc-options', p.rsc_defaults, cib.rscDefaults, 'rsc_defaults');
  for (const [k, u] of Object.entries(UNSAFE)) {
    if (props.keys.includes(k) && p.properties[k] === u.value) out.warnings.push(`${k}=${u.value} is UNSAFE outside a lab: ${u.why}`);
  }
  out.text += props.text + defs.text;
  for (const k of props.keys) out.writes.properties[k] = p.properties[k]!;
  for (const k of defs.keys) out.writes.rscDefaults[k] = p.rsc_defaults[k]!;
  out.before += props.old + defs.old;
  if (props.keys.length) out.summary.push(`property ${props.keys.join(', ')}`);
  if (defs.keys.length) out.summary.push(`rsc_defaults ${defs.keys.join(', ')}`);
  return out;
}
