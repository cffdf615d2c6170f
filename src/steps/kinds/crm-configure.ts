/**
 * `crm-configure`: the Pacemaker configuration a playbook declares
 * (cluster properties, rsc_defaults, primitives, groups, clones, colocation,
 * order and location constraints, fencing levels), compared with the live CIB; ONLY the difference is
 * committed, and only if the CIB's configuration has not changed since the
 * difference was computed, so a concurrent change is never reverted.
 *
 * Run it on ONE node of the cluster (e.g. `on: role:primary`): the CIB is
 * cluster-wide. Objects the playbook does not declare are never touched
 * (not deleted, not rewritten); undeclared meta attributes of declared
 * objects (target-role, is-managed...) are kept.
 *
 * The commit, with Pacemaker's own tools only (crmsh is not needed; measured
 * on Pacemaker 2.1.5, see test/fixtures/steps/crm-configure/README.md): the
 * probe records the CIB's admin_epoch:epoch; the controller writes the
 * declared difference into the configuration it read
 * (src/steps/crm/configuration.ts) and uploads it; the apply script writes
 * it into a COPY of the live CIB (`CIB_file=copy cibadmin --replace --scope
 * configuration`), makes a v2 patch with `crm_diff`, removes num_updates
 * from the patch's source version and sets admin_epoch/epoch to the planned
 * ones, and applies it with `cibadmin --patch`. The CIB server applies a
 * patch only when the live version equals the patch's source version
 * (fields absent from the source are not compared): any configuration
 * change in between makes it refuse with "Update was older than existing
 * configuration" (exit 103), while status-only updates (num_updates) do not.
 * The plan shows the difference in crm shell syntax, which people read.
 *
 * Done: no difference, `crm_verify -L` clean, and (unless `wait: false`)
 * every declared primitive in its target role on the cluster.
 */
import { z } from 'zod';
import type { Change } from '../contract.js';
import { commandProbe, defineStep, exec, refuse, sudoOf, upload, wait } from '../define.js';
import { cibProbe, parseCib } from '../../facts/cib.js';
import { crmMonProbe, PACEMAKER_CLI, transitionProbe, type CrmMon } from '../../facts/crm-mon.js';
import { containsSecret, maskSecrets } from '../../mask.js';
import { unifiedDiff } from '../udiff.js';
import { CloneSchema, ColocationSchema, FencingLevelSchema, GroupSchema, LocationSchema, NvParams, OrderSchema, PrimitiveSchema } from '../crm/objects.js';
import { APPLY_SCRIPT, configDiff, declaredUnsafe } from '../crm/difference.js';
import { notReady } from '../crm/settle.js';
import { newConfiguration } from '../crm/configuration.js';
import { serializeXml } from '../../facts/xml.js';
import { fencingObjects, FencingParam } from '../fencing.js';

/**
 * Where the configuration to commit is written on the node (the upload whose
 * diff the plan shows); /var/lib/pacemaker exists wherever pacemaker does.
 */
export const DEFAULT_RECORD = '/var/lib/pacemaker/ha-provision-configuration.xml';

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
    /** Levels of the fencing topology (`fencing_topology TARGET: DEV,DEV`): to fence TARGET, every device of a level must succeed. Levels not declared are kept. */
    fencing_levels: z.array(FencingLevelSchema).default([]),
    /**
     * The inventory's fencing (`!ref cluster.fencing`): stonith devices, their
     * locations and stonith-* properties are added to what is declared here
     * (src/steps/fencing.ts); fencing off sets stonith-enabled=false (UNSAFE).
     */
    fencing: FencingParam.optional(),
    /** Wait until every declared primitive is in its target role. */
    wait: z.boolean().default(true),
    /** The file that holds the last committed configuration (mode 0600, root: it holds the CIB's secrets). */
    record: z
      .string()
      .regex(/^\/[^\s]*$/, 'an absolute path')
      .default(DEFAULT_RECORD),
    sudo: z.boolean().default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Map<string, string>();
    const lists = ['primitives', 'groups', 'clones', 'colocations', 'orders', 'locations', 'fencing_levels'] as const;
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
      if (!prims.has(c.resource) && !groups.has(c.resource))
        ctx.addIssue({ code: 'custom', path: ['clones', i, 'resource'], message: `expected a declared primitive or group, found "${c.resource}"` });
      claim(c.resource, `clone ${c.id}`, ['clones', i, 'resource']);
    });
  });
