/**
 * execBatch: several commands in ONE round trip, as one script for `sh -s`
 * (the session's long-lived batch shell, ./shell.ts, or `sh -s` on a channel
 * of its own). The script is sent on the shell's stdin (never on argv, so
 * neither the delimiter nor a sudo password shows in `ps`). After command i it
 * prints
 *   stdout: "\n" D ":" i ":" rc "\n"        stderr: "\n" D ":" i "\n"
 * where D is 128 random bits chosen for this batch only: no command output can
 * predict, hence forge, it. Each command runs in a subshell with its own stdin
 * (`</dev/null` or its given text), so it can neither read the script nor
 * change the shell that runs the next one (`cd`, `exit`).
 */
import type { Command, CommandResult } from './types.js';
import { buildCommand, type Become } from './command.js';
import { asText, shJoin, shQuote } from './quote.js';
import { writeFileInline } from './write-file.js';

export function buildBatchScript(cmds: readonly Command[], become: Become | undefined, delim: string): string {
  const lines: string[] = [];
  cmds.forEach((cmd, i) => {
    lines.push(`${commandLine(cmd, i, become, delim)}; printf '\\n%s:%d:%d\\n' ${delim} ${i} $?; printf '\\n%s:%d\\n' ${delim} ${i} >&2`);
  });
  return lines.join('\n') + '\n';
}

/**
 * One command in a subshell of its own, with its stdin. A file write
 * (./write-file.ts) runs as the shell's own text; so does a check's
 * `sh -c` script (checkInline): no process is started for either.
 */
function commandLine(cmd: Command, i: number, become: Become | undefined, delim: string): string {
  const write = writeFileInline(cmd);
  if (write !== undefined) return `(${write}) </dev/null`;
  const test = testInline(cmd);
  if (test !== undefined) return test;
  const built = checkInline(cmd) ?? buildCommand(cmd, become, delim);
  const stdin = built.stdinPrefix + stdinText(cmd, i);
  return stdin === '' ? `(${built.line}) </dev/null` : `printf %s ${shQuote(stdin)} | (${built.line})`;
}

/**
 * A check (Command.check) `sh -c SCRIPT sh ARGS...` as `set -- ARGS; eval
 * SCRIPT`, for the batch's subshell: one `sh` fewer per check (~1 ms of the
 * node's CPU each here). The same shell runs it ($0 is `sh` in both), and eval
 * keeps a syntax error to that subshell. What differs: the shell's own error
 * messages name eval (`sh: 1: eval: drbdadm: not found`), and $$ and $PPID
 * would be the batch shell's: a script naming them, or needing sudo, env or a
 * timeout, starts its `sh` as before.
 */
function checkInline(cmd: Command): { line: string; stdinPrefix: string } | undefined {
  const [sh, c, script, name, ...args] = cmd.argv;
  if (cmd.check !== true || sh !== 'sh' || c !== '-c' || script === undefined || name !== 'sh') return undefined;
  if (cmd.sudo === true || cmd.env !== undefined || cmd.timeoutMs !== undefined || /\$\$|\$\{\$\}|PPID/.test(script)) return undefined;
  return { line: `set -- ${shJoin(args)}; eval ${shQuote(script)}`, stdinPrefix: '' };
}

/**
 * A check that is `test ARGS` (a `creates` guard's `test -e PATH`) as the
 * batch shell's own builtin, without a subshell: `test` reads its arguments
 * and the file system, and changes nothing in the shell that runs it, so the
 * subshell (a fork, ~1 ms of the node's CPU here) isolates nothing. The
 * same exit status and messages; not under sudo, env, a timeout or stdin.
 */
function testInline(cmd: Command): string | undefined {
  const [name, ...args] = cmd.argv;
  if (cmd.check !== true || name !== 'test' || cmd.sudo === true || cmd.env !== undefined || cmd.timeoutMs !== undefined || cmd.stdin !== undefined) return undefined;
  return `test ${shJoin(args)} </dev/null`;
}

function stdinText(cmd: Command, i: number): string {
  if (cmd.stdin === undefined) return '';
  const text = asText(cmd.stdin);
  if (text === undefined) throw new Error(`execBatch command ${i}: stdin must be text without NUL bytes; use exec for binary stdin`);
  return text;
}

/** A batch's last status line, found in a stream's text (./shell.ts). */
export interface EndMark {
  test(text: string): boolean;
}

/**
 * The last command's status line on each stream: the batch is done when both
 * have come. Plain string search: a RegExp made per batch was compiled per
 * batch (~0.1 ms of the controller's CPU each, 2 per batch).
 */
export function batchEnd(delim: string, count: number): { stdout: EndMark; stderr: EndMark } {
  const last = count - 1;
  return { stdout: statusLine(`\n${delim}:${last}:`, true), stderr: statusLine(`\n${delim}:${last}`, false) };
}

/** `prefix`, then (with `digits`) one digit or more, then a newline, anywhere in the text. */
function statusLine(prefix: string, digits: boolean): EndMark {
  return {
    test(text) {
      for (let at = text.indexOf(prefix); at >= 0; at = text.indexOf(prefix, at + 1)) {
        let i = at + prefix.length;
        const first = i;
        if (digits) while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
        if (digits && i === first) continue;
        if (text.charCodeAt(i) === 10) return true;
      }
      return false;
    },
  };
}

export class BatchParseError extends Error {
  override name = 'BatchParseError';
}

/** Splits the two streams back into per-command results. */
export function parseBatchOutput(stdout: string, stderr: string, count: number, delim: string, durationMs: number): CommandResult[] {
  const results: CommandResult[] = [];
  let outPos = 0;
  let errPos = 0;
  for (let i = 0; i < count; i++) {
    const outTag = `\n${delim}:${i}:`;
    const outAt = stdout.indexOf(outTag, outPos);
    if (outAt < 0) throw new BatchParseError(`batch output ended before command ${i} finished`);
    const eol = stdout.indexOf('\n', outAt + outTag.length);
    if (eol < 0) throw new BatchParseError(`batch output ended inside the status of command ${i}`);
    const exitCode = Number(stdout.slice(outAt + outTag.length, eol));
    if (!Number.isInteger(exitCode)) throw new BatchParseError(`batch status of command ${i} is not a number`);
    const errTag = `\n${delim}:${i}\n`;
    const errAt = stderr.indexOf(errTag, errPos);
    if (errAt < 0) throw new BatchParseError(`batch stderr ended before command ${i} finished`);
    results.push({
      exitCode,
      stdout: stdout.slice(outPos, outAt),
      stderr: stderr.slice(errPos, errAt),
      durationMs,
    });
    outPos = eol + 1;
    errPos = errAt + errTag.length;
  }
  return results;
}
