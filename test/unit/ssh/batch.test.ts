import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BatchParseError, batchEnd, buildBatchScript, parseBatchOutput } from '../../../src/ssh/batch.js';
import { prefixLine } from '../../../src/ssh/marker.js';
import type { Command } from '../../../src/ssh/types.js';

const D = 'aaaabbbbccccddddeeeeffff00001111';
const M = 'feedfacefeedface';

/** Runs a batch script with the real local `sh -s` ($0 `sh`), as the remote side does (`exec sh -s`), and parses it. */
function runLocally(cmds: Command[]) {
  const r = spawnSync('/bin/sh', ['-s'], { argv0: 'sh', input: `${prefixLine(M)}\n${buildBatchScript(cmds, undefined, D)}`, encoding: 'utf8' });
  const cutOut = (s: string) => s.slice(s.indexOf(M, s.indexOf(M) + M.length) + M.length); // M pid M
  const cutErr = (s: string) => s.slice(s.indexOf(M) + M.length);
  expect(r.stdout).toMatch(new RegExp(`^${M}\\d+${M}`));
  return parseBatchOutput(cutOut(r.stdout), cutErr(r.stderr), cmds.length, D, 1);
}

describe('batch framing', () => {
  it('parses results in order, with exit codes and exact output', () => {
    const fakeDelim = `\n${'f'.repeat(32)}:1:0\n`;
    const out = [`x\n${D.slice(0, 8)}`, `${fakeDelim}tail`].join('');
    const stdout = `a\n\n${D}:0:0\n${out}\n${D}:1:3\n\n${D}:2:0\n`;
    const stderr = `\n${D}:0\nwarn\n\n${D}:1\n\n${D}:2\n`;
    expect(parseBatchOutput(stdout, stderr, 3, D, 7)).toEqual([
      { exitCode: 0, stdout: 'a\n', stderr: '', durationMs: 7 },
      { exitCode: 3, stdout: out, stderr: 'warn\n', durationMs: 7 },
      { exitCode: 0, stdout: '', stderr: '', durationMs: 7 },
    ]);
  });

  it('fails loudly on truncated output', () => {
    expect(() => parseBatchOutput(`a\n${D}:0:0\n`, '', 2, D, 1)).toThrow(BatchParseError);
  });

  it('runs through a real sh -s: exit codes, stdin, stderr, and no command can end the batch', () => {
    const results = runLocally([
      { argv: ['printf', '%s', 'no newline'] },
      { argv: ['exit', '4'] },
      { argv: ['cat'], stdin: 'given\n' },
      { argv: ['cat'] },
      { argv: ['sh', '-c', 'echo $0; echo oops >&2; exit 2', 'ok'] },
      { argv: ['cd', '/nonexistent-dir'] },
      { argv: ['pwd'] },
    ]);
    expect(results.map((r) => [r.exitCode, r.stdout, r.stderr.length > 0])).toEqual([
      [0, 'no newline', false],
      [4, '', false],
      [0, 'given\n', false],
      [0, '', false],
      [2, 'ok\n', true],
      [2, '', true],
      [0, `${process.cwd()}\n`, false],
    ]);
    expect(results[4]!.stderr).toBe('oops\n');
  });

  it("knows a batch's end by its last command's status line on each stream, and by nothing before it", () => {
    const input = buildBatchScript([{ argv: ['echo', 'one'] }, { argv: ['sh', '-c', 'echo two; echo oops >&2; exit 5'] }], undefined, D);
    const r = spawnSync('/bin/sh', ['-s'], { input, encoding: 'utf8' });
    const end = batchEnd(D, 2);
    expect([end.stdout.test(r.stdout), end.stderr.test(r.stderr)]).toEqual([true, true]);
    const first = batchEnd(D, 1);
    const cut = r.stdout.indexOf(`${D}:1:`);
    expect([end.stdout.test(r.stdout.slice(0, cut)), first.stdout.test(r.stdout.slice(0, cut))]).toEqual([false, true]);
    expect(end.stdout.test(r.stdout.slice(0, -1))).toBe(false); // the status line is not whole yet
    // the status's digits and its newline are part of the mark; a look-alike earlier in the text is passed over
    expect([end.stdout.test(`\n${D}:1:\n`), end.stdout.test(`\n${D}:1:7x\n`), end.stdout.test(`\n${D}:1:\n\n${D}:1:0\n`)]).toEqual([false, false, true]);
    expect([end.stderr.test(`\n${D}:1x\n`), end.stderr.test(`\n${D}:10\n`), end.stderr.test(`x\n${D}:1\n`)]).toEqual([false, false, true]);
  });

  it("runs a check's sh -c script in the batch's own subshell, with the same results; $$, sudo, env and timeouts start their sh", () => {
    const script = (cmds: Command[]) => buildBatchScript(cmds, undefined, D);
    const check = (argv: string[], o: Partial<Command> = {}): Command => ({ argv, check: true, ...o });
    const args = ["it's", '$(no)', ''];
    const cmds = [
      check(['sh', '-c', 'printf "%s|" "$0" "$#" "$@"; echo; exit 3', 'sh', ...args]),
      check(['sh', '-c', 'if then', 'sh']),
      check(['sh', '-c', 'echo after']),
      check(['sh', '-c', 'echo $$', 'sh']),
    ];
    expect(script(cmds)).toContain('eval ');
    const results = runLocally(cmds);
    expect(results.map((r) => [r.exitCode, r.stdout])).toEqual([
      [3, `sh|3|it's|$(no)||\n`],
      [2, ''],
      [0, 'after\n'],
      [0, results[3]!.stdout],
    ]);
    expect(results[1]!.stderr).toMatch(/Syntax error/);
    expect(script([cmds[3]!])).not.toContain('eval'); // $$ would be the batch shell's
    for (const o of [{ sudo: true }, { env: { A: 'b' } }, { timeoutMs: 1000 }, { check: false }]) {
      expect(script([check(['sh', '-c', 'echo x', 'sh'], o)])).not.toContain('eval');
    }
  });

  it("runs a check's `test` as the batch shell's builtin, without a subshell, with the same results; not under sudo, env, a timeout, or for a change", () => {
    const script = (cmds: Command[]) => buildBatchScript(cmds, undefined, D);
    const check = (argv: string[], o: Partial<Command> = {}): Command => ({ argv, check: true, ...o });
    const cmds = [check(['test', '-e', '/']), check(['test', '-e', "/nonexistent/it's $(x)"]), check(['test', '-d']), check(['test', 'a', 'b', 'c']), check(['pwd'])];
    expect(script([cmds[0]!])).toMatch(/^test -e \/ <\/dev\/null;/);
    const results = runLocally(cmds);
    expect(results.map((r) => [r.exitCode, r.stdout, r.stderr.length > 0])).toEqual([
      [0, '', false],
      [1, '', false],
      [0, '', false],
      [2, '', true],
      [0, `${process.cwd()}\n`, false],
    ]);
    for (const o of [{ sudo: true }, { env: { A: 'b' } }, { timeoutMs: 1000 }, { check: false }]) {
      expect(script([check(['test', '-e', '/'], o)])).toMatch(/^\(/);
    }
  });

  it('refuses binary stdin in a batch', () => {
    expect(() => buildBatchScript([{ argv: ['cat'], stdin: Buffer.from([0, 1]) }], undefined, D)).toThrow(/stdin must be text/);
  });
});