export type CrmConfigureParams = z.infer<typeof crmConfigureParams>;

/** The params with the inventory's fencing added (devices, locations, properties), or why not. */
export function withFencing(p: CrmConfigureParams): { params: CrmConfigureParams; refusals: string[] } {
  if (!p.fencing) return { params: p, refusals: [] };
  const ids = new Set([...p.primitives, ...p.groups, ...p.clones, ...p.colocations, ...p.orders, ...p.locations, ...p.fencing_levels].map((o) => o.id));
  const f = fencingObjects(p.fencing, { ids, properties: p.properties });
  return {
    params: {
      ...p,
      primitives: [...p.primitives, ...f.primitives],
      locations: [...p.locations, ...f.locations],
      fencing_levels: [...p.fencing_levels, ...f.levels],
      properties: { ...p.properties, ...f.properties },
    },
    refusals: [...f.refusals, ...levelClashes([...p.fencing_levels, ...f.levels])],
  };
}

/** Two declared levels with the same node and index (the playbook's and the inventory's heuristics). */
function levelClashes(levels: CrmConfigureParams['fencing_levels']): string[] {
  const seen = new Map<string, string>();
  const out: string[] = [];
  for (const l of levels) {
    const k = `${l.target} ${l.index}`;
    const prev = seen.get(k);
    if (prev)
      out.push(
        `fencing levels ${prev} and ${l.id} are both level ${l.index} of ${l.target}: the playbook's fencing_levels and the inventory's fencing.heuristics cannot both set it`,
      );
    else seen.set(k, l.id);
  }
  return out;
}

/** Pacemaker's nodes that no declared fence device fences (none when fencing is off or the status is unknown). */
function unfencedNodes(p: CrmConfigureParams, mon: CrmMon): string[] {
  if (!p.fencing?.enabled) return [];
  if (mon.state !== 'up') return [];
  // SBD fences every node (its disks or its watchdog)
  if (p.fencing.sbd) return [];
  const fenced = new Set(p.fencing.devices.flatMap((d) => d.fences));
  return mon.nodes.map((n) => n.name).filter((n) => !fenced.has(n));
}

