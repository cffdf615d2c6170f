/**
 * The step contract (pyinfra/Terraform style): what the engine sees of a
 * step kind. Kinds are written with define.ts, which turns typed probes and
 * parsed facts into this form.
 *
 * A step kind declares its parameters (zod), the read-only probes whose
 * results are its facts, and a PURE `diff` from (params, facts, node) to the
 * changes that would bring the node to the wanted state. An empty list means
 * "already right". Plan and apply run this one path: no step kind ever sees a
 * dry-run flag. After apply, the engine re-probes and `diff` must be empty.
 */
import type { z } from 'zod';

/** What a step kind may know about the node it runs on (no credentials). */
export interface StepNode {
  name: string;
  roles: readonly string[];
  groups: readonly string[];
  networks: Readonly<Record<string, { address: string; interface?: string; prefix?: number }>>;
  vars: Readonly<Record<string, unknown>>;
  /** Values to mask wherever they could appear (diffs, commands, logs). */
  secrets: readonly string[];
}

/** A read-only command. `id` names its result in the facts. */
export interface Probe {
  id: string;
  argv: readonly string[];
  sudo?: boolean;
  /**
   * Run on this other node of the run (its inventory name) instead of the
   * step's own node: a step that depends on another node's state (a file
   * it will `carry` from there, a certificate both must hold). Such a
   * kind's `reads` must cover what it reads there: leave them undefined
   * (anything, on any node) unless they are shared names.
   */
  node?: string;
  /**
   * With `node`: when that node is not in this run (`--limit`), the probe
   * does not run and its result is NOT_IN_RUN, for a step that can decide
   * without it. Without: the step fails, naming the node.
   */
  optional?: boolean;
  /**
   * What of the result the step's decision depends on, for a saved plan's
   * staleness check (src/plan/digest.ts): typically the probe's parsed
   * reading without timestamps, counters or progress. Absent: the exit code
   * and raw output.
   */
  digest?: (r: ProbeResult) => unknown;
}

export interface ProbeResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The result of an `optional` probe on a node that is not in this run. */
export const NOT_IN_RUN: ProbeResult = Object.freeze({ exitCode: -1, stdout: '', stderr: 'node not in this run (--limit)' });

export function isNotInRun(r: ProbeResult): boolean {
  return r.exitCode === NOT_IN_RUN.exitCode && r.stderr === NOT_IN_RUN.stderr;
}

/** Probe results by probe id. */
export type Facts = Readonly<Record<string, ProbeResult>>;

/**
 * A probe as a kind declares it (define.ts): the read-only command and the
 * parser of its result; its id is the key it is declared under. `parse` and
 * `digest` get the id for their error messages.
 */
export interface FactProbe<T> {
  argv: readonly string[];
  sudo?: boolean;
  /** See Probe.node. */
  node?: string;
  /** See Probe.optional. */
  optional?: boolean;
  parse(r: ProbeResult, id: string): T;
  /** See Probe.digest. */
  digest?: (r: ProbeResult, id: string) => unknown;
}

export type Change = ExecChange | UploadChange | CarryChange | RefuseChange | WaitChange;

export interface ExecChange {
  kind: 'exec';
  argv: readonly string[];
  sudo?: boolean;
  description: string;
  stdin?: string;
  /** True when argv/stdin carry secret values: shown masked everywhere. */
  secret?: boolean;
}

export interface UploadChange {
  kind: 'upload';
  path: string;
  content: string;
  /** Octal string, e.g. "0644". */
  mode: string;
  owner: string;
  group: string;
  sudo?: boolean;
  description: string;
  /** Unified diff (before -> after), secrets already masked. */
  diff: string;
  secret?: boolean;
}

/**
 * Copy a file from another node of the run (`from`, its inventory name) to
 * this node, THROUGH THE CONTROLLER: read there (base64 over that node's
 * own connection), written here as an upload is (temp file, mode, owner,
 * rename). Nodes need not reach each other. The content is never shown,
 * logged, journaled or kept in a plan: the command that reads it is told
 * with its output replaced by its size. A plan shows where from and where
 * to; what the file holds is known after apply (it may not exist yet).
 */
