/**
 * One open SSH connection and whether it still is. Once it is lost (close,
 * end or error from ssh2) every command in flight fails with
 * SSH_DISCONNECTED, and so does every later one before it starts. close()
 * ends it and the jump connections it runs through, after the best-effort
 * kills still under way.
 */
import type { Logger } from 'pino';
import type { Client } from 'ssh2';
import type { Connection } from './connect.js';
import { SshError, type Endpoint } from './types.js';

/** How long close() waits for pending kills, then for the server to close, before it destroys the socket. */
const CLOSE_WAIT_MS = 2000;

export class LiveConnection {
  readonly client: Client;
  private readonly via: Client[];
  private deadError: SshError | null = null;
  private readonly inflight = new Set<(err: SshError) => void>();
  private readonly closed: Promise<void>;
  /** Kill requests still running; close() lets them finish first. */
  private readonly pendingKills = new Set<Promise<void>>();

  constructor(
    private readonly endpoint: Endpoint,
    conn: Connection,
    private readonly log: Logger | undefined,
  ) {
    this.client = conn.client;
    this.via = conn.via;
    this.closed = new Promise((resolve) => conn.client.once('close', () => resolve()));
    conn.client.on('close', () => this.markDead('connection closed'));
    conn.client.on('end', () => this.markDead('connection ended'));
    conn.client.on('error', (err: Error) => this.markDead(`connection error: ${err.message}`));
  }

  /** The error every command meets from now on; null while the connection is up. */
  get lost(): SshError | null {
    return this.deadError;
  }

  isAlive(): boolean {
    return this.deadError === null;
  }

  /** `fail` is called if the connection is lost before the returned function is. */
  watch(fail: (err: SshError) => void): () => void {
    this.inflight.add(fail);
    return () => this.inflight.delete(fail);
  }

  /** Best effort: kill the remote command's process group from a second channel. */
  killRemote(pid: number): void {
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

  async close(): Promise<void> {
    if (!this.deadError) this.fail(new SshError('SSH_DISCONNECTED', `${this.endpoint.name}: the session was closed`));
    if (this.pendingKills.size > 0) {
      await Promise.race([Promise.allSettled(this.pendingKills), new Promise((r) => setTimeout(r, CLOSE_WAIT_MS).unref())]);
    }
    this.client.end();
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.client.destroy();
        resolve();
      }, CLOSE_WAIT_MS);
    });
    await Promise.race([this.closed, forced]);
    clearTimeout(timer);
    for (const c of this.via) c.end();
  }

  private markDead(why: string): void {
    if (this.deadError) return;
    const { name, host, port } = this.endpoint;
    this.deadError = new SshError('SSH_DISCONNECTED', `${name}: lost the SSH connection to ${host}:${port} (${why})`);
    this.log?.warn({ reason: why }, 'ssh connection lost');
    this.fail(this.deadError);
    for (const c of this.via) c.end();
  }

  private fail(err: SshError): void {
    this.deadError = err;
    for (const fail of this.inflight) fail(err);
    this.inflight.clear();
  }
}
