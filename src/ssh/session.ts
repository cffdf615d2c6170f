/**
 * The Session implementation: exec, execBatch, writeFile over one live
 * connection. It builds each command line (./command.ts, ./batch.ts,
 * ./write-file.ts), runs it on a channel (./channel.ts) or, for a batch, on
 * the session's batch shell (./shell.ts), masks the session's and the
 * command's secrets in results, errors and logs, and logs each command.
 * Losing and closing the connection is ./connection.ts's.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Command, CommandResult, Endpoint, HostKeyPolicy, Session } from './types.js';
import { connect } from './connect.js';
import { buildCommand, describeCommand } from './command.js';
import { batchEnd, buildBatchScript, parseBatchOutput } from './batch.js';
import { runChannel, type RawOptions, type RawResult } from './channel.js';
import { LiveConnection } from './connection.js';
import { BatchShell, type ShellRunOptions } from './shell.js';
import { prefixLine } from './marker.js';
import { writeFileCommand, type WriteFileOptions } from './write-file.js';
import { makeMasker, type Masker } from '../mask.js';
import { RemoteCommandError } from './errors.js';

export interface OpenSessionOptions {
  hostKeys: HostKeyPolicy;
  logger?: Logger;
  /** Cancels the connect and, later, every command in flight on this session. */
  signal?: AbortSignal;
  /** TCP_NODELAY on the connection; default true. false exists only to measure its effect. */
  noDelay?: boolean;
}

