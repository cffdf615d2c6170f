/** At most MAX_CONNECTING connections being opened at once (src/run/link.ts gateConnect). */
import { describe, expect, it } from 'vitest';
import { gateConnect } from '../../../src/run/link.js';
import type { Session } from '../../../src/ssh/types.js';
import { fakeNode } from '../plan/fake-project.js';

describe('gateConnect', () => {
  it('opens at most `limit` at once; a failed connect frees its place', async () => {
    let active = 0;
    let peak = 0;
    const opened: string[] = [];
    const connect = gateConnect(async (node) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      if (node.name === 'n3') throw new Error('refused');
      opened.push(node.name);
      return {} as Session;
    }, 3);
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => connect(fakeNode(`n${i}`))));
    expect(peak).toBe(3);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(opened).toHaveLength(9);
  });
});
