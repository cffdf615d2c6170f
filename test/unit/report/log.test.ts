/** The run log: pino JSON lines, secrets masked, everything written once close()'s stream has finished. */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRunLog } from '../../../src/report/log.js';

describe('openRunLog', () => {
  it('writes one JSON line per event, with pino levels, the run id and a message; masks secrets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-log-'));
    const log = openRunLog(dir, 'run-1', ['s3cret']);
    log.emit({ type: 'command', node: 'bob', step: 'a', phase: 'probe', argv: ['echo', 'x s3cret'], exitCode: 0, durationMs: 3, stdout: 's3cret\n', stderr: '' });
    log.emit({ type: 'message', level: 'warn', text: 'careful' });
    log.error(new TypeError('bad s3cret'), 'reporter failed');
    for (let i = 0; i < 200; i++) log.emit({ type: 'message', level: 'info', text: `line ${i} ${'x'.repeat(100)}` });
    const closed = log.close();
    log.emit({ type: 'message', level: 'info', text: 'after close' });
    await closed;
    expect(readdirSync(join(dir, 'logs'))).toEqual(['run-1.log']);
    const text = readFileSync(log.path, 'utf8');
    expect(text).not.toContain('s3cret');
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(203);
    expect(lines[0]).toMatchObject({ level: 30, runId: 'run-1', node: 'bob', argv: ['echo', 'x ********'], stdout: '********\n', msg: 'command' });
    expect(typeof lines[0]!.time).toBe('number');
    expect(lines[1]).toMatchObject({ level: 40, msg: 'careful' });
    expect(lines[2]).toMatchObject({ level: 50, msg: 'reporter failed', err: { type: 'TypeError', message: 'bad ********' } });
    expect(lines.at(-1)).toMatchObject({ msg: `line 199 ${'x'.repeat(100)}` });
  });

  it('creates the file, owner-only, before it returns (a run killed at once still leaves its log)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-log-'));
    const log = openRunLog(dir, 'run-0', []);
    // no await between: the stream's own open would come on a later tick
    expect(readdirSync(join(dir, 'logs'))).toEqual(['run-0.log']);
    expect(statSync(log.path).mode & 0o777).toBe(0o600);
    await log.close();
  });

  it('records a change command when it starts (a run killed while it runs still shows it), masked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-log-'));
    const log = openRunLog(dir, 'run-2', ['s3cret']);
    log.emit({ type: 'command-start', node: 'bob', step: 'fs', argv: ['mkfs.ext4', '-L', 's3cret', '/dev/drbd0'] });
    await log.close();
    const [line] = readFileSync(log.path, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(line).toMatchObject({ level: 30, runId: 'run-2', node: 'bob', step: 'fs', argv: ['mkfs.ext4', '-L', '********', '/dev/drbd0'], msg: 'command-start' });
  });

  it('an internal error: its message, and its stack as detail (masked)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hapv-log-'));
    const log = openRunLog(dir, 'run-3', ['s3cret']);
    log.emit({ type: 'message', level: 'error', node: 'bob', text: 'step a: internal error: boom', detail: 'Error: boom s3cret\n    at f (x.ts:1:1)' });
    await log.close();
    const [line] = readFileSync(log.path, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(line).toMatchObject({ level: 50, node: 'bob', msg: 'step a: internal error: boom', detail: 'Error: boom ********\n    at f (x.ts:1:1)' });
  });
});
