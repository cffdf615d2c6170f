/**
 * The contract between the engine and the only module that talks SSH.
 *
 * Everything the engine does on a node goes through a `Session`: one SSH
 * connection per node, opened once and reused for every step. Commands are
 * argv arrays; quoting, sudo and secret masking happen in src/ssh alone.
 */

/** How to reach one node. Built from the inventory by the engine. */
export interface Endpoint {
  /** Inventory name of the node (bob, alice); used in messages and known_hosts look-ups. */
  name: string;
  host: string;
  port: number;
  user: string;
  auth: { kind: 'key'; privateKeyPath: string; passphraseEnv?: string } | { kind: 'agent'; socket?: string } | { kind: 'password'; password: string };
  /** Privilege escalation for commands marked `sudo`. */
  become?: { method: 'sudo'; password?: string };
  /** ProxyJump: reach this endpoint through another one. */
  jump?: Endpoint;
  /** Seconds; 0 disables. */
  keepaliveInterval?: number;
  connectTimeoutMs?: number;
}

/** Host key policy. `strict` is the default: unknown and changed keys are refused. */
export interface HostKeyPolicy {
  knownHostsPath: string;
  /** `strict`: refuse unknown keys; `accept-new`: record unknown keys, still refuse changed ones. */
  mode: 'strict' | 'accept-new';
}

export interface Command {
  argv: readonly string[];
  /** Run through sudo (non-interactive; the password, if any, is fed on stdin, never on argv). */
  sudo?: boolean;
  /** Bytes for the command's standard input. */
  stdin?: string | Buffer;
  /** Values that must never appear in logs or errors (replaced by `********`). */
  secrets?: readonly string[];
  timeoutMs?: number;
  env?: Readonly<Record<string, string>>;
  /**
   * A read-only check (a step's probe). In a batch, a check of the form
   * `sh -c SCRIPT sh ARGS...` runs SCRIPT in the batch shell's own subshell
   * (./batch.ts) instead of starting another `sh`.
   */
  check?: boolean;
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface Session {
  readonly endpoint: Endpoint;
  /** Run one command. Never throws on a non-zero exit code: that is in the result. */
  exec(cmd: Command, signal?: AbortSignal): Promise<CommandResult>;
  /** Run several commands in ONE round trip (on the session's long-lived batch shell when it is free); results in the same order. */
  execBatch(cmds: readonly Command[], signal?: AbortSignal): Promise<CommandResult[]>;
  /** Write a file atomically (temp file + rename), with mode/owner; content never logged. */
  writeFile(path: string, content: string | Buffer, opts?: { mode?: number; owner?: string; group?: string; sudo?: boolean }): Promise<void>;
  /** False once the connection is lost or closed; every later call rejects with SSH_DISCONNECTED. */
  isAlive(): boolean;
  close(): Promise<void>;
}

/** Thrown for failures to reach or authenticate a node (not for command exit codes). */
export class SshError extends Error {
  constructor(
    readonly code: 'SSH_CONNECT' | 'SSH_AUTH' | 'SSH_HOSTKEY_UNKNOWN' | 'SSH_HOSTKEY_MISMATCH' | 'SSH_TIMEOUT' | 'SSH_DISCONNECTED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SshError';
  }
}
