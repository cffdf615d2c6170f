/** BatchShell (src/ssh/shell.ts) on stand-in ssh2 channels: one channel for many batches, the end of a batch, timeout, abort, lost connection. */
import { describe, expect, it } from 'vitest';
import { batchEnd } from '../../../src/ssh/batch.js';
import { BatchShell, type ShellRunOptions } from '../../../src/ssh/shell.js';
import { SshError } from '../../../src/ssh/types.js';
import { fakeHost, M } from './fake-channel.js';

const D = '0123456789abcdef0123456789abcdef';
const opts = (count: number, o: Partial<ShellRunOptions> = {}): ShellRunOptions => ({ end: batchEnd(D, count), timeoutMs: undefined, signal: undefined, what: 'batch of 2', ...o });
/** What the shell prints for command i of a batch: its output, then its status on both streams. */
const status = (i: number, rc = 0) => [`\n${D}:${i}:${rc}\n`, `\n${D}:${i}\n`] as const;

async function openShell() {
  const host = fakeHost();
  const shell = await BatchShell.open(host, 'bob', M);
  const ch = host.channels[0]!;
  return { host, shell, ch };
}

describe('BatchShell', () => {
  it('runs batch after batch on one channel, cutting the login noise and marker off once', async () => {
    const { host, shell, ch } = await openShell();
    expect(host.lines).toEqual([`printf '%s%s%s' ${M} $$ ${M}; printf %s ${M} >&2; HAPV_SHELL=$$ HAPV_USER=$(id -un 2>/dev/null) HAPV_GROUP=$(id -gn 2>/dev/null) exec sh -s`]);
    const first = shell.run('script 1\n', opts(1));
    expect(shell.idle).toBe(false);
    expect(ch.scripts).toEqual(['script 1\n']);
    ch.emit('data', Buffer.from(`rc noise\n${M}4242${M}one`));
    ch.stderr.emit('data', Buffer.from(`rc err\n${M}`));
    ch.emit('data', Buffer.from(status(0)[0]));
    ch.stderr.emit('data', Buffer.from(status(0)[1]));
    expect(await first).toMatchObject({ stdout: Buffer.from(`one${status(0)[0]}`), stderr: Buffer.from(status(0)[1]) });
    expect(shell.idle).toBe(true);
    const second = shell.run('script 2\n', opts(2));
    // the end is the LAST command's status, on both streams, even cut across chunks
    const [out0, err0] = status(0, 3);
    const [out1, err1] = status(1);
    ch.emit('data', Buffer.from(`two${out0}${out1.slice(0, 9)}`));
    ch.stderr.emit('data', Buffer.from(`${err0}${err1}`));
    expect(shell.idle).toBe(false);
    ch.emit('data', Buffer.from(out1.slice(9)));
    expect(await second).toMatchObject({ stdout: Buffer.from(`two${out0}${out1}`), stderr: Buffer.from(`${err0}${err1}`) });
    expect(host.channels).toHaveLength(1);
    expect(host.watchers.size).toBe(0);
  });

  it('output while no batch runs (a process left in the background) ends the shell: no later batch reads it', async () => {
    const { shell, ch } = await openShell();
    ch.emit('data', Buffer.from(`${M}4242${M}`));
    ch.stderr.emit('data', Buffer.from(M));
    expect(shell.idle).toBe(true);
    ch.emit('data', Buffer.from('late output\n'));
    expect(ch.ended).toBe(true);
    expect(shell.open).toBe(false);
    await expect(shell.run('x\n', opts(1))).rejects.toThrow('bob: the batch shell is closed');
  });

  it('finds the end at the tail of a large chunk', async () => {
    const { shell, ch } = await openShell();
    const p = shell.run('cat big\n', opts(1));
    const big = 'x'.repeat(100_000);
    ch.emit('data', Buffer.from(`${M}4242${M}${big}${status(0)[0]}`));
    ch.stderr.emit('data', Buffer.from(`${M}${status(0)[1]}`));
    expect((await p).stdout.length).toBe(big.length + status(0)[0].length);
  });

  it('a batch cannot start while another runs', async () => {
    const { shell } = await openShell();
    void shell.run('a\n', opts(1));
    await expect(shell.run('b\n', opts(1))).rejects.toThrow('bob: the batch shell is busy');
  });

  it('on timeout, sends KILL, kills the process group and closes the channel; the shell is then closed', async () => {
    const { host, shell, ch } = await openShell();
    const p = shell.run('sleep\n', opts(1, { timeoutMs: 20 }));
    ch.emit('data', Buffer.from(`${M}4242${M}`));
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshError);
    expect(err).toMatchObject({ code: 'SSH_TIMEOUT', message: 'bob: command timed out after 20 ms and was killed: batch of 2' });
    expect(ch.signals).toEqual(['KILL']);
    expect(host.killed).toEqual([4242]);
    expect(ch.closed).toBe(true);
    expect(shell.open).toBe(false);
    await expect(shell.run('x\n', opts(1))).rejects.toThrow('bob: the batch shell is closed');
  });

  it('an abort rejects with its reason and ends the shell', async () => {
    const { shell, ch } = await openShell();
    const ac = new AbortController();
    const p = shell.run('sleep\n', opts(1, { signal: ac.signal }));
    ac.abort(new Error('^C'));
    await expect(p).rejects.toThrow('^C');
    expect(ch.closed).toBe(true);
    expect(shell.open).toBe(false);
  });

  it('a lost connection fails the batch in flight', async () => {
    const { host, shell } = await openShell();
    const p = shell.run('x\n', opts(1));
    const lost = new SshError('SSH_DISCONNECTED', 'bob: lost the SSH connection');
    host.lose(lost);
    await expect(p).rejects.toBe(lost);
    await expect(BatchShell.open(host, 'bob', M)).rejects.toBe(lost);
  });

  it('a shell that exits inside a batch hands over what came, with its exit status; without one it is an SshError', async () => {
    const { shell, ch } = await openShell();
    const p = shell.run('x\n', opts(2));
    ch.emit('data', Buffer.from(`${M}4242${M}half`));
    ch.emit('exit', null, 'KILL');
    ch.emit('close');
    expect(await p).toMatchObject({ exitCode: 137, stdout: Buffer.from('half') });
    expect(shell.open).toBe(false);
    const failing = await openShell();
    failing.ch.emit('error', new Error('write after end'));
    expect(failing.ch.closed).toBe(true); // its close event then ends the shell
    const other = await openShell();
    const q = other.shell.run('x\n', opts(1));
    other.ch.emit('close');
    await expect(q).rejects.toMatchObject({ code: 'SSH_DISCONNECTED', message: 'bob: the batch shell closed without an exit status' });
  });

  it('a channel that cannot be opened is an SshError naming the node', async () => {
    await expect(BatchShell.open(fakeHost(new Error('open failed')), 'bob', M)).rejects.toMatchObject({
      code: 'SSH_CONNECT',
      message: 'bob: cannot open a channel for the batch shell: open failed',
    });
  });
});
