/**
 * `crm-configure`: the Pacemaker configuration a playbook declares
 * (cluster properties, rsc_defaults, primitives, groups, clones, colocation
 * and order constraints), compared with the live CIB; ONLY the difference is
 * committed, and only if the CIB's configuration has not changed since the
 * difference was computed, so a concurrent change is never reverted.
 *
 * Run it on ONE node of the cluster (e.g. `on: role:primary`): the CIB is
 * cluster-wide. Objects the playbook does not declare are never touched
 * (not deleted, not rewritten); undeclared meta attributes of declared
 * objects (target-role, is-managed...) are kept.
 *
 * The commit (measured on Pacemaker 2.1.5 / crmsh 4.4.1, see
 * test/fixtures/steps/crm-configure/README.md): the probe records the CIB's
 * admin_epoch:epoch; the apply script loads the crm text into a COPY of the
 * CIB (`CIB_file=copy crm configure load update`), makes a v2 patch with
 * `crm_diff`, removes num_updates from the patch's source version and sets
 * admin_epoch/epoch to the planned ones, and applies it with
 * `cibadmin --patch`. The CIB server applies a patch only when the live
 * version equals the patch's source version (fields absent from the source
 * are not compared): any configuration change in between makes it refuse
 * with "Update was older than existing configuration" (exit 103), while
 * status-only updates (num_updates) do not.
 *
 * Done: no difference, `crm_verify -L` clean, and (unless `wait: false`)
 * every declared primitive in its target role on the cluster.
 */
import { z } from 'zod';
import { fact, type Facts } from '../contract.js';
import { cibProbe, parseCib, type Cib, type NvMap } from '../../facts/cib.js';
import { crmMonProbe, parseCrmMon, parseTransition, transitionProbe, type CrmMon } from '../../facts/crm-mon.js';
import { containsSecret, maskSecrets } from '../../mask.js';
import { unifiedDiff } from '../udiff.js';
import {
  CloneSchema,
  ColocationSchema,
  crmValue,
  GroupSchema,
  LocationSchema,
  mergeLive,
  NvParams,
  OrderSchema,
  PrimitiveSchema,
  renderLive,
  renderObject,
  sameObject,
  wantedObjects,
  type Wanted,
} from './crm-objects.js';
import { defineStorageStep, refuse, sudoOf, wait, type StorageChange } from './wait.js';
import { fencingObjects, FencingParam } from '../fencing.js';

/**
 * Where the difference to commit is written on the node (the upload whose
 * diff the plan shows); /var/lib/pacemaker exists wherever pacemaker does.
 */
export const DEFAULT_RECORD = '/var/lib/pacemaker/ha-provision.crm';

export const crmConfigureParams = z
  .object({
    properties: NvParams,
    rsc_defaults: NvParams,
    primitives: z.array(PrimitiveSchema).default([]),
    groups: z.array(GroupSchema).default([]),
    clones: z.array(CloneSchema).default([]),
    colocations: z.array(ColocationSchema).default([]),
    orders: z.array(OrderSchema).default([]),
    /** Node preferences (`location ID RESOURCE SCORE: NODE`), e.g. mutual failover. */
    locations: z.array(LocationSchema).default([]),
    /**
     * The inventory's fencing (`!ref cluster.fencing`): stonith devices, their
     * locations and stonith-* properties are added to what is declared here
     * (src/steps/fencing.ts); fencing off sets stonith-enabled=false (UNSAFE).
     */
    fencing: FencingParam.optional(),
    /** Wait until every declared primitive is in its target role. */
    wait: z.boolean().default(true),
    /** The file that holds the last committed difference (mode 0600). */
    record: z.string().regex(/^\/[^\s]*$/, 'an absolute path').default(DEFAULT_RECORD),
    sudo: z.boolean().default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Map<string, string>();
    const lists = ['primitives', 'groups', 'clones', 'colocations', 'orders', 'locations'] as const;
    for (const l of lists) {
      p[l].forEach((o, i) => {
        const prev = seen.get(o.id);
        if (prev) ctx.addIssue({ code: 'custom', path: [l, i, 'id'], message: `id "${o.id}" is already used by ${prev}` });
        else seen.set(o.id, `${l}[${i}]`);
      });
    }
    const prims = new Set(p.primitives.map((x) => x.id));
    const inside = new Map<string, string>();
    const claim = (id: string, by: string, path: (string | number)[]) => {
      const prev = inside.get(id);
      if (prev) ctx.addIssue({ code: 'custom', path, message: `"${id}" is already inside ${prev}` });
      else inside.set(id, by);
    };
    p.groups.forEach((g, i) =>
      g.members.forEach((m, j) => {
        if (!prims.has(m)) ctx.addIssue({ code: 'custom', path: ['groups', i, 'members', j], message: `expected a declared primitive, found "${m}"` });
        claim(m, `group ${g.id}`, ['groups', i, 'members', j]);
      }),
    );
    const groups = new Set(p.groups.map((g) => g.id));
    p.clones.forEach((c, i) => {
      if (!prims.has(c.resource) && !groups.has(c.resource)) ctx.addIssue({ code: 'custom', path: ['clones', i, 'resource'], message: `expected a declared primitive or group, found "${c.resource}"` });
      claim(c.resource, `clone ${c.id}`, ['clones', i, 'resource']);
    });
  });
