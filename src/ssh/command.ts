/**
 * Turns a `Command` into the shell text sent over SSH plus the bytes that
 * must precede its own stdin. Pure: no I/O, unit-tested on its own.
 *
 * - env:   `env K=V argv` (each assignment one quoted word)
 * - sudo:  `sudo -n -- [env ...] argv` without a password;
 *          with a password, `sudo -S -p '' -- sh -c SKIP sh NONCE [env ...] argv`
 *          and stdin starts with `password\nNONCE\n`. SKIP reads one line and,
 *          if it is not the nonce (sudo did not ask for the password because it
 *          was cached or not needed), reads one more, so the command's own stdin
 *          always starts right after the nonce. The password is never on argv.
 */
import type { Command } from './types.js';
import { envWords, shJoin } from './quote.js';

export interface Become {
  method: 'sudo';
  password?: string;
}

export interface BuiltCommand {
  /** Shell text for the remote POSIX shell. */
  line: string;
  /** Bytes to write on stdin before the command's own stdin (sudo password). */
  stdinPrefix: string;
}

/**
 * Drops the password line if sudo did not read it; then runs the rest. The
 * nonce is $1 (shifted away), not $0: $0 is what the shell names itself in
 * its error messages ("sh: 1: exec: drbdadm: not found"), which become facts.
 */
const SKIP_PASSWORD = 'IFS= read -r l; [ "$l" = "$1" ] || IFS= read -r l; unset l; shift; exec "$@"';

/**
 * timeoutMs is enforced locally (the channel is killed) and, as a backstop that
 * also holds when the connection drops or the command runs under sudo, on the
 * node by coreutils `timeout -s KILL`, one second later than the local limit.
 */
export function remoteTimeoutWords(timeoutMs: number | undefined): string[] {
  if (timeoutMs === undefined) return [];
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error(`timeoutMs must be a positive number, got ${timeoutMs}`);
  return ['timeout', '-s', 'KILL', `${(Math.ceil(timeoutMs) + 1000) / 1000}s`];
}

export function buildCommand(cmd: Command, become: Become | undefined, nonce: string): BuiltCommand {
  if (cmd.argv.length === 0) throw new Error('a command needs at least one argv word');
  const words = [...envWords(cmd.env), ...remoteTimeoutWords(cmd.timeoutMs), ...cmd.argv];
  if (cmd.sudo !== true) return { line: shJoin(words), stdinPrefix: '' };
  const password = become?.password;
  if (password === undefined || password === '') {
    return { line: shJoin(['sudo', '-n', '--', ...words]), stdinPrefix: '' };
  }
  if (password.includes('\n')) throw new Error('a sudo password cannot contain a newline');
  return {
    line: shJoin(['sudo', '-S', '-p', '', '--', 'sh', '-c', SKIP_PASSWORD, 'sh', nonce, ...words]),
    stdinPrefix: `${password}\n${nonce}\n`,
  };
}

/** The argv as shown in logs (the caller masks secrets). */
export function describeCommand(cmd: Command): string {
  const env = envWords(cmd.env);
  return (cmd.sudo === true ? 'sudo ' : '') + shJoin([...env, ...cmd.argv]);
}