export const crmConfigureStep = defineStep({
  kind: 'crm-configure',
  params: crmConfigureParams,
  // the CIB, but also the cluster's status and its next transition (crm_mon,
  // crm_simulate): what every node runs and can run (its services, devices,
  // packages, files): anything, anywhere
  reads: () => undefined,
  // the CIB; then the cluster acts (starts, stops, moves resources on every node)
  writes: (p) => ['cib:', 'cluster:', p.record],
  probes(p: CrmConfigureParams) {
    // The probes run one after another. The next transition is read BEFORE
    // the status: "nothing left to do" at t0 and a resource still stopped at
    // t1 > t0 means the cluster cannot run it. In the other order a status
    // read between two actions of a transition (a group's member started, the
    // next not yet) followed by an empty transition once it had finished read
    // as "settled, not started" and failed the step (seen in CI).
    return {
      cib: cibProbe(p.sudo),
      transition: transitionProbe(p.sudo),
      status: crmMonProbe(p.sudo),
      verify: commandProbe(['crm_verify', '-L'], p.sudo),
    };
  },
  diff(declared, facts, node): Change[] {
    const fenced = withFencing(declared);
    if (fenced.refusals.length) return fenced.refusals.map(refuse);
    const p = fenced.params;
    const cibFact = facts.cib;
    if (cibFact.exitCode === 127) return [refuse(`cibadmin is not installed on this node: ${PACEMAKER_CLI}${declaredUnsafe(p)}`)];
    if (cibFact.exitCode !== 0) return [wait(`pacemaker does not answer on this node yet (cibadmin: ${cibFact.stderr.trim().split('\n')[0] ?? ''})${declaredUnsafe(p)}`)];
    const cib = parseCib(cibFact);
    const d = configDiff(p, cib);
    if (d.refusals.length) return d.refusals.map(refuse);
    // Pacemaker sets have-watchdog=true when it runs under sbd: without it a poison pill is never obeyed
    // (fence_sbd would report a node fenced that runs on) and a watchdog-only cluster has no watchdog
    if (p.fencing?.enabled && p.fencing.sbd && cib.properties['have-watchdog'] !== 'true') {
      return [
        refuse(
          `the inventory fences with SBD, and Pacemaker runs without sbd (have-watchdog=${cib.properties['have-watchdog'] ?? 'unset'}): a node would be reported fenced while it runs on; configure sbd on every node (kinds sbd-device, sbd, and service sbd enabled) and restart the cluster stack so that sbd starts with it`,
        ),
      ];
    }
    const unfenced = p.fencing?.enabled ? unfencedNodes(p, facts.status) : [];
    if (unfenced.length)
      return [
        refuse(
          `no fence device fences ${unfenced.join(', ')}, which Pacemaker runs on: add one to the inventory's fencing.devices (a node that cannot be fenced makes every failure of it wait for a person)`,
        ),
      ];
    const { adminEpoch, epoch } = cib.version;
    if (d.text !== '') {
      // the whole new configuration: holds every secret already in the CIB (fence device passwords...)
      const content = serializeXml(newConfiguration(cib, d.writes));
      const shownSecret = containsSecret(d.text + d.before, node.secrets);
      const diff = shownSecret
        ? '(the difference holds secret values, not shown)\n'
        : unifiedDiff(maskSecrets(d.before, node.secrets), maskSecrets(d.text, node.secrets), `cib (epoch ${adminEpoch}:${epoch})`, 'wanted');
      const changes: Change[] = [
        upload({
          path: p.record,
          content,
          mode: '0600',
          owner: 'root',
          group: 'root',
          ...sudoOf(p.sudo),
          description: `new CIB configuration (${d.summary.length} item(s) differ from epoch ${adminEpoch}:${epoch}): ${d.summary.join('; ')}${d.warnings.length ? ` -- WARNING: ${d.warnings.join('; ')}` : ''}`,
          diff,
          ...(containsSecret(content, node.secrets) ? { secret: true } : {}),
        }),
        exec(
          ['sh', '-s', '--', String(adminEpoch), String(epoch), p.record],
          `commit it to the CIB only if its epoch is still ${adminEpoch}:${epoch} (cibadmin on a copy, crm_diff, cibadmin --patch)`,
          {
            sudo: p.sudo,
            stdin: APPLY_SCRIPT,
          },
        ),
      ];
      if (p.wait) changes.push(wait('declared resources reach their target role'));
      return changes;
    }
    const verify = facts.verify;
    if (verify.exitCode !== 0) {
      const msg = (verify.stderr + verify.stdout).trim().split('\n').slice(0, 6).join(' | ');
      return [refuse(`crm_verify -L finds errors in the configuration: ${maskSecrets(msg, node.secrets)}`)];
    }
    if (!p.wait) return [];
    const mon = facts.status;
    if (mon.state === 'down') return [wait(`cluster status unavailable: ${mon.message}`)];
    // done when the cluster has settled: nothing left to run but what it cannot run
    const t = facts.transition;
    const notYet = notReady(p, cib, mon);
    const total = p.primitives.length;
    const acting = notYet.filter((x) => x.acting);
    if (t.pending.length > 0 || acting.length > 0) {
      const actions = t.pending.length > 0 ? t.pending : acting.map((x) => `${x.id} in progress`);
      const shown = actions.slice(0, 4).join('; ') + (actions.length > 4 ? `; +${actions.length - 4} more` : '');
      return [
        wait(`the cluster is still acting (${shown})${notYet.length ? `; ${notYet.map((x) => x.text).join('; ')}` : ''}`, total ? (total - notYet.length) / total : undefined),
      ];
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
    if (failed.length)
      return [
        refuse(`declared resources failed and the cluster has settled: ${failed.map((x) => x.text).join('; ')} (see crm_mon --failcounts; clean up with crm resource cleanup)`),
      ];
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
