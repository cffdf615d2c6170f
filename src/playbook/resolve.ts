/**
 * Playbook x inventory -> a validated Project (steps resolved per node).
 * Validation only: nothing here opens a connection.
 *
 * PUBLIC CONTRACT consumed by the engine (src/plan, src/run, src/cli/main.ts).
 */
import type { z } from 'zod';
import type { InputError } from '../inventory/errors.js';
import type { ClusterModel, ProjectSettings, ResolvedNode } from '../inventory/types.js';

export type { InputError, InputErrorCode } from '../inventory/errors.js';
export type { ClusterModel, ClusterNetwork, DrbdHost, DrbdResource, FilesystemResource, NetworkAddress, ProjectSettings, ResolvedNode, VirtualIp } from '../inventory/types.js';

/** Which step kinds exist and their parameter schemas (injected; the engine owns the real one). */
export interface StepRegistry {
  get(kind: string): { params: z.ZodType } | undefined;
  kinds(): string[];
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

export interface Project {
  inventoryPath: string;
  playbookPath: string;
  /** sha256 hex of the raw file bytes. */
  inventoryDigest: string;
  playbookDigest: string;
  cluster: ClusterModel;
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
