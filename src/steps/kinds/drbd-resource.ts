/**
 * `drbd-resource`: /etc/drbd.d/NAME.res rendered from params, DRBD 9 syntax
 * (drbd-utils 9.22, `man drbd.conf-9.0`): `device /dev/drbdN minor N`,
 * `meta-disk internal`, `net { protocol C; }`, one `on <host> { node-id;
 * address; disk; }` per node and a `connection-mesh`. Optional:
 * `cram-hmac-alg sha256; shared-secret "..."` (the secret is masked in the
 * diff, even the old file's: the probe masks it on the node before sending),
 * after-split-brain policies (only when given: no automatic recovery by
 * default), a fixed resync rate (`disk { resync-rate R; c-plan-ahead 0; }`,
 * what the chapter's DRBD 8 `syncer { rate 50M; }` meant), DRBD's own quorum
 * for three or more nodes (`options { quorum majority; on-no-quorum
 * io-error; }`: a node that cannot see a majority of the nodes stops I/O,
 * with errors by default so that Pacemaker's agent fails and moves the
 * service; `suspend-io` freezes it instead). Any number of hosts: each `on`
 * section gets its node-id, and `connection-mesh` connects every pair.
 *
 * DRBD 8.4 (the module in Debian's and Ubuntu's stock kernels; drbd-utils 9
 * runs drbdadm-84 for it): the node's module version is read first
 * (facts/drbd-kernel.ts) and an 8.4 module gets the file in drbd.conf(5)
 * 8.4 syntax, which drbdadm-84 parses (it refuses `node-id` and
 * `connection-mesh`: "Parse error: 'disk | device | address | meta-disk |
 * flexible-meta-disk' expected, but got 'node-id'"): the same `device`,
 * `meta-disk`, `net` and `on HOST { address; disk; }` without node ids or
 * mesh (node_id is not used), the resync rate and `fencing` in `disk {}`
 * (8.4 has fencing there, DRBD 9 in `net {}`), and 8.4's Pacemaker handlers
 * (`fence-peer crm-fence-peer.sh`, `after-resync-target
 * crm-unfence-peer.sh`: 8.4 calls no unfence-peer handler). Two hosts only.
 * The other hosts' modules are read too (on their own connections: the
 * hosts are inventory nodes of the run), and a resource whose hosts do not
 * all have the same dialect is refused, naming each host's version: the
 * file, the metadata and the state differ between them.
 *
 * Done: the file has exactly the rendered content, `drbdadm dump NAME`
 * parses the configuration, and, when the resource is up, `drbdadm -d adjust
 * NAME` has nothing to do (the running resource matches the file).
 * Changes: upload the file; `drbdadm adjust NAME` when it changed on a
 * running resource, or when a running resource differs from an unchanged
 * file (an earlier run uploaded but did not adjust). A host added to a
 * running resource is connected by that adjust (no down/up: a Primary keeps
 * running). A peer the running resource knows and the new file no longer
 * names is deleted by the adjust (`del-peer`), then `drbdsetup forget-peer
 * NAME NODE_ID` frees its bitmap slot and generation identifiers in the
 * meta data (DRBD keeps them until told; `drbdadm forget-peer` cannot name a
 * peer that is gone from the configuration).
 * Refused: the file is right but the configuration does not parse
 * (another file in /etc/drbd.d, a host name that does not match `uname -n`);
 * the path is not a regular file; the running resource knows a host under
 * another node id than the file gives it (node ids follow the order of the
 * resource's members: removing a member that is not the last renumbers the
 * ones after it, which DRBD would take for other nodes); no DRBD module on a
 * host, or one these steps do not drive (8.3, 8.4 before 8.4.7); hosts with
 * different module lines (8.4 and 9); more than two hosts on 8.4.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { OWNER_NAMES, type Change, type FactProbe, type ProbeResult } from '../contract.js';
import { commandProbe, defineStep, exec, onIfInRun, refuse, sudoOf, upload } from '../define.js';
import { formatMode, type FileFact } from '../../facts/file.js';
import { eventsProbe, maskSharedSecret, resFileProbe, type DrbdResource } from '../../facts/drbd.js';
import { describeKernel, drbdKernelProbe, noDialect, type DrbdDialect, type DrbdKernel } from '../../facts/drbd-kernel.js';
import { maskSecrets } from '../../mask.js';
import { unifiedDiff } from '../udiff.js';
import { absolutePath } from '../params.js';
import { assertConfigValue, inDrbdString, inDrbdWord } from '../config-values.js';
import { DRBD_CONFIG, resourceName } from '../drbd-params.js';
import { sha256 } from '../../hash.js';
import { DrbdFencing, drbdFencingLines, drbdFencingLines84 } from '../fencing.js';

const port = z.number().int().min(1).max(65535);
const policy = (values: readonly [string, ...string[]]) => z.enum(values).optional();

export const drbdResourceParams = z
  .object({
    name: resourceName,
    minor: z.number().int().min(0).max(1048575),
    port,
    protocol: z.enum(['A', 'B', 'C']).default('C'),
    /** Fixed resync rate, as DRBD 8's `syncer { rate 50M; }` in the chapter: `resync-rate` with the dynamic controller off (`c-plan-ahead 0`). */
    resync_rate: z
      .string()
      .regex(/^[1-9][0-9]*[KMG]?$/, 'a rate such as "50M" (bytes per second, K/M/G)')
      .optional(),
    /** Backing device on every host unless the host gives its own. */
    disk: absolutePath.superRefine(inDrbdWord).optional(),
    hosts: z
      .array(
        z
          .object({
            /** Must be the node's `uname -n`. */
            name: z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$/, 'a host name'),
            node_id: z.number().int().min(0).max(31),
            address: z
              .string()
              .refine((a) => isIP(a) !== 0, 'an IPv4 or IPv6 address')
              .superRefine(inDrbdWord),
            port: port.optional(),
            disk: absolutePath.superRefine(inDrbdWord).optional(),
          })
          .strict(),
      )
      .min(2),
    shared_secret: z
      .string()
      .min(1)
      .max(64, 'at most 64 characters (DRBD limit)')
      .regex(/^[^"\\\s]+$/, 'no quotes, backslashes or white space')
      .superRefine(inDrbdString)
      .optional(),
    after_sb_0pri: policy(['disconnect', 'discard-younger-primary', 'discard-older-primary', 'discard-zero-changes', 'discard-least-changes']),
    after_sb_1pri: policy(['disconnect', 'consensus', 'violently-as0p', 'discard-secondary', 'call-pri-lost-after-sb']),
    after_sb_2pri: policy(['disconnect', 'violently-as0p', 'call-pri-lost-after-sb']),
    /**
     * DRBD's resource-level fencing (`!ref cluster.fencing.drbd`): while the
     * peer cannot be reached, a Primary's writes wait until crm-fence-peer.9.sh
     * has kept the peer from being promoted (a -INFINITY location on it), so
     * an outdated peer never becomes Primary. `off` (or absent): none.
     */
    fencing: DrbdFencing.optional(),
    /** DRBD quorum (`options { quorum ...; }`), only for 3 or more hosts; `off` (default): none. */
    quorum: z.enum(['off', 'majority', 'all']).default('off'),
    /** With quorum: what a node without quorum does with I/O. Default io-error. Ignored when quorum is off. */
    on_no_quorum: z.enum(['io-error', 'suspend-io']).optional(),
    path: absolutePath.optional(),
    sudo: z.boolean().default(false),
  })
  .strict()
  .refine((p) => p.hosts.every((h) => h.disk !== undefined || p.disk !== undefined), { message: 'every host needs a disk (give "disk" for all or per host)', path: ['disk'] })
  .refine((p) => new Set(p.hosts.map((h) => h.node_id)).size === p.hosts.length, { message: 'node_id values must differ', path: ['hosts'] })
  .refine((p) => new Set(p.hosts.map((h) => h.name)).size === p.hosts.length, { message: 'host names must differ', path: ['hosts'] })
  .refine((p) => p.quorum === 'off' || p.hosts.length >= 3, {
    message: 'DRBD quorum needs 3 or more hosts (with 2, one node down loses quorum; use fencing)',
    path: ['quorum'],
  });
