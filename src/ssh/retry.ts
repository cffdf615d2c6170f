/**
 * Re-opening with backoff. Only connection-level failures are retried
 * (SSH_CONNECT, SSH_DISCONNECTED, SSH_TIMEOUT); auth and host key errors
 * never are. This helper does not know about commands: the engine decides
 * whether a command that may have run can be run again.
 */
import type { Endpoint, Session } from './types.js';
import { SshError } from './types.js';
import { openSession, type OpenSessionOptions } from './session.js';

export interface RetryOptions {
  /** Attempts in all (first one included). Default 5. */
  tries?: number;
  /** First delay; doubles each time. Default 500 ms (0.5 s, 1 s, 2 s, 4 s, ...). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Injected for tests; default setTimeout that honours the signal. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  onRetry?: (error: SshError, attempt: number, delayMs: number) => void;
  isRetryable?: (error: unknown) => boolean;
}

function isTransientSshError(error: unknown): error is SshError {
  if (!(error instanceof SshError)) return false;
  switch (error.code) {
    case 'SSH_CONNECT':
    case 'SSH_DISCONNECTED':
    case 'SSH_TIMEOUT':
      return true;
    case 'SSH_AUTH':
    case 'SSH_HOSTKEY_UNKNOWN':
    case 'SSH_HOSTKEY_MISMATCH':
      return false;
    default: {
      const never: never = error.code;
      return never;
    }
  }
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function backoffDelays(tries: number, initialDelayMs = 500, maxDelayMs = 8000): number[] {
  return Array.from({ length: Math.max(0, tries - 1) }, (_, i) => Math.min(maxDelayMs, initialDelayMs * 2 ** i));
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const tries = opts.tries ?? 5;
  if (!Number.isInteger(tries) || tries < 1) throw new Error(`withRetry: tries must be an integer >= 1, got ${tries}`);
  const delays = backoffDelays(tries, opts.initialDelayMs, opts.maxDelayMs);
  const sleep = opts.sleep ?? defaultSleep;
  const retryable = opts.isRetryable ?? isTransientSshError;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      const delay = delays[attempt - 1];
      if (delay === undefined || !retryable(err)) throw err;
      opts.onRetry?.(err as SshError, attempt, delay);
      await sleep(delay, opts.signal);
    }
  }
}

/** openSession with backoff on transient failures (e.g. a node still booting). */
export function openSessionWithRetry(endpoint: Endpoint, opts: OpenSessionOptions, retry: RetryOptions = {}): Promise<Session> {
  const withSignal = retry.signal === undefined && opts.signal !== undefined ? { ...retry, signal: opts.signal } : retry;
  return withRetry(() => openSession(endpoint, opts), {
    ...withSignal,
    onRetry: (err, attempt, delayMs) => {
      opts.logger?.warn({ node: endpoint.name, attempt, delayMs, error: err.message }, 'ssh connect failed; retrying');
      retry.onRetry?.(err, attempt, delayMs);
    },
  });
}
