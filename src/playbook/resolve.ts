/**
 * Playbook x inventory -> a validated Project (steps resolved per node).
 * Validation only: nothing here opens a connection.
 *
 * PUBLIC CONTRACT consumed by the engine (src/plan, src/run, src/cli/main.ts).
 */
import type { z } from 'zod';
import type { Endpoint, HostKeyPolicy } from '../ssh/types.js';

/** Which step kinds exist and their parameter schemas (injected; the engine owns the real one). */
export interface StepRegistry {
  get(kind: string): { params: z.ZodType } | undefined;
  kinds(): string[];
}

/** Stable error codes (closed union; `code` is still a plain string for consumers). */
export type InputErrorCode =
  | 'FILE_NOT_FOUND'
  | 'YAML_SYNTAX'
  | 'INVENTORY_SCHEMA'
  | 'INVENTORY_UNKNOWN_KEY'
  | 'INVENTORY_LITERAL_SECRET'
  | 'INVENTORY_RULE'
  | 'INVENTORY_SECRET_MISSING'
  | 'PLAYBOOK_SCHEMA'
  | 'PLAYBOOK_UNKNOWN_KEY'
  | 'PLAYBOOK_RULE'
  | 'PLAYBOOK_UNKNOWN_KIND'
  | 'PLAYBOOK_REF'
  | 'PLAYBOOK_PARAMS';

/** One problem in one input file. All problems of a file are returned at once. */
export interface InputError {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Key path, e.g. "nodes.bob.networks.lan.address" ("" for the whole document). */
  path: string;
  /** What was expected and what was found. */
  message: string;
  code: InputErrorCode;
}

export interface NetworkAddress {
  address: string;
  interface?: string;
  prefix?: number;
}

export interface ResolvedNode {
  /** Inventory name: bob, alice. */
  name: string;
  /** Auth resolved (key path absolute; password read from env/prompt). */
  endpoint: Endpoint;
  /** Host key verification for this node (default: strict, ~/.ssh/known_hosts). */
  hostKeys: HostKeyPolicy;
  roles: string[];
  groups: string[];
  networks: Record<string, NetworkAddress>;
  vars: Record<string, unknown>;
  /** Values to mask everywhere (passwords, sudo passwords, shared secrets). */
  secrets: string[];
}

export interface ResolvedStep {
  /** Stable, unique, from the playbook ([a-z0-9-]). */
  id: string;
  kind: string;
  /** Human description; default `${kind} (${id})`. */
  title: string;
  /** Node names in inventory order, resolved from all / role:x / group:x / [names]. */
  targets: string[];
  /** Step ids that must be finished on ALL their targets first (barrier); always earlier steps. */
  waitFor: string[];
  /** Params with inventory references resolved per target node, validated with registry.get(kind).params (parsed output). */
  paramsByNode: Record<string, unknown>;
  timeoutMs?: number;
  source: { file: string; line: number; column: number };
}

export interface ClusterNetwork {
  name: string;
  cidr: string;
}

export interface DrbdHost {
  /** Backing block device on this node, e.g. /dev/sdb1. */
  disk: string;
  /** Network whose address carries replication (default: the resource's network). */
  address: string;
  port: number;
}

export interface DrbdResource {
  name: string;
  device: string;
  minor: number;
  port: number;
  /** Network name whose per-node address DRBD binds to. */
  network: string;
  metaDisk: string;
  protocol: 'A' | 'B' | 'C';
  syncRate?: string;
  /** Node names carrying this resource, in inventory order. */
  nodes: string[];
  /** Per node: backing disk and replication address. */
  hosts: Record<string, DrbdHost>;
  /** Resolved from env; also listed in Project.secrets. */
  sharedSecret?: string;
}

export interface FilesystemResource {
  name: string;
  device: string;
  directory: string;
  fstype: string;
  options?: string;
  drbd?: string;
}

export interface VirtualIp {
  name: string;
  ip: string;
  cidrNetmask: number;
  nic: string;
  network?: string;
}

export interface ProjectSettings {
  concurrency: number;
  maxFailPercent: number;
  stepTimeoutMs: number;
  strategy: 'linear' | 'free';
  /** Absolute path. Default: `.ha-provision/` beside the inventory. */
  stateDir: string;
}

export interface Project {
  inventoryPath: string;
  playbookPath: string;
  /** sha256 hex of the raw file bytes. */
  inventoryDigest: string;
  playbookDigest: string;
  cluster: {
    name: string;
    vars: Record<string, unknown>;
    networks: ClusterNetwork[];
    drbd: DrbdResource[];
    filesystems: FilesystemResource[];
    vips: VirtualIp[];
    /** Name of the initial primary node (role `primary`), if any. */
    primary?: string;
  };
  /** Inventory order. */
  nodes: ResolvedNode[];
  /** Playbook order. */
  steps: ResolvedStep[];
  settings: ProjectSettings;
  /** Union of every secret value (node + cluster) to mask in all output. */
  secrets: string[];
}

export interface LoadProjectOptions {
  inventoryPath: string;
  /** Default: the playbook the inventory names (relative to the inventory file). */
  playbookPath?: string;
  registry: StepRegistry;
  readFile?: (p: string) => Promise<string>;
  /** For passwords/secrets from env vars. Default: {} (nothing set). */
  env?: Record<string, string | undefined>;
  /**
   * Asks for a secret (`password: {prompt: true}`); the CLI supplies a hidden
   * TTY prompt. Called at most once per distinct question.
   */
  prompt?: (question: string) => Promise<string>;
  /**
   * 'resolve' (default): env vars must be set and prompts are asked.
   * 'skip': secrets are not read (validate): passwords become '' in endpoints.
   */
  secrets?: 'resolve' | 'skip';
  /** For `~` in paths and the default known_hosts. Default: os.homedir(). */
  homeDir?: string;
}

export type LoadProjectResult = { ok: true; project: Project } | { ok: false; errors: InputError[] };

/** Validation with no connection. Never throws for user errors: returns them all. */
export async function loadProject(opts: LoadProjectOptions): Promise<LoadProjectResult> {
  return {
    ok: false,
    errors: [{ file: opts.inventoryPath, line: 1, column: 1, path: '', message: 'loadProject: not implemented yet', code: 'INVENTORY_SCHEMA' }],
  };
}