export type DrbdResourceParams = z.infer<typeof drbdResourceParams>;

export function resPath(p: { name: string; path?: string | undefined }): string {
  return p.path ?? `/etc/drbd.d/${p.name}.res`;
}

/**
 * The resource file, pure: DRBD 9 syntax, or drbd.conf(5) 8.4 syntax for an
 * 8.4 module (no node-id, no connection-mesh, `fencing` in `disk {}`).
 */
export function renderResource(p: DrbdResourceParams, dialect: DrbdDialect = '9'): string {
  const v84 = dialect === '8.4';
  const net = [`    protocol ${p.protocol};`];
  const fencing = v84 ? drbdFencingLines84(p.fencing) : { ...drbdFencingLines(p.fencing), disk: [] };
  net.push(...fencing.net);
  if (p.shared_secret !== undefined) net.push('    cram-hmac-alg sha256;', `    shared-secret "${p.shared_secret}";`);
  if (p.after_sb_0pri) net.push(`    after-sb-0pri ${p.after_sb_0pri};`);
  if (p.after_sb_1pri) net.push(`    after-sb-1pri ${p.after_sb_1pri};`);
  if (p.after_sb_2pri) net.push(`    after-sb-2pri ${p.after_sb_2pri};`);
  const hosts = p.hosts.flatMap((h) => {
    // validated (config-values.ts); checked again here: a value in this file must never add structure
    assertConfigValue('drbd-word', 'address', h.address);
    const addr = isIP(h.address) === 6 ? `ipv6 [${h.address}]` : `ipv4 ${h.address}`;
    const disk = assertConfigValue('drbd-word', 'disk', h.disk ?? p.disk ?? '');
    return [`  on ${h.name} {`, ...(v84 ? [] : [`    node-id ${h.node_id};`]), `    address ${addr}:${h.port ?? p.port};`, `    disk ${disk};`, '  }'];
  });
  const disk = [...(p.resync_rate !== undefined ? [`    resync-rate ${p.resync_rate};`, '    c-plan-ahead 0;'] : []), ...fencing.disk];
  return [
    '# Managed by ha-provision: changes made here are overwritten.',
    `resource ${p.name} {`,
    `  device /dev/drbd${p.minor} minor ${p.minor};`,
    '  meta-disk internal;',
    ...(p.quorum !== 'off' ? ['  options {', `    quorum ${p.quorum};`, `    on-no-quorum ${p.on_no_quorum ?? 'io-error'};`, '  }'] : []),
    ...(disk.length ? ['  disk {', ...disk, '  }'] : []),
    ...fencing.handlers,
    '  net {',
    ...net,
    '  }',
    ...hosts,
    ...(v84 ? [] : ['  connection-mesh {', `    hosts ${p.hosts.map((h) => h.name).join(' ')};`, '  }']),
    '}',
    '',
  ].join('\n');
}

