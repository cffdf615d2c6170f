/** Stand-in ssh2 channels and a stand-in connection for runChannel and BatchShell (src/ssh/channel.ts, shell.ts). */
import { EventEmitter } from 'node:events';
import type { Client } from 'ssh2';
import type { ChannelHost } from '../../../src/ssh/channel.js';
import type { SshError } from '../../../src/ssh/types.js';

export const M = 'feedc0de';

export class FakeChannel extends EventEmitter {
  readonly stderr = new EventEmitter();
  written: Buffer | undefined;
  /** What was written without ending stdin (a batch shell's scripts). */
  readonly scripts: string[] = [];
  ended = false;
  readonly signals: string[] = [];
  closed = false;
  end(data?: Buffer) {
    this.written = data;
    this.ended = true;
  }
  write(data: string) {
    this.scripts.push(data);
  }
  close() {
    this.closed = true;
  }
  signal(name: string) {
    this.signals.push(name);
  }
  /** What a command prints: stdout after rc noise, the marker and its pid. */
  print(stdout: string, stderr = '') {
    this.emit('data', Buffer.from(`rc noise\n${M}4242${M}${stdout}`));
    this.stderr.emit('data', Buffer.from(`rc err\n${M}${stderr}`));
  }
}

export function fakeHost(openError?: Error) {
  const watchers = new Set<(e: SshError) => void>();
  const channels: FakeChannel[] = [];
  const killed: number[] = [];
  const lines: string[] = [];
  const exec = (line: string, cb: (err: Error | undefined, ch: FakeChannel) => void) => {
    lines.push(line);
    const ch = new FakeChannel();
    channels.push(ch);
    cb(openError, ch);
  };
  const host: ChannelHost & { lost: SshError | null; lose(e: SshError): void; watchers: typeof watchers; lines: string[]; channels: FakeChannel[]; killed: number[] } = {
    lost: null,
    client: { exec } as unknown as Pick<Client, 'exec'>,
    watch(fail) {
      watchers.add(fail);
      return () => watchers.delete(fail);
    },
    killRemote: (pid) => void killed.push(pid),
    lose(e) {
      host.lost = e;
      for (const w of watchers) w(e);
      watchers.clear();
    },
    watchers,
    lines,
    channels,
    killed,
  };
  return host;
}