export interface CarryChange {
  kind: 'carry';
  from: string;
  /** Absolute path on `from`. */
  source: string;
  /** Read the source elevated (sudo) on `from`. */
  sourceSudo?: boolean;
  /** Absolute path on this node. */
  path: string;
  /** Octal string, e.g. "0600". */
  mode: string;
  owner: string;
  group: string;
  sudo?: boolean;
  description: string;
}

/**
 * Nothing to run, but the node is not yet as wanted: the state arrives by
 * itself (partition nodes appearing, DRBD connecting, a sync). The engine
 * runs the other changes listed before it, then re-probes (showing
 * `description`/`progress`) until the diff is empty, a real change appears,
 * or the step times out.
 */
export interface WaitChange {
  kind: 'wait';
  description: string;
  /** 0..1 when known. */
  progress?: number;
}

/** The step cannot bring the node to the wanted state safely. */
export interface RefuseChange {
  kind: 'refuse';
  reason: string;
}

export interface StepKind<P = unknown> {
  kind: string;
  params: z.ZodType<P>;
  probes(params: P, node: StepNode): Probe[];
  diff(params: P, facts: Facts, node: StepNode): Change[];
  /**
   * What the probes' results depend on, for the plan's "known after apply"
   * rule (src/plan/build.ts), as resource names (see RESOURCES below).
   * Absent (or undefined): the facts may depend on anything, on any node.
   */
  reads?(params: P, node: StepNode): readonly string[] | undefined;
  /**
   * What the changes may alter, as resource names (see RESOURCES below),
   * whatever the facts are. Absent (or undefined): anything, on any node.
   */
  writes?(params: P, node: StepNode): readonly string[] | undefined;
}

/** Whether two absolute paths may touch the same thing (equal, or one inside the other). */
export function pathsOverlap(a: string, b: string): boolean {
  const norm = (p: string) => p.replace(/\/+$/, '') || '/';
  const x = norm(a);
  const y = norm(b);
  return x === y || x.startsWith(y === '/' ? '/' : y + '/') || y.startsWith(x === '/' ? '/' : x + '/');
}

/**
 * RESOURCES: the names a kind's `reads` and `writes` use. A name is a path
 * or a pseudo-path `SCHEME:NAME`; `SCHEME:` alone means every NAME of it.
 *
 *   /abs/path       a file, or a directory and everything below it
 *   dev:/dev/NAME   a block device: its content (signatures, filesystem,
 *                   partition table) and the kernel's view of it (partitions,
 *                   holders, mounts). A disk and its partitions overlap
 *                   (/dev/vdb ~ /dev/vdb1, /dev/nvme0n1 ~ /dev/nvme0n1p1).
 *                   A stacked device (/dev/drbdN, /dev/mdN, /dev/dm-N) or a
 *                   name not directly under /dev (/dev/disk/by-id/..., /dev/mapper/...,
 *                   /dev/VG/LV) may be, or sit on, any device: it overlaps every dev:.
 *   drbd:NAME       DRBD resource NAME: its kernel state (up, role, disk and
 *                   connection states), its metadata (generation identifiers)
 *                   and its replicated data. Shared: its peers see it.
 *   unit:NAME       a service (systemd unit or SysV script; ".service" is
 *                   ignored): installed, enabled at boot, running
 *   pkgdb:          the installed packages, and so which commands exist
 *   host:name       the running host name (uname -n)
 *   cib:            Pacemaker's configuration (the CIB). Shared.
 *   cluster:        the cluster's membership and what it runs where. Shared;
 *                   as a write, "the cluster acts": Pacemaker may start, stop
 *                   or move its resources on any node, so it overlaps every
 *                   unit:, drbd:, cib:, cluster: and file on every node
 *                   (not block devices' content, not pkgdb:, not host:).
 *
 * Names of a node (files, dev:, unit:, pkgdb:, host:) are that node's: a
 * write on one node alters what a step reads on another only through a
 * shared name (drbd:, cib:, cluster:) or an undeclared (undefined) side.
 * A probe's tools (sfdisk, drbdadm, systemctl...) count among its reads
 * (pkgdb:) where a missing tool shows as a state ("not installed", "not up",
 * a refusal); where it can only make the probe fail, the step is an error
 * whatever comes first, and pkgdb: is left out.
 */
