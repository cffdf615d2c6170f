/**
 * One long-lived `sh -s` on one exec channel, fed one batch script
 * (./batch.ts) after another. A round trip then costs neither a channel
 * open nor the start of sshd's session process, the login shell and `sh` on
 * the node: on loopback with 20 hosts in lockstep, a round took ~45 ms with
 * a new channel each time and ~9 ms this way (bench/README.md).
 *
 * A batch is done when its last command's status has come on both streams
 * (the delimiter is random per batch: no output can forge it). One batch at
 * a time: while one runs, the session runs another on a channel of its own.
 * A timeout, an abort or a lost connection ends the shell as runChannel ends
 * a command (KILL, the process group killed from a second channel, the
 * channel closed); so does a shell that exits. Output that comes while no
 * batch runs (a process a command left running in the background, still
 * writing) ends the shell too, so that it cannot end up in a later batch's
 * results. The session opens a new shell for its next batch.
 *
 * What a command leaves running in the background stays in the shell's
 * process group: a timeout or abort of a later batch of the same shell kills
 * it too (services started through systemd are not in it).
 */
import type { ClientChannel } from 'ssh2';
import { sendSignal, signalExitCode, type ChannelHost, type RawResult } from './channel.js';
import type { EndMark } from './batch.js';
import { afterMarker, prefixLine } from './marker.js';
import { SshError } from './types.js';

export interface ShellRunOptions {
  /** Patterns of the batch's last status line on stdout and on stderr (batchEnd in ./batch.ts). */
  end: { stdout: EndMark; stderr: EndMark };
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  /** Masked description for error messages. */
  what: string;
}

/**
 * How much of a stream's end is searched for the end pattern (it is whole in
 * it even when a chunk boundary cut it in two): nothing follows a batch's
 * last status line on its stream, so the pattern is at the end when it comes.
 */
const TAIL_CHARS = 256;

/** Finds a pattern at the end of a stream that arrives in chunks (latin1: the patterns are ASCII). */
class StreamWatch {
  private tail = '';
  found = false;
  constructor(private readonly pattern: EndMark) {}
  push(d: Buffer): void {
    if (this.found) return;
    const text = this.tail + d.toString('latin1', Math.max(0, d.length - TAIL_CHARS));
    this.found = this.pattern.test(text);
    this.tail = text.slice(-TAIL_CHARS);
  }
}

interface Running {
  out: Buffer[];
  err: Buffer[];
  outEnd: StreamWatch;
  errEnd: StreamWatch;
  /** Settles the batch: with an error (the shell is then killed), or with what came (`exitCode`: the shell's, when it ended). */
  finish(error: unknown, exitCode?: number): void;
}

/**
 * The shell's user and group names, looked up once per shell (two `id`
 * processes), and its pid (exec keeps it: `$$` in the shell and its
 * subshells), for the file writes it runs (write-file.ts: no chown when the
 * new file already has the owner and group asked for).
 */
const WHO_AM_I = 'HAPV_SHELL=$$ HAPV_USER=$(id -un 2>/dev/null) HAPV_GROUP=$(id -gn 2>/dev/null)';

export class BatchShell {
  private pid: number | undefined;
  /** Output before the opening marker (login noise) and the marker itself, until each stream has passed it. */
  private preOut: Buffer[] | null = [];
  private preErr: Buffer[] | null = [];
  private running: Running | undefined;
  private exitCode: number | undefined;
  private ended = false;

  private constructor(
    private readonly host: ChannelHost,
    private readonly channel: ClientChannel,
    private readonly marker: string,
    private readonly node: string,
  ) {
    channel.on('data', (d: Buffer) => this.onData(d, 'out'));
    channel.stderr.on('data', (d: Buffer) => this.onData(d, 'err'));
    channel.on('exit', (code: number | null, sig?: string) => {
      this.exitCode = code ?? signalExitCode(sig);
    });
    // a channel that fails (a write after the server closed it) is a shell that ended
    channel.on('error', () => channel.close());
    channel.on('close', () => {
      this.ended = true;
      // the shell ended inside a batch: what came is handed over, and the batch's parse says what is missing
      if (this.exitCode !== undefined) this.running?.finish(null, this.exitCode);
      else this.running?.finish(host.lost ?? new SshError('SSH_DISCONNECTED', `${node}: the batch shell closed without an exit status`));
    });
  }