export async function openSession(endpoint: Endpoint, opts: OpenSessionOptions): Promise<Session> {
  const started = performance.now();
  const log = opts.logger?.child({ node: endpoint.name });
  const conn = await connect(endpoint, { hostKeys: opts.hostKeys, noDelay: opts.noDelay ?? true, ...(opts.signal ? { signal: opts.signal } : {}) });
  log?.info({ host: endpoint.host, port: endpoint.port, durationMs: Math.round(performance.now() - started) }, 'ssh connected');
  return new SshSession(endpoint, new LiveConnection(endpoint, conn, log), log, opts.signal);
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

class SshSession implements Session {
  private readonly sessionSecrets: string[];
  /** The batch shell being opened or open: opened by the first batch, again after one ended; undefined after one could not be opened. */
  private shell: Promise<BatchShell | undefined> | undefined;
  /** That shell once it is open. */
  private shellOpened: BatchShell | undefined;
  private shellRefused = false;

  constructor(
    readonly endpoint: Endpoint,
    private readonly conn: LiveConnection,
    private readonly log: Logger | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.sessionSecrets = [endpoint.auth.kind === 'password' ? endpoint.auth.password : undefined, endpoint.become?.password].filter(
      (s): s is string => typeof s === 'string' && s !== '',
    );
  }

  isAlive(): boolean {
    return this.conn.isAlive();
  }

  private masker(cmds: readonly Command[]): Masker {
    return makeMasker([...this.sessionSecrets, ...cmds.flatMap((c) => c.secrets ?? [])]);
  }

  /** The call's signal and the session's, as one. */
  private cancelled(signal: AbortSignal | undefined): AbortSignal | undefined {
    return signal && this.signal ? AbortSignal.any([signal, this.signal]) : (signal ?? this.signal);
  }

  /** One channel, cancelled by the call's signal or the session's. */
  private run(line: string, stdin: Buffer, o: Omit<RawOptions, 'node'>): Promise<RawResult> {
    return runChannel(this.conn, line, stdin, { ...o, signal: this.cancelled(o.signal), node: this.endpoint.name });
  }

  async exec(cmd: Command, signal?: AbortSignal): Promise<CommandResult> {
    const mask = this.masker([cmd]);
    const what = mask(describeCommand(cmd));
    const marker = hex(8);
    const built = buildCommand(cmd, this.endpoint.become, hex(16));
    const line = `${prefixLine(marker)}; exec ${built.line}`;
    const stdin = Buffer.concat([Buffer.from(built.stdinPrefix), typeof cmd.stdin === 'string' ? Buffer.from(cmd.stdin) : (cmd.stdin ?? Buffer.alloc(0))]);
    let raw: RawResult;
    try {
      raw = await this.run(line, stdin, { marker, timeoutMs: cmd.timeoutMs, signal, what });
    } catch (e) {
      this.log?.warn({ cmd: what, error: mask(String((e as Error).message ?? e)) }, 'ssh exec failed');
      throw e;
    }
    const result: CommandResult = {
      exitCode: raw.exitCode,
      stdout: mask(raw.stdout.toString('utf8')),
      stderr: mask(raw.stderr.toString('utf8')),
      durationMs: Math.round(raw.durationMs * 10) / 10,
    };
    this.logResult(what, result);
    return result;
  }

  private logResult(what: string, r: CommandResult, extra?: Record<string, unknown>): void {
    if (!this.log) return;
    this.log.info(
      { cmd: what, exitCode: r.exitCode, durationMs: r.durationMs, stdoutBytes: Buffer.byteLength(r.stdout), stderrBytes: Buffer.byteLength(r.stderr), ...extra },
      'ssh exec',
    );
    if (this.log.isLevelEnabled('debug')) this.log.debug({ cmd: what, stdout: r.stdout, stderr: r.stderr, ...extra }, 'ssh exec output');
  }

  async execBatch(cmds: readonly Command[], signal?: AbortSignal): Promise<CommandResult[]> {
    if (cmds.length === 0) return [];
    const delim = hex(16);
    const script = buildBatchScript(cmds, this.endpoint.become, delim);
    const mask = this.masker(cmds);
    const whats = cmds.map((c) => mask(describeCommand(c)));
    const timeouts = cmds.map((c) => c.timeoutMs);
    const timeoutMs = timeouts.every((t) => t !== undefined) ? timeouts.reduce<number>((a, t) => a + (t ?? 0), 0) : undefined;
    const what = `batch of ${cmds.length}: ${whats.join(' ; ')}`;
    let raw = await this.onShell(script, { end: batchEnd(delim, cmds.length), timeoutMs, signal: this.cancelled(signal), what });
    if (!raw) {
      // the batch shell is running another batch (or cannot be had): `sh -s` on a channel of its own
      const marker = hex(8);
      raw = await this.run('exec sh -s', Buffer.from(`${prefixLine(marker)}\n${script}`), { marker, timeoutMs, signal, what });
    }
    const stdout = raw.stdout.toString('utf8');
    const stderr = raw.stderr.toString('utf8');
    let parsed: CommandResult[];
    try {
      parsed = parseBatchOutput(stdout, stderr, cmds.length, delim, Math.round(raw.durationMs * 10) / 10);
    } catch (e) {
      const result = { exitCode: raw.exitCode, stdout: mask(stdout), stderr: mask(stderr), durationMs: raw.durationMs };
      throw new RemoteCommandError(`${this.endpoint.name}: ${(e as Error).message} (exit ${raw.exitCode}): ${result.stderr.slice(-500)}`, result);
    }
    const batch = hex(4);
    return parsed.map((r, i) => {
      const masked = { ...r, stdout: mask(r.stdout), stderr: mask(r.stderr) };
      this.logResult(whats[i]!, masked, { batch, index: i });
      return masked;
    });
  }

  async writeFile(path: string, content: string | Buffer, opts: WriteFileOptions = {}): Promise<void> {
    const r = await this.exec(writeFileCommand(path, content, opts, hex(6)));
    if (r.exitCode !== 0) {
      throw new RemoteCommandError(`${this.endpoint.name}: writing ${path} failed (exit ${r.exitCode}): ${r.stderr.trim()}`, r);
    }
  }

  /**
   * Runs a batch script on the batch shell (opened now when there is none, or
   * the last one ended); undefined when it is running another batch or
   * cannot be opened.
   */
  private async onShell(script: string, o: ShellRunOptions): Promise<RawResult | undefined> {
    if (this.shellRefused || !this.conn.isAlive()) return undefined;
    if (this.shell === undefined || this.shellOpened?.open === false) {
      this.shellOpened = undefined;
      this.shell = BatchShell.open(this.conn, this.endpoint.name, hex(8)).then(
        (sh) => (this.shellOpened = sh),
        (e: unknown) => {
          this.log?.warn({ error: String((e as Error).message ?? e) }, 'ssh batch shell could not be opened; batches run on channels of their own');
          this.shellRefused = true;
          return undefined;
        },
      );
    }
    const shell = await this.shell;
    // no await between the check and run(), which marks the shell busy
    return shell?.idle ? shell.run(script, o) : undefined;
  }

  close(): Promise<void> {
    this.shellOpened?.close();
    return this.conn.close();
  }
}
