/**
 * The Session implementation: exec, execBatch, writeFile over one ssh2 Client.
 *
 * Every command line starts with a random marker on stdout and stderr: what
 * the remote login shell's start-up files print before it (bash sources
 * ~/.bashrc even for `bash -c` under sshd) is cut off at the marker, so
 * results never depend on rc files.
 */
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { Client, ClientChannel } from 'ssh2';
import type { Command, CommandResult, Endpoint, HostKeyPolicy, Session } from './types.js';
import { SshError } from './types.js';
import { connect } from './connect.js';
import { buildCommand, describeCommand, prefixLine } from './command.js';
import { buildBatchScript, parseBatchOutput } from './batch.js';
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
  return new SshSession(endpoint, conn.client, conn.via, log, opts.signal);
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

interface RawResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
}

interface RawOptions {
  /** The marker the line prints first (see prefixLine). */
  marker: string;
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  /** Masked description for error messages. */
  what: string;
}

function afterPrefix(buf: Buffer, marker: string, withPid: boolean): { rest: Buffer; pid?: number } | null {
  const at = buf.indexOf(marker);
  if (at < 0) return null;
  if (!withPid) return { rest: buf.subarray(at + marker.length) };
  const end = buf.indexOf(marker, at + marker.length);
  if (end < 0) return null;
  const pid = Number(buf.subarray(at + marker.length, end).toString('latin1'));
  return { rest: buf.subarray(end + marker.length), pid: Number.isInteger(pid) && pid > 1 ? pid : undefined };
}

function signalExitCode(name: string | undefined): number {
  const num = name === undefined ? undefined : (osConstants.signals as Record<string, number>)[`SIG${name}`];
  return 128 + (num ?? 0);
}

/**
 * Sends an SSH "signal" request. ssh2's public `channel.signal()` refuses once
 * our side is at EOF (we end it right after writing stdin), but
 * the request is still valid while the channel is open: use its protocol.
 */
function sendSignal(channel: ClientChannel, name: string): void {
  const ch = channel as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, name: string): void } };
  };
  try {
    const state = ch.outgoing?.state;
    if ((state === 'open' || state === 'eof') && ch.outgoing && ch._client?._protocol) ch._client._protocol.signal(ch.outgoing.id, name);
    else channel.signal(name);
  } catch {
    /* channel already gone */
  }
}

class SshSession implements Session {
  private deadError: SshError | null = null;
  private readonly inflight = new Set<(err: SshError) => void>();
  private readonly sessionSecrets: string[];
  private readonly closed: Promise<void>;
  /** Kill requests still running; close() lets them finish first. */
  private readonly pendingKills = new Set<Promise<void>>();

  constructor(
    readonly endpoint: Endpoint,
    private readonly client: Client,
    private readonly via: Client[],
    private readonly log: Logger | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.sessionSecrets = [endpoint.auth.kind === 'password' ? endpoint.auth.password : undefined, endpoint.become?.password].filter(
      (s): s is string => typeof s === 'string' && s !== '',
    );
    this.closed = new Promise((resolve) => client.once('close', () => resolve()));
    const lost = (why: string) => this.markDead(why);
    client.on('close', () => lost('connection closed'));
    client.on('end', () => lost('connection ended'));
    client.on('error', (err: Error) => lost(`connection error: ${err.message}`));
  }

  isAlive(): boolean {
    return this.deadError === null;
  }

  private markDead(why: string): void {
    if (this.deadError) return;
    this.deadError = new SshError('SSH_DISCONNECTED', `${this.endpoint.name}: lost the SSH connection to ${this.endpoint.host}:${this.endpoint.port} (${why})`);
    this.log?.warn({ reason: why }, 'ssh connection lost');
    for (const fail of this.inflight) fail(this.deadError);
    this.inflight.clear();
    for (const c of this.via) c.end();
  }