  /** Opens the channel and starts the shell (its first batch may be written at once). */
  static open(host: ChannelHost, node: string, marker: string): Promise<BatchShell> {
    if (host.lost) return Promise.reject(host.lost);
    return new Promise((resolve, reject) => {
      try {
        host.client.exec(`${prefixLine(marker)}; ${WHO_AM_I} exec sh -s`, (e, ch) => {
          if (e) reject(host.lost ?? new SshError('SSH_CONNECT', `${node}: cannot open a channel for the batch shell: ${e.message}`, { cause: e }));
          else resolve(new BatchShell(host, ch, marker, node));
        });
      } catch (e) {
        reject(host.lost ?? new SshError('SSH_DISCONNECTED', `${node}: ${(e as Error).message}`, { cause: e }));
      }
    });
  }

  /** Open and not running a batch. */
  get idle(): boolean {
    return !this.ended && this.running === undefined;
  }

  /** Open (idle or running a batch). */
  get open(): boolean {
    return !this.ended;
  }

  /** Runs one batch script; rejects when the shell is not idle. */
  run(script: string, o: ShellRunOptions): Promise<RawResult> {
    if (!this.idle) return Promise.reject(new Error(`${this.node}: the batch shell is ${this.ended ? 'closed' : 'busy'}`));
    if (this.host.lost) return Promise.reject(this.host.lost);
    if (o.signal?.aborted) return Promise.reject(o.signal.reason);
    const started = performance.now();
    return new Promise<RawResult>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => r.finish(o.signal!.reason);
      const r: Running = {
        out: [],
        err: [],
        outEnd: new StreamWatch(o.end.stdout),
        errEnd: new StreamWatch(o.end.stderr),
        finish: (error, exitCode = 0) => {
          if (this.running !== r) return;
          this.running = undefined;
          if (timer) clearTimeout(timer);
          o.signal?.removeEventListener('abort', onAbort);
          unwatch();
          if (error !== null) {
            this.kill();
            reject(error);
          } else resolve({ exitCode, stdout: Buffer.concat(r.out), stderr: Buffer.concat(r.err), durationMs: performance.now() - started });
        },
      };
      this.running = r;
      const unwatch = this.host.watch((e) => r.finish(e));
      o.signal?.addEventListener('abort', onAbort, { once: true });
      if (o.timeoutMs !== undefined) {
        timer = setTimeout(() => r.finish(new SshError('SSH_TIMEOUT', `${this.node}: command timed out after ${o.timeoutMs} ms and was killed: ${o.what}`)), o.timeoutMs);
      }
      this.channel.write(script);
    });
  }

  private onData(d: Buffer, stream: 'out' | 'err'): void {
    // the login shell's noise and the opening marker (with the pid on stdout) come first, once
    const pre = stream === 'out' ? this.preOut : this.preErr;
    if (pre) {
      pre.push(d);
      const cut = afterMarker(Buffer.concat(pre), this.marker, stream === 'out');
      if (!cut) return;
      if (stream === 'out') {
        this.pid = cut.pid;
        this.preOut = null;
      } else this.preErr = null;
      if (cut.rest.length === 0) return;
      d = cut.rest;
    }
    const r = this.running;
    if (!r) {
      // a process left in the background writes: no later batch must read it
      this.close();
      return;
    }
    if (stream === 'out') {
      r.out.push(d);
      r.outEnd.push(d);
    } else {
      r.err.push(d);
      r.errEnd.push(d);
    }
    if (r.outEnd.found && r.errEnd.found) r.finish(null);
  }

  /** Ends the shell and every command it runs. */
  kill(): void {
    if (this.ended) return;
    this.ended = true;
    sendSignal(this.channel, 'KILL'); // honoured by sshd for non-root logins only
    if (this.pid !== undefined) this.host.killRemote(this.pid);
    this.channel.close();
  }

  /** Ends the shell: its stdin is closed, it exits after the batch it runs, if any. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.channel.end();
  }
}
