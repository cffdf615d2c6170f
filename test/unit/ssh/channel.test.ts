/** runChannel (src/ssh/channel.ts) on stand-in ssh2 channels: output cut at the marker, exit status, timeout, abort, lost connection. */
import { describe, expect, it } from 'vitest';
import { runChannel, signalExitCode, type RawOptions } from '../../../src/ssh/channel.js';
import { SshError } from '../../../src/ssh/types.js';
import { fakeHost, M } from './fake-channel.js';

const opts = (o: Partial<RawOptions> = {}): RawOptions => ({ marker: M, timeoutMs: undefined, signal: undefined, what: 'sleep 9', node: 'bob', ...o });

describe('runChannel', () => {
  it('writes stdin, cuts both streams at the marker and returns the exit status', async () => {
    const host = fakeHost();
    const p = runChannel(host, 'line', Buffer.from('input'), opts());
    const ch = host.channels[0]!;
    expect(ch.written?.toString()).toBe('input');
    ch.print('out\n', 'err\n');
    ch.emit('exit', 3);
    ch.emit('close');
    expect(await p).toMatchObject({ exitCode: 3, stdout: Buffer.from('out\n'), stderr: Buffer.from('err\n') });
    expect(host.watchers.size).toBe(0);
    expect(ch.closed).toBe(false);
  });

  it('a command killed by a signal exits 128 + its number; no stdin is no write', async () => {
    const host = fakeHost();
    const p = runChannel(host, 'line', Buffer.alloc(0), opts());
    const ch = host.channels[0]!;
    expect(ch.written).toBeUndefined();
    ch.emit('exit', null, 'KILL');
    ch.emit('close');
    expect((await p).exitCode).toBe(137);
    expect(signalExitCode('TERM')).toBe(143);
    expect(signalExitCode(undefined)).toBe(128);
  });

  it('on timeout, sends KILL, closes the channel and kills the remote pid', async () => {
    const host = fakeHost();
    const p = runChannel(host, 'line', Buffer.alloc(0), opts({ timeoutMs: 20 }));
    const ch = host.channels[0]!;
    ch.print('');
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshError);
    expect(err).toMatchObject({ code: 'SSH_TIMEOUT', message: 'bob: command timed out after 20 ms and was killed: sleep 9' });
    expect(ch.signals).toEqual(['KILL']);
    expect(ch.closed).toBe(true);
    expect(host.killed).toEqual([4242]);
  });

  it('an abort rejects with its reason, before or during the command', async () => {
    const host = fakeHost();
    const ac = new AbortController();
    const p = runChannel(host, 'line', Buffer.alloc(0), opts({ signal: ac.signal }));
    ac.abort(new Error('^C'));
    await expect(p).rejects.toThrow('^C');
    expect(host.channels[0]!.closed).toBe(true);
    await expect(runChannel(host, 'line', Buffer.alloc(0), opts({ signal: ac.signal }))).rejects.toThrow('^C');
    expect(host.channels).toHaveLength(1);
  });

  it('a lost connection fails the command in flight and every later one before it starts', async () => {
    const host = fakeHost();
    const p = runChannel(host, 'line', Buffer.alloc(0), opts());
    const lost = new SshError('SSH_DISCONNECTED', 'bob: lost the SSH connection');
    host.lose(lost);
    await expect(p).rejects.toBe(lost);
    await expect(runChannel(host, 'line', Buffer.alloc(0), opts())).rejects.toBe(lost);
    expect(host.channels).toHaveLength(1);
  });

  it('a channel that closes without an exit status, or cannot be opened, is an SshError naming the node', async () => {
    const host = fakeHost();
    const p = runChannel(host, 'line', Buffer.alloc(0), opts());
    host.channels[0]!.emit('close');
    await expect(p).rejects.toMatchObject({ code: 'SSH_DISCONNECTED', message: 'bob: the channel closed without an exit status: sleep 9' });
    const refused = runChannel(fakeHost(new Error('open failed')), 'line', Buffer.alloc(0), opts());
    await expect(refused).rejects.toMatchObject({ code: 'SSH_CONNECT', message: 'bob: cannot open an exec channel: open failed' });
  });
});
