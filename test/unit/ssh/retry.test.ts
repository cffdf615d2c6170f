import { describe, expect, it } from 'vitest';
import { backoffDelays, withRetry } from '../../../src/ssh/retry.js';
import { SshError } from '../../../src/ssh/types.js';

describe('withRetry', () => {
  it('backs off 0.5 s, 1 s, 2 s ... capped', () => {
    expect(backoffDelays(6)).toEqual([500, 1000, 2000, 4000, 8000]);
    expect(backoffDelays(4, 100, 250)).toEqual([100, 200, 250]);
  });

  it('retries transient SSH errors, then succeeds', async () => {
    const slept: number[] = [];
    let calls = 0;
    const value = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw new SshError('SSH_CONNECT', 'refused');
        return 'ok';
      },
      { sleep: async (ms) => void slept.push(ms) },
    );
    expect(value).toBe('ok');
    expect(slept).toEqual([500, 1000]);
  });

  it('gives up after the last try with the last error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new SshError('SSH_DISCONNECTED', `gone ${calls}`);
        },
        { tries: 3, sleep: async () => undefined },
      ),
    ).rejects.toThrow('gone 3');
    expect(calls).toBe(3);
  });

  it('never retries auth or host key errors', async () => {
    for (const code of ['SSH_AUTH', 'SSH_HOSTKEY_UNKNOWN', 'SSH_HOSTKEY_MISMATCH'] as const) {
      let calls = 0;
      await expect(
        withRetry(
          async () => {
            calls++;
            throw new SshError(code, code);
          },
          { sleep: async () => undefined },
        ),
      ).rejects.toMatchObject({ code });
      expect(calls).toBe(1);
    }
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    const p = withRetry(
      async () => {
        throw new SshError('SSH_CONNECT', 'refused');
      },
      { signal: ac.signal, initialDelayMs: 10_000 },
    );
    setTimeout(() => ac.abort(new Error('stop now')), 20);
    await expect(p).rejects.toThrow('stop now');
  });

  it('rejects a bad tries value with the value received', async () => {
    await expect(withRetry(async () => 1, { tries: 0 })).rejects.toThrow('tries must be an integer >= 1, got 0');
  });
});
