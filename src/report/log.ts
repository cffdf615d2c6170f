/**
 * The per-run log: pino JSON lines in <stateDir>/logs/<runId>.log, written
 * asynchronously (sonic-boom), every command with exit code, duration and
 * output. Events arrive already masked; the run's secrets are masked again
 * here as a last line of defence.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { Emit } from '../run/events.js';
import { maskSecrets } from '../steps/mask.js';

export interface RunLog {
  path: string;
  logger: Logger;
  emit: Emit;
  close(): void;
}

export function openRunLog(stateDir: string, runId: string, secrets: readonly string[]): RunLog {
  const dir = join(stateDir, 'logs');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${runId}.log`);
  const dest = pino.destination({ dest: path, sync: false, mkdir: true, minLength: 8192 });
  const logger = pino(
    {
      level: 'debug',
      base: { runId },
      hooks: {
        streamWrite: (s: string) => maskSecrets(s, secrets),
      },
    },
    dest,
  );
  const emit: Emit = (e) => {
    switch (e.type) {
      case 'command':
        logger.info({ node: e.node, step: e.step, phase: e.phase, argv: e.argv, exitCode: e.exitCode, durationMs: e.durationMs, stdout: e.stdout, stderr: e.stderr }, 'command');
        return;
      case 'step-result':
        logger.info({ node: e.node, step: e.step, outcome: e.outcome, message: e.message, changes: e.changes.map((c) => (c.kind === 'refuse' ? c.reason : c.description)), durationMs: e.durationMs }, 'step');
        return;
      case 'message':
        logger[e.level]({ node: e.node }, e.text);
        return;
      default:
        logger.info(e, e.type);
    }
  };
  return {
    path,
    logger,
    emit,
    close() {
      try {
        dest.flushSync();
      } catch {
        /* not open yet: end() still writes what is buffered */
      }
      dest.end();
    },
  };
}
