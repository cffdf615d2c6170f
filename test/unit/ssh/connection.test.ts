/** LiveConnection (src/ssh/connection.ts) over stand-in ssh2 clients: losing the connection, closing it, pending kills. */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Client } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { LiveConnection } from '../../../src/ssh/connection.js';
import type { Endpoint } from '../../../src/ssh/types.js';

class FakeClient extends EventEmitter {
  ended = 0;
  readonly lines: string[] = [];
  readonly channels: EventEmitter[] = [];
  end() {
    this.ended++;
    setImmediate(() => this.emit('close'));
  }
  destroy() {}
  exec(line: string, cb: (err: Error | undefined, ch: EventEmitter) => void) {
    this.lines.push(line);
    const ch = Object.assign(new EventEmitter(), { stderr: { resume() {} }, resume() {}, end() {} });
    this.channels.push(ch);
    cb(undefined, ch);
  }
}

const endpoint: Endpoint = { name: 'bob', host: '10.0.0.1', port: 22, user: 'root', auth: { kind: 'agent' } };

function open() {
  const client = new FakeClient();
  const jump = new FakeClient();
  const warned: unknown[] = [];
  const log = { warn: (o: unknown) => void warned.push(o) } as unknown as Logger;
  const conn = new LiveConnection(endpoint, { client: client as unknown as Client, via: [jump as unknown as Client] }, log);
  return { conn, client, jump, warned };
}

describe('LiveConnection', () => {
  it('once lost, fails the commands in flight with SSH_DISCONNECTED naming why, logs it once and ends the jump connection', () => {
    const { conn, client, jump, warned } = open();
    const failed: string[] = [];
    conn.watch((e) => failed.push(`${e.code} ${e.message}`));
    const unwatched = conn.watch(() => failed.push('unwatched'));
    unwatched();
    expect(conn.isAlive()).toBe(true);
    client.emit('error', new Error('ECONNRESET'));
    client.emit('close');
    expect(conn.isAlive()).toBe(false);
    expect(failed).toEqual(['SSH_DISCONNECTED bob: lost the SSH connection to 10.0.0.1:22 (connection error: ECONNRESET)']);
    expect(conn.lost?.message).toBe(failed[0]!.slice('SSH_DISCONNECTED '.length));
    expect(warned).toEqual([{ reason: 'connection error: ECONNRESET' }]);
    expect(jump.ended).toBe(1);
  });

  it('close() fails what is in flight as closed, ends the client and then the jump connection, without a warning', async () => {
    const { conn, client, jump, warned } = open();
    const failed: string[] = [];
    conn.watch((e) => failed.push(e.message));
    await conn.close();
    expect(failed).toEqual(['bob: the session was closed']);
    expect(client.ended).toBe(1);
    expect(jump.ended).toBe(1);
    expect(warned).toEqual([]);
    expect(conn.isAlive()).toBe(false);
  });

  it('kills a remote process group from a second channel, and close() waits for that kill', async () => {
    const { conn, client } = open();
    conn.killRemote(4242);
    expect(client.lines).toEqual(['kill -s KILL -- -4242 2>/dev/null || kill -s KILL 4242 2>/dev/null']);
    let closed = false;
    const closing = conn.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false);
    expect(client.ended).toBe(0);
    client.channels[0]!.emit('close');
    await closing;
    expect(client.ended).toBe(1);
    conn.killRemote(1234);
    expect(client.lines).toHaveLength(1);
  });
});