export type CrmConfigureParams = z.infer<typeof crmConfigureParams>;

/** Unsafe settings the chapter uses for its two-node lab; the plan warns. */
const UNSAFE: Record<string, { value: string; why: string }> = {
  'stonith-enabled': { value: 'false', why: 'without fencing, a node that only looks dead can still write to shared data (split brain)' },
  'no-quorum-policy': { value: 'ignore', why: 'a partition without quorum keeps running resources (split brain in a 2-node cluster without fencing)' },
};

/** The UNSAFE values the params declare (shown even before pacemaker can be asked). */
function declaredUnsafe(p: CrmConfigureParams): string {
  const w = Object.entries(UNSAFE)
    .filter(([k, u]) => p.properties[k] === u.value)
    .map(([k, u]) => `${k}=${u.value} is UNSAFE outside a lab: ${u.why}`);
  return w.length ? ` -- WARNING: ${w.join('; ')}` : '';
}

/**
 * Read by `sh -s` from stdin, with $1 = planned admin_epoch, $2 = planned epoch,
 * $3 = the crm file. Exit 75: the CIB changed before the commit started;
 * exit 103 (from cibadmin): it changed while committing. Both: nothing committed.
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
  // comment lines would become XML comments inside the next object: drop them
  'grep -v "^#" "$f" > "$t/want.crm" || true',
  'CIB_file="$t/new.xml" crm configure load update "$t/want.crm" >&2',
  'rc=0; crm_diff --original "$t/orig.xml" --new "$t/new.xml" > "$t/patch.xml" || rc=$?',
  'if [ "$rc" -eq 0 ]; then echo "loading the crm text changed nothing: nothing to commit" >&2; exit 0; fi',
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

interface ConfigDiff {
  /** crm text to load (only what differs). */
  text: string;
  /** Same objects as they are now, for the "before" side. */
  before: string;
  summary: string[];
  warnings: string[];
  refusals: string[];
}

function configDiff(p: CrmConfigureParams, cib: Cib): ConfigDiff {
  const out: ConfigDiff = { text: '', before: '', summary: [], warnings: [], refusals: [] };
  for (const w of wantedObjects(p)) {
    const live = cib.objects.get(w.id);
    if (live && live.type !== w.type) {
      out.refusals.push(`${w.id} exists in the CIB as ${live.type === 'other' ? live.element : live.type}, the playbook declares a ${w.type}: remove or rename one of them first`);
      continue;
    }
    if (live && sameObject(w, live)) continue;
    const merged: Wanted = mergeLive(w, live);
    out.text += renderObject(merged);
    if (live) out.before += renderLive(live);
    out.summary.push(`${live ? '~' : '+'} ${w.type} ${w.id}`);
  }
  const props = propertyLines('cib-bootstrap-options', p.properties, cib.properties, 'property');
  const defs = propertyLines(cib.rscDefaultsSet ?? 'rsc-options', p.rsc_defaults, cib.rscDefaults, 'rsc_defaults');
  for (const [k, u] of Object.entries(UNSAFE)) {
    if (props.keys.includes(k) && p.properties[k] === u.value) out.warnings.push(`${k}=${u.value} is UNSAFE outside a lab: ${u.why}`);
  }
  out.text += props.text + defs.text;
  out.before += props.old + defs.old;
  if (props.keys.length) out.summary.push(`property ${props.keys.join(', ')}`);
  if (defs.keys.length) out.summary.push(`rsc_defaults ${defs.keys.join(', ')}`);
  return out;
}

