/** What every measured tool (ha-provision, Ansible, the floor) offers the bench. */
import type { Measured } from '../proc.js';
import type { BenchHost, Workload } from '../workload.js';

export type ToolName = 'ha-provision' | 'ansible' | 'floor';
export const TOOL_NAMES: readonly ToolName[] = ['ha-provision', 'ansible', 'floor'];
export type Phase = 'converge' | 'nochange';

export interface ToolContext {
  /** Where the tool writes its inputs (inventory, playbook, config). */
  workDir: string;
  knownHostsPath: string;
  hosts: readonly BenchHost[];
  workload: Workload;
}

export interface ToolRun {
  measured: Measured;
  /** Changes the tool itself reported (steps/tasks changed), or null if it reports none we can read. */
  reportedChanges: number | null;
}

export interface Tool {
  readonly name: ToolName;
  /** Tool and version, for the report header. */
  version(): Promise<string>;
  /** Writes the tool's input files for these hosts and this workload. */
  prepare(ctx: ToolContext): Promise<void>;
  /** One measured run; throws ToolFailure when the tool fails. */
  run(phase: Phase): Promise<ToolRun>;
}

export class ToolFailure extends Error {
  constructor(
    readonly tool: ToolName,
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = 'ToolFailure';
  }
}

/** The last `max` characters of a process's output, for error messages. */
export function tail(s: string, max = 2000): string {
  return s.length <= max ? s : `...${s.slice(-max)}`;
}
