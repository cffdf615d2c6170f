/**
 * One command on one exec channel: send the line, write stdin, collect both
 * streams (cut at the marker, ./marker.ts) and the exit status. A timeout,
 * an abort or the loss of the connection ends it: the channel is sent KILL
 * and closed, and the remote process group killed from a second channel.
 */
import { constants as osConstants } from 'node:os';
import type { Client, ClientChannel } from 'ssh2';
import { afterMarker } from './marker.js';
import { SshError } from './types.js';

/** What a channel runs on: the connection (./connection.ts, or a stand-in in tests). */
export interface ChannelHost {
  readonly client: Pick<Client, 'exec'>;
  /** The error every command meets once the connection is lost; null while it is up. */
  readonly lost: SshError | null;
  /** `fail` is called if the connection is lost before the returned function is. */
  watch(fail: (err: SshError) => void): () => void;
  killRemote(pid: number): void;
}

export interface RawResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
}

export interface RawOptions {
  /** The marker the line prints first (see prefixLine). */
  marker: string;
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  /** Masked description for error messages. */
  what: string;
  /** Endpoint name, for error messages. */
  node: string;
}

/** Runs `line` on a new exec channel of `host`, with `stdin` written and closed. */
export function runChannel(host: ChannelHost, line: string, stdin: Buffer, o: RawOptions): Promise<RawResult> {
  if (host.lost) return Promise.reject(host.lost);
  if (o.signal?.aborted) return Promise.reject(o.signal.reason);
  const started = performance.now();
  return new Promise<RawResult>((resolve, reject) => {
    let channel: ClientChannel | undefined;
    let pid: number | undefined;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const kill = () => {
      if (!channel) return;
      sendSignal(channel, 'KILL'); // honoured by sshd for non-root logins only
      if (pid !== undefined) host.killRemote(pid);
      channel.close();
    };
    const finish = (error: unknown, result?: RawResult) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      unwatch();
      if (error !== null) {
        kill();
        reject(error);
      } else resolve(result!);
    };
    const unwatch = host.watch((e) => finish(e));
    const onAbort = () => finish(o.signal!.reason);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.timeoutMs !== undefined) {
      timer = setTimeout(() => finish(new SshError('SSH_TIMEOUT', `${o.node}: command timed out after ${o.timeoutMs} ms and was killed: ${o.what}`)), o.timeoutMs);
    }
    try {
      host.client.exec(line, (e, ch) => {
        if (e) return finish(host.lost ?? new SshError('SSH_CONNECT', `${o.node}: cannot open an exec channel: ${e.message}`, { cause: e }));
        channel = ch;
        if (settled) return kill();
        collect(
          ch,
          o.marker,
          (p) => (pid = p),
          (exitCode, stdout, stderr) => {
            if (exitCode === undefined) return finish(host.lost ?? new SshError('SSH_DISCONNECTED', `${o.node}: the channel closed without an exit status: ${o.what}`));
            finish(null, { exitCode, stdout, stderr, durationMs: performance.now() - started });
          },
        );
        ch.end(stdin.length > 0 ? stdin : undefined);
      });
    } catch (e) {
      finish(host.lost ?? new SshError('SSH_DISCONNECTED', `${o.node}: ${(e as Error).message}`, { cause: e }));
    }
  });
}

/**
 * Gathers a channel's streams until it closes, then hands them over cut at
 * the marker, with the exit status (undefined when none came). `onPid` gets
 * the remote pid as soon as it is on stdout.
 */
function collect(ch: ClientChannel, marker: string, onPid: (pid: number) => void, onClose: (exitCode: number | undefined, stdout: Buffer, stderr: Buffer) => void): void {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let outBytes = 0;
  let pid: number | undefined;
  let exitCode: number | undefined;
  ch.on('data', (d: Buffer) => {
    out.push(d);
    outBytes += d.length;
    // The pid follows rc-file noise, if any: look for it in the first 64 KiB only.
    if (pid === undefined && outBytes - d.length < 65_536) {
      pid = afterMarker(Buffer.concat(out), marker, true)?.pid;
      if (pid !== undefined) onPid(pid);
    }
  });
  ch.stderr.on('data', (d: Buffer) => err.push(d));
  ch.on('exit', (code: number | null, sig?: string) => {
    exitCode = code ?? signalExitCode(sig);
  });
  ch.on('close', () => {
    const stdout = Buffer.concat(out);
    const stderr = Buffer.concat(err);
    onClose(exitCode, afterMarker(stdout, marker, true)?.rest ?? stdout, afterMarker(stderr, marker, false)?.rest ?? stderr);
  });
}

/** A command killed by a signal exits 128 + its number, as in a shell. */
export function signalExitCode(name: string | undefined): number {
  const num = name === undefined ? undefined : (osConstants.signals as Record<string, number>)[`SIG${name}`];
  return 128 + (num ?? 0);
}

/**
 * Sends an SSH "signal" request. ssh2's public `channel.signal()` refuses once
 * our side is at EOF (we end it right after writing stdin), but
 * the request is still valid while the channel is open: use its protocol.
 */
export function sendSignal(channel: ClientChannel, name: string): void {
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