/** Effective target-role of a primitive: its own meta, else its parents'. */
function targetRole(id: string, cib: Cib): string | undefined {
  let cur: string | undefined = id;
  for (let depth = 0; cur !== undefined && depth < 4; depth++) {
    const o = cib.objects.get(cur);
    const meta = o && 'meta' in o ? (o.meta as NvMap) : undefined;
    if (meta?.['target-role'] !== undefined) return meta['target-role'];
    const parentId: string | undefined = [...cib.objects.values()].find(
      (x) => (x.type === 'group' && x.members.includes(cur!)) || (x.type === 'clone' && x.child === cur),
    )?.id;
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

interface NotReady {
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
/** The params with the inventory's fencing added (devices, locations, properties), or why not. */
export function withFencing(p: CrmConfigureParams): { params: CrmConfigureParams; refusals: string[] } {
  if (!p.fencing) return { params: p, refusals: [] };
  const ids = new Set([...p.primitives, ...p.groups, ...p.clones, ...p.colocations, ...p.orders, ...p.locations].map((o) => o.id));
  const f = fencingObjects(p.fencing, { ids, properties: p.properties });
  return {
    params: { ...p, primitives: [...p.primitives, ...f.primitives], locations: [...p.locations, ...f.locations], properties: { ...p.properties, ...f.properties } },
    refusals: f.refusals,
  };
}

/** Pacemaker's nodes that no declared fence device fences (none when fencing is off or the status is unknown). */
function unfencedNodes(p: CrmConfigureParams, facts: Facts): string[] {
  if (!p.fencing?.enabled) return [];
  const mon = parseCrmMon(fact(facts, 'status'));
  if (mon.state !== 'up') return [];
  const fenced = new Set(p.fencing.devices.flatMap((d) => d.fences));
  return mon.nodes.map((n) => n.name).filter((n) => !fenced.has(n));
}

function notReady(p: CrmConfigureParams, cib: Cib, mon: Extract<CrmMon, { state: 'up' }>): NotReady[] {
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
    if (!ok) out.push({ id: prim.id, failed: false, acting, text: `${prim.id} not yet ${wantPromoted ? 'Promoted' : 'Started'} (${inst.map((i) => i.role).join(', ') || 'no instance'})` });
  }
  return out;
}

export const crmConfigureStep = defineStorageStep<CrmConfigureParams>({
  kind: 'crm-configure',
  params: crmConfigureParams,
  // the CIB, but also the cluster's status and its next transition (crm_mon,
  // crm_simulate): what every node runs and can run (its services, devices,
  // packages, files): anything, anywhere
  reads: () => undefined,
  // the CIB; then the cluster acts (starts, stops, moves resources on every node)
  writes: (p) => ['cib:', 'cluster:', p.record],
  probes(p) {
    // The probes run one after another. The next transition is read BEFORE
    // the status: "nothing left to do" at t0 and a resource still stopped at
    // t1 > t0 means the cluster cannot run it. In the other order a status
    // read between two actions of a transition (a group's member started, the
    // next not yet) followed by an empty transition once it had finished read
    // as "settled, not started" and failed the step (seen in CI).
    return [
      cibProbe('cib', p.sudo),
      transitionProbe('transition', p.sudo),
      crmMonProbe('status', p.sudo),
      { id: 'verify', argv: ['crm_verify', '-L'], ...sudoOf(p.sudo) },
    ];
  },
  diff(declared, facts, node): StorageChange[] {
    const fenced = withFencing(declared);
    if (fenced.refusals.length) return fenced.refusals.map(refuse);
    const p = fenced.params;
    const cibFact = fact(facts, 'cib');
    if (cibFact.exitCode === 127) return [refuse(`cibadmin is not installed on this node: install pacemaker first${declaredUnsafe(p)}`)];
    if (cibFact.exitCode !== 0) return [wait(`pacemaker does not answer on this node yet (cibadmin: ${cibFact.stderr.trim().split('\n')[0] ?? ''})${declaredUnsafe(p)}`)];
    const cib = parseCib(cibFact);
    const d = configDiff(p, cib);
    if (d.refusals.length) return d.refusals.map(refuse);
    const unfenced = unfencedNodes(p, facts);
    if (unfenced.length) return [refuse(`no fence device fences ${unfenced.join(', ')}, which Pacemaker runs on: add one to the inventory's fencing.devices (a node that cannot be fenced makes every failure of it wait for a person)`)];
    const sudo = sudoOf(p.sudo);
    const { adminEpoch, epoch } = cib.version;
    if (d.text !== '') {
      const secret = containsSecret(d.text, node.secrets);
      const content = [
        `# ha-provision crm-configure: the difference against CIB epoch ${adminEpoch}:${epoch} (${d.summary.length} item(s))`,
        ...d.warnings.map((w) => `# WARNING: ${w}`),
        d.text.replace(/\n$/, ''),
        '',
      ].join('\n');
      const diff = secret ? '(the difference holds secret values, not shown)\n' : unifiedDiff(maskSecrets(d.before, node.secrets), maskSecrets(d.text, node.secrets), `cib (epoch ${adminEpoch}:${epoch})`, 'wanted');
      const changes: StorageChange[] = [
        {
          kind: 'upload',
          path: p.record,
          content,
          mode: '0600',
          owner: 'root',
          group: 'root',
          ...sudo,
          description: `crm configure difference: ${d.summary.join('; ')}${d.warnings.length ? ` -- WARNING: ${d.warnings.join('; ')}` : ''}`,
          diff,
          ...(secret ? { secret: true } : {}),
        },
        {
          kind: 'exec',
          argv: ['sh', '-s', '--', String(adminEpoch), String(epoch), p.record],
          stdin: APPLY_SCRIPT,
          ...sudo,
          description: `commit it to the CIB only if its epoch is still ${adminEpoch}:${epoch} (crm_diff + cibadmin --patch)`,
        },
      ];
      if (p.wait) changes.push(wait('declared resources reach their target role'));
      return changes;
    }
    const verify = fact(facts, 'verify');
    if (verify.exitCode !== 0) {
      const msg = (verify.stderr + verify.stdout).trim().split('\n').slice(0, 6).join(' | ');
      return [refuse(`crm_verify -L finds errors in the configuration: ${maskSecrets(msg, node.secrets)}`)];
    }
    if (!p.wait) return [];
    const mon = parseCrmMon(fact(facts, 'status'));
    if (mon.state === 'down') return [wait(`cluster status unavailable: ${mon.message}`)];
    // done when the cluster has settled: nothing left to run but what it cannot run
    const t = parseTransition(fact(facts, 'transition'));
    const notYet = notReady(p, cib, mon);
    const total = p.primitives.length;
    const acting = notYet.filter((x) => x.acting);
    if (t.pending.length > 0 || acting.length > 0) {
      const actions = t.pending.length > 0 ? t.pending : acting.map((x) => `${x.id} in progress`);
      const shown = actions.slice(0, 4).join('; ') + (actions.length > 4 ? `; +${actions.length - 4} more` : '');
      return [wait(`the cluster is still acting (${shown})${notYet.length ? `; ${notYet.map((x) => x.text).join('; ')}` : ''}`, total ? (total - notYet.length) / total : undefined)];
    }
    const failed = notYet.filter((x) => x.failed);
    const devices = new Set(p.primitives.filter((x) => x.agent.startsWith('stonith:')).map((x) => x.id));
    const deadDevices = failed.filter((x) => devices.has(x.id));
    if (deadDevices.length) {
      return [
        refuse(
          `fence devices cannot act: ${deadDevices.map((x) => x.text).join('; ')} -- their agent's monitor failed (wrong address or credentials?); ` +
            `without them no node can be fenced and the cluster will not recover from a failure (stonith_admin --list-registered; crm_mon --failcounts; once fixed, crm resource cleanup ${deadDevices[0]!.id})`,
        ),
      ];
    }
    if (failed.length) return [refuse(`declared resources failed and the cluster has settled: ${failed.map((x) => x.text).join('; ')} (see crm_mon --failcounts; clean up with crm resource cleanup)`)];
    // Settled, nothing failed, and still not where they should be: the cluster
    // decided they cannot run (an agent's probe said "not installed", a
    // constraint leaves no node...). Not done: say where to look.
    if (notYet.length) {
      const first = notYet[0]!.id;
      return [
        refuse(
          `the cluster has settled with declared resources not in their target role: ${notYet.map((x) => x.text).join('; ')} ` +
            `(crm_mon -1 -r shows why, crm_simulate -sL the scores, crm_resource --force-check -r ${first} runs its agent's check; ` +
            `once the cause is fixed, crm resource refresh ${first} makes the cluster probe it again)`,
        ),
      ];
    }
    return [];
  },
});