  private masker(cmd?: Command): Masker {
    return makeMasker([...this.sessionSecrets, ...(cmd?.secrets ?? [])]);
  }

  private combinedSignal(signal: AbortSignal | undefined): AbortSignal | undefined {
    if (signal && this.signal) return AbortSignal.any([signal, this.signal]);
    return signal ?? this.signal;
  }

  /** One exec channel: send `line`, write `stdin`, collect both streams and the exit status. */
  private run(line: string, stdin: Buffer, o: RawOptions): Promise<RawResult> {
    if (this.deadError) return Promise.reject(this.deadError);
    const signal = this.combinedSignal(o.signal);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const started = performance.now();
    return new Promise<RawResult>((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let exitCode: number | undefined;

      let pid: number | undefined;
      const kill = () => {
        if (!channel) return;
        sendSignal(channel, 'KILL'); // honoured by sshd for non-root logins only
        if (pid !== undefined) this.killRemote(pid);
        channel.close();
      };
      const finish = (error: unknown, result?: RawResult) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.inflight.delete(onDead);
        if (error !== null) {
          kill();
          reject(error);
        } else resolve(result!);
      };
      const onDead = (e: SshError) => finish(e);
      const onAbort = () => finish(signal!.reason);
      this.inflight.add(onDead);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (o.timeoutMs !== undefined) {
        timer = setTimeout(
          () => finish(new SshError('SSH_TIMEOUT', `${this.endpoint.name}: command timed out after ${o.timeoutMs} ms and was killed: ${o.what}`)),
          o.timeoutMs,
        );
      }

      try {
        this.client.exec(line, (e, ch) => {
          if (e) {
            return finish(this.deadError ?? new SshError('SSH_CONNECT', `${this.endpoint.name}: cannot open an exec channel: ${e.message}`, { cause: e }));
          }
          channel = ch;
          if (settled) return kill();
          let outBytes = 0;
          ch.on('data', (d: Buffer) => {
            out.push(d);
            outBytes += d.length;
            // The pid follows rc-file noise, if any: look for it in the first 64 KiB only.
            if (pid === undefined && outBytes - d.length < 65_536) pid = afterPrefix(Buffer.concat(out), o.marker, true)?.pid;
          });
          ch.stderr.on('data', (d: Buffer) => err.push(d));
          ch.on('exit', (code: number | null, sig?: string) => {
            exitCode = code ?? signalExitCode(sig);
          });
          ch.on('close', () => {
            if (exitCode === undefined) {
              return finish(this.deadError ?? new SshError('SSH_DISCONNECTED', `${this.endpoint.name}: the channel closed without an exit status: ${o.what}`));
            }
            const stdout = Buffer.concat(out);
            const stderr = Buffer.concat(err);
            finish(null, {
              exitCode,
              stdout: afterPrefix(stdout, o.marker, true)?.rest ?? stdout,
              stderr: afterPrefix(stderr, o.marker, false)?.rest ?? stderr,
              durationMs: performance.now() - started,
            });
          });
          ch.end(stdin.length > 0 ? stdin : undefined);
        });
      } catch (e) {
        finish(this.deadError ?? new SshError('SSH_DISCONNECTED', `${this.endpoint.name}: ${(e as Error).message}`, { cause: e }));
      }
    });
  }

  /** Best effort: kill the remote command's process group from a second channel. */
  private killRemote(pid: number): void {
    if (this.deadError) return;
    const done = new Promise<void>((resolve) => {
      try {
        this.client.exec(`kill -s KILL -- -${pid} 2>/dev/null || kill -s KILL ${pid} 2>/dev/null`, (e, ch) => {
          if (e) return resolve();
          ch.on('close', () => resolve());
          ch.resume();
          ch.stderr.resume();
          ch.end();
        });
      } catch {
        resolve(); // connection gone: nothing to kill with
      }
    });
    this.pendingKills.add(done);
    void done.then(() => this.pendingKills.delete(done));
  }

  async exec(cmd: Command, signal?: AbortSignal): Promise<CommandResult> {
    const mask = this.masker(cmd);
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
    this.log.info({ cmd: what, exitCode: r.exitCode, durationMs: r.durationMs, stdoutBytes: Buffer.byteLength(r.stdout), stderrBytes: Buffer.byteLength(r.stderr), ...extra }, 'ssh exec');
    if (this.log.isLevelEnabled('debug')) this.log.debug({ cmd: what, stdout: r.stdout, stderr: r.stderr, ...extra }, 'ssh exec output');
  }

  async execBatch(cmds: readonly Command[], signal?: AbortSignal): Promise<CommandResult[]> {
    if (cmds.length === 0) return [];
    const delim = hex(16);
    const marker = hex(8);
    const script = buildBatchScript(cmds, this.endpoint.become, delim, marker);
    const mask = makeMasker([...this.sessionSecrets, ...cmds.flatMap((c) => c.secrets ?? [])]);
    const whats = cmds.map((c) => mask(describeCommand(c)));
    const timeouts = cmds.map((c) => c.timeoutMs);
    const timeoutMs = timeouts.every((t) => t !== undefined) ? timeouts.reduce<number>((a, t) => a + (t ?? 0), 0) : undefined;
    const what = `batch of ${cmds.length}: ${whats.join(' ; ')}`;
    const raw = await this.run('exec sh -s', Buffer.from(script), { marker, timeoutMs, signal, what });
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

  async writeFile(path: string, content: string | Buffer, opts: { mode?: number; owner?: string; group?: string; sudo?: boolean } = {}): Promise<void> {
    if (!posix.isAbsolute(path)) throw new Error(`writeFile needs an absolute path, got ${JSON.stringify(path)}`);
    const tmp = posix.join(posix.dirname(path), `.${posix.basename(path)}.hapv-${hex(6)}`);
    const mode = opts.mode === undefined ? '' : (opts.mode & 0o7777).toString(8);
    const owner = opts.owner === undefined && opts.group === undefined ? '' : `${opts.owner ?? ''}${opts.group === undefined ? '' : `:${opts.group}`}`;
    // set -C: the temp file must be new (no following a planted symlink). Mode
    // when not given: the existing file's, else 0644.
    const script = [
      'set -eC; t=$1; f=$2; trap \'rm -f -- "$t"\' EXIT; umask 077; cat > "$t"',
      'if [ -n "$3" ]; then chmod "$3" "$t"; elif [ -e "$f" ]; then chmod --reference="$f" "$t"; else chmod 644 "$t"; fi',
      'if [ -n "$4" ]; then chown -- "$4" "$t"; fi',
      'mv -f -- "$t" "$f"; trap - EXIT',
    ].join('\n');
    const cmd: Command = { argv: ['sh', '-c', script, 'sh', tmp, path, mode, owner], stdin: content, sudo: opts.sudo === true };
    const r = await this.exec(cmd);
    if (r.exitCode !== 0) {
      throw new RemoteCommandError(`${this.endpoint.name}: writing ${path} failed (exit ${r.exitCode}): ${r.stderr.trim()}`, r);
    }
  }

  async close(): Promise<void> {
    this.markDeadQuietly();
    if (this.pendingKills.size > 0) {
      await Promise.race([Promise.allSettled(this.pendingKills), new Promise((r) => setTimeout(r, 2000).unref())]);
    }
    this.client.end();
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.client.destroy();
        resolve();
      }, 2000);
    });
    await Promise.race([this.closed, forced]);
    clearTimeout(timer);
    for (const c of this.via) c.end();
  }

  private markDeadQuietly(): void {
    if (this.deadError) return;
    this.deadError = new SshError('SSH_DISCONNECTED', `${this.endpoint.name}: the session was closed`);
    for (const fail of this.inflight) fail(this.deadError);
    this.inflight.clear();
  }
}