/** The probe id of another host's module version. */
const peerKernelId = (host: string) => `kernel@${host}` as const;

type PeerKernelProbes = Record<`kernel@${string}`, FactProbe<DrbdKernel | undefined>>;
type DrbdResourceProbes = {
  kernel: FactProbe<DrbdKernel>;
  file: FactProbe<FileFact>;
  dump: FactProbe<ProbeResult>;
  events: FactProbe<Map<string, DrbdResource>>;
  adjust: FactProbe<ProbeResult>;
} & PeerKernelProbes;

/**
 * The module's version on each other host of the resource, read there when
 * that host is in this run (under `--limit` the others are not checked:
 * a host left out is not changed either).
 */
function peerKernelProbes(p: DrbdResourceParams, node: string): PeerKernelProbes {
  const out: PeerKernelProbes = {};
  for (const h of p.hosts) if (h.name !== node) out[peerKernelId(h.name)] = onIfInRun(h.name, drbdKernelProbe(p.sudo));
  return out;
}

/**
 * The dialect of the resource: this node's module's, when every other host
 * has the same; else why not (no module or one these steps do not drive, a
 * mix of 8.4 and 9, 8.4 with more than two hosts).
 */
export function resourceDialect(
  p: DrbdResourceParams,
  node: string,
  mine: DrbdKernel,
  others: ReadonlyMap<string, DrbdKernel | undefined>,
): { dialect: DrbdDialect } | { refuse: string } {
  const own = noDialect(mine);
  if (own || !mine.dialect) return { refuse: `${p.name} on ${node}: ${own ?? 'no DRBD dialect'}` };
  const all = p.hosts.map((h) => ({ host: h.name, k: h.name === node ? mine : others.get(h.name) }));
  if (all.some((x) => x.k !== undefined && x.k.dialect !== mine.dialect))
    return {
      refuse:
        `resource ${p.name} mixes DRBD kernel modules: ${all.map((x) => `${x.host} ${x.k ? describeKernel(x.k) : 'not read'}`).join(', ')}. ` +
        'DRBD 8.4 and 9 need different resource files, metadata and commands, and a resource is set up in one of them: ' +
        'give every host the same module line (8.4.7+ or 9), then plan again',
    };
  if (mine.dialect === '8.4' && p.hosts.length > 2)
    return {
      refuse: `resource ${p.name} has ${p.hosts.length} hosts (${p.hosts.map((h) => h.name).join(', ')}) but DRBD 8.4 (${describeKernel(mine)} on ${node}) replicates between two: more need DRBD 9 on every host`,
    };
  return { dialect: mine.dialect };
}