export const OWNER_NAMES = ['/etc/passwd', '/etc/group'] as const;
/** Where services are defined and enabled (systemd and SysV). */
export const UNIT_FILES = [
  '/etc/systemd',
  '/run/systemd',
  '/lib/systemd',
  '/usr/lib/systemd',
  '/etc/init.d',
  '/etc/rc.d',
  ...['0', '1', '2', '3', '4', '5', '6', 'S'].map((l) => `/etc/rc${l}.d`),
] as const;

const SHARED = new Set(['drbd', 'cib', 'cluster']);
/** What a write of `cluster:` (the cluster acts) reaches. */
const CLUSTER_REACH = new Set(['cluster', 'cib', 'unit', 'drbd', 'file']);

function resource(r: string): { scheme: string; name: string } | undefined {
  if (r.startsWith('/')) return { scheme: 'file', name: r };
  const m = /^([a-z][a-z0-9-]*):(.*)$/.exec(r);
  return m ? { scheme: m[1]!, name: m[2]! } : undefined;
}

/** Kernel device names that stack on others or may be aliases: they overlap every device. */
function anyDevice(d: string): boolean {
  return !/^\/dev\/[^/]+$/.test(d) || /^\/dev\/(drbd|md|dm-)\d+/.test(d);
}

/** /dev/vdb1 of /dev/vdb, /dev/nvme0n1p1 of /dev/nvme0n1. */
function partitionOf(part: string, disk: string): boolean {
  if (!part.startsWith(disk)) return false;
  return (/\d$/.test(disk) ? /^p\d+$/ : /^\d+$/).test(part.slice(disk.length));
}

function devicesOverlap(a: string, b: string): boolean {
  return a === '' || b === '' || a === b || anyDevice(a) || anyDevice(b) || partitionOf(a, b) || partitionOf(b, a);
}

/** Whether two resource names (see RESOURCES) on the same node may touch the same thing. An unknown form overlaps everything. */
export function resourcesOverlap(a: string, b: string): boolean {
  const x = resource(a);
  const y = resource(b);
  if (!x || !y) return true;
  if (x.scheme === 'cluster' || y.scheme === 'cluster') return CLUSTER_REACH.has(x.scheme) && CLUSTER_REACH.has(y.scheme);
  if (x.scheme !== y.scheme) return false;
  switch (x.scheme) {
    case 'file':
      return pathsOverlap(x.name, y.name);
    case 'dev':
      return devicesOverlap(x.name, y.name);
    case 'unit': {
      const u = (n: string) => n.replace(/\.service$/, '');
      return x.name === '' || y.name === '' || u(x.name) === u(y.name);
    }
    default:
      return x.name === '' || y.name === '' || x.name === y.name;
  }
}

/**
 * Whether changes that may write `writes` can alter facts that depend on
 * `reads` (undefined: anything, anywhere). `sameNode`: the writing step runs
 * on the node of the reading one; otherwise only shared names carry over.
 */
export function mayAffect(writes: readonly string[] | undefined, reads: readonly string[] | undefined, sameNode: boolean): boolean {
  if (writes === undefined || reads === undefined) return true;
  const shared = (r: string) => SHARED.has(resource(r)?.scheme ?? 'cluster');
  return writes.some((w) => reads.some((r) => resourcesOverlap(w, r) && (sameNode || shared(w) || shared(r))));
}
