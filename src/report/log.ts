/**
 * The per-run log: pino JSON lines in <stateDir>/logs/<runId>.log, every
 * command with exit code, duration and output. Events arrive already masked;
 * the run's secrets are masked again here, on each serialised line, as a
 * last line of defence.
 *
 * The destination is a plain fs.WriteStream (owner-only), not pino's
 * sonic-boom: sonic-boom fsyncs on every flushSync() and on end(), ~20 ms of
 * a one-host no-change run (measured, bench/README.md), and this log is a
 * diagnostic record: the journal is what a rerun relies on, and it keeps its
 * own fsyncs. The stream writes asynchronously; close() ends it and the
 * process does not exit before the last line is written (the CLI sets
 * process.exitCode, it never calls process.exit()). The file itself is
 * created before openRunLog returns.
 */
import { createWriteStream, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Emit } from '../run/events.js';
import { maskSecrets } from '../mask.js';

export interface RunLog {
  path: string;
  /** Records an error that is not a run event (a reporter that threw). */
  error(err: unknown, msg: string): void;
  emit: Emit;
  /** Ends the stream; resolves once every line is on disk (the process waits for it anyway). */
  close(): Promise<void>;
}

export function openRunLog(stateDir: string, runId: string, secrets: readonly string[]): RunLog {
  const dir = join(stateDir, 'logs');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${runId}.log`);
  // opened here, not on the stream's first tick: the file exists from the run's start, so a
  // run killed in its first milliseconds (before its run-start reaches the journal's readers
  // and any line is written) still leaves its log (test/cluster/kill-anywhere.test.ts counts them)
  const dest = createWriteStream(path, { fd: openSync(path, 'a', 0o600) });
  let closed = false;
  const finished = new Promise<void>((resolve) => {
    dest.once('close', resolve);
    dest.once('error', () => resolve());
  });
  const logger = pino(
    {
      level: 'debug',
      base: { runId },
      hooks: { streamWrite: (s: string) => maskSecrets(s, secrets) },
    },
    dest,
  );
  const emit: Emit = (e) => {
    if (closed) return;
    switch (e.type) {
      case 'command':
        logger.info({ node: e.node, step: e.step, phase: e.phase, argv: e.argv, exitCode: e.exitCode, durationMs: e.durationMs, stdout: e.stdout, stderr: e.stderr }, 'command');
        return;
      case 'command-start':
        logger.info({ node: e.node, step: e.step, argv: e.argv }, 'command-start');
        return;
      case 'step-result':
        logger.info(
          {
            node: e.node,
            step: e.step,
            outcome: e.outcome,
            message: e.message,
            changes: e.changes.map((c) => (c.kind === 'refuse' ? c.reason : c.description)),
            durationMs: e.durationMs,
          },
          'step',
        );
        return;
      case 'message':
        logger[e.level]({ node: e.node, ...(e.detail !== undefined ? { detail: e.detail } : {}) }, e.text);
        return;
      default:
        logger.info(e, e.type);
    }
  };
  return {
    path,
    emit,
    error(err, msg) {
      if (!closed) logger.error({ err }, msg);
    },
    close() {
      if (!closed) {
        closed = true;
        dest.end();
      }
      return finished;
    },
  };
}
