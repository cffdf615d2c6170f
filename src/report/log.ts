/**
 * The per-run log: JSON lines in <stateDir>/logs/<runId>.log, every command
 * with exit code, duration and output. Events arrive already masked; the
 * run's secrets are masked again here, on each serialised line, as a last
 * line of defence.
 *
 * The lines are pino's (`{"level":30,"time":<ms>,"runId":...,...,"msg":...}`,
 * levels 20 debug / 30 info / 40 warn / 50 error, an Error under `err` as
 * {type, message, stack}), written by this small buffered writer rather than
 * pino itself: a run writes a few lines per command, and loading pino and
 * closing its stream (sonic-boom fsyncs on flush and on end) cost more than
 * a whole no-change run's other file I/O. Lines are buffered up to
 * FLUSH_BYTES and written with write(2); close() and process exit write the
 * rest. No fsync: this is a diagnostic record, the journal is what a rerun
 * relies on.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Emit } from '../run/events.js';
import { maskSecrets } from '../steps/mask.js';

export interface RunLog {
  path: string;
  /** Records an error that is not a run event (a reporter that threw). */
  error(err: unknown, msg: string): void;
  emit: Emit;
  close(): void;
}

const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;
const FLUSH_BYTES = 16 * 1024;

function serialiseError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  return { type: err.name, message: err.message, stack: err.stack };
}

function line(level: number, runId: string, fields: object, msg: string): string {
  const rec = { level, time: Date.now(), runId, ...fields, msg };
  try {
    return JSON.stringify(rec) + '\n';
  } catch (err) {
    // a value JSON cannot hold (a cycle, a BigInt): the line says so instead
    return JSON.stringify({ level, time: rec.time, runId, msg, unserialisable: String((err as Error).message) }) + '\n';
  }
}

export function openRunLog(stateDir: string, runId: string, secrets: readonly string[]): RunLog {
  const dir = join(stateDir, 'logs');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${runId}.log`);
  const fd = openSync(path, 'a', 0o600);
  let buffered: string[] = [];
  let bytes = 0;
  let closed = false;
  const flush = () => {
    if (buffered.length === 0) return;
    const text = buffered.join('');
    buffered = [];
    bytes = 0;
    writeSync(fd, text);
  };
  const onExit = () => flush();
  process.once('exit', onExit);
  const write = (level: number, fields: object, msg: string) => {
    if (closed) return;
    const s = maskSecrets(line(level, runId, fields, msg), secrets);
    buffered.push(s);
    bytes += s.length;
    if (bytes >= FLUSH_BYTES) flush();
  };
  const emit: Emit = (e) => {
    switch (e.type) {
      case 'command':
        write(LEVEL.info, { node: e.node, step: e.step, phase: e.phase, argv: e.argv, exitCode: e.exitCode, durationMs: e.durationMs, stdout: e.stdout, stderr: e.stderr }, 'command');
        return;
      case 'step-result':
        write(LEVEL.info, { node: e.node, step: e.step, outcome: e.outcome, message: e.message, changes: e.changes.map((c) => (c.kind === 'refuse' ? c.reason : c.description)), durationMs: e.durationMs }, 'step');
        return;
      case 'message':
        write(LEVEL[e.level], { node: e.node }, e.text);
        return;
      default:
        write(LEVEL.info, e, e.type);
    }
  };
  return {
    path,
    emit,
    error: (err, msg) => write(LEVEL.error, { err: serialiseError(err) }, msg),
    close() {
      if (closed) return;
      flush();
      closed = true;
      process.off('exit', onExit);
      closeSync(fd);
    },
  };
}