const ADJUST_SCRIPT = 'out=$(drbdadm -d adjust "$1") || exit $?\n[ -z "$out" ] || printf "%s\\n" "$out" | sed -E \'s/(shared-secret[= ]+)[^ ]+/\\1********/g\'';

const firstLine = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^modinfo:/.test(l))
    .join(' / ')
    .slice(0, 300);

export const drbdResourceStep = defineStep({
  kind: 'drbd-resource',
  params: drbdResourceParams,
  // the file; all of the configuration (`drbdadm dump` parses it, its `on`
  // sections match uname -n); the running resource (events, `adjust -d`); drbdadm
  reads: (p) => [resPath(p), ...DRBD_CONFIG, `drbd:${p.name}`, 'host:name', 'pkgdb:', ...OWNER_NAMES],
  writes: (p) => [resPath(p), `drbd:${p.name}`],
  probes: (p: DrbdResourceParams, node): DrbdResourceProbes => ({
    // the module's version here and on the other hosts (as drbdadm reads it to pick its dialect)
    kernel: drbdKernelProbe(p.sudo),
    ...peerKernelProbes(p, node.name),
    // the old content comes along (masked, for the diff) when it is neither dialect's file
    file: resFileProbe(resPath(p), [sha256(renderResource(p, '9')), sha256(renderResource(p, '8.4'))], p.sudo),
    // stdout (which would show the shared secret) is dropped: only the exit status and errors matter
    dump: commandProbe(['sh', '-c', 'drbdadm dump "$1" >/dev/null', 'sh', p.name], p.sudo),
    events: eventsProbe(p.name, p.sudo),
    // what `drbdadm adjust` would run (dry run); it names --shared-secret=..., masked on the node
    adjust: commandProbe(['sh', '-c', ADJUST_SCRIPT, 'sh', p.name], p.sudo),
  }),
  diff(p, facts, node): Change[] {
    const path = resPath(p);
    const others = new Map(p.hosts.filter((h) => h.name !== node.name).map((h) => [h.name, facts[peerKernelId(h.name)]] as const));
    const d = resourceDialect(p, node.name, facts.kernel, others);
    if ('refuse' in d) return [refuse(d.refuse)];
    const content = renderResource(p, d.dialect);
    const f = facts.file;
    const dump = facts.dump;
    const up = facts.events.has(p.name);
    const secrets = p.shared_secret !== undefined ? [...node.secrets, p.shared_secret] : [...node.secrets];
    const adjust = exec(['drbdadm', 'adjust', p.name], `apply ${path} to the running resource ${p.name}`, { sudo: p.sudo });
    if (f.state === 'notfile') return [refuse(`${path} exists and is not a regular file`)];
    // peers by node id: DRBD 9 only (8.4 has one peer, no node ids, and drbdsetup-84 calls it "peer", node-id 0)
    const running = d.dialect === '9' ? (facts.events.get(p.name)?.connections ?? []) : [];
    const renumbered = running.filter((c) => p.hosts.some((h) => h.name === c.name && h.node_id !== c.peerNodeId));
    if (renumbered.length > 0)
      return [
        refuse(
          `the running resource ${p.name} knows ${renumbered.map((c) => `${c.name} as node-id ${c.peerNodeId}`).join(', ')}, the configuration gives ${renumbered.map((c) => `${c.name} node-id ${p.hosts.find((h) => h.name === c.name)!.node_id}`).join(', ')}: node ids follow the order of the resource's members, so keep the members that stay in their order and remove or add only at the end`,
        ),
      ];
    const forget = running
      .filter((c) => !p.hosts.some((h) => h.name === c.name))
      .map((c) =>
        exec(['drbdsetup', 'forget-peer', p.name, String(c.peerNodeId)], `forget ${c.name} (node-id ${c.peerNodeId}), no longer a host of ${p.name}: its bitmap slot is freed`, {
          sudo: p.sudo,
        }),
      );
    if (f.state === 'file' && f.sha256 === sha256(content)) {
      if (dump.exitCode !== 0) return [refuse(`${path} is as wanted but the DRBD configuration does not parse (drbdadm dump ${p.name}: ${firstLine(dump.stderr)})`)];
      const a = facts.adjust;
      if (up && a.exitCode === 0 && a.stdout.trim() !== '') return [{ ...adjust, description: `the running resource ${p.name} differs from ${path}: drbdadm adjust` }, ...forget];
      if (up && a.exitCode !== 0) throw new Error(`probe adjust failed (exit ${a.exitCode}): ${firstLine(a.stderr)}`);
      return [];
    }
    const show = (s: string) => maskSecrets(maskSharedSecret(s), secrets);
    // the probe does not send a file that is either dialect's: the other dialect's is known here
    const other = renderResource(p, d.dialect === '9' ? '8.4' : '9');
    const old = f.state === 'file' ? (f.content ?? (f.sha256 === sha256(other) ? other : undefined)) : undefined;
    const diff =
      f.state === 'absent'
        ? unifiedDiff('', show(content), '/dev/null', path)
        : old === undefined
          ? `(content of ${path} changes; old file is ${f.stat.size} bytes, not shown)\n`
          : unifiedDiff(show(old), show(content), path, path);
    const broken = f.state === 'file' && dump.exitCode !== 0 ? ` (the current configuration does not parse: ${firstLine(dump.stderr)})` : '';
    const changes: Change[] = [
      upload({
        path,
        content,
        mode: p.shared_secret !== undefined ? '0600' : f.state === 'file' ? formatMode(f.stat.mode) : '0644',
        owner: 'root',
        group: 'root',
        ...sudoOf(p.sudo),
        description: `write ${path} (DRBD resource ${p.name}, minor ${p.minor}, port ${p.port})${broken}`,
        diff,
        ...(p.shared_secret !== undefined ? { secret: true } : {}),
      }),
    ];
    if (up) changes.push(adjust, ...forget);
    return changes;
  },
});
