/** prefixLine and afterMarker (src/ssh/marker.ts), against a real /bin/sh that prints rc-file noise first. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { afterMarker, prefixLine } from '../../../src/ssh/marker.js';

const M = '0123456789abcdef';

describe('marker', () => {
  it('cuts off what was printed before the marker, on both streams, and reads the pid', () => {
    const script = `echo rc-noise; echo rc-err >&2; ${prefixLine(M)}; echo out; echo err >&2`;
    const both = execFileSync('sh', ['-c', `{ ${script}; } 2>/dev/null`]);
    const cut = afterMarker(both, M, true);
    expect(cut?.rest.toString()).toBe('out\n');
    expect(cut?.pid).toBeGreaterThan(1);
    const stderr = execFileSync('sh', ['-c', `{ ${script}; } 2>&1 >/dev/null`]);
    expect(afterMarker(stderr, M, false)?.rest.toString()).toBe('err\n');
  });

  it('is null until the whole marker (and, on stdout, the pid and second marker) has arrived', () => {
    expect(afterMarker(Buffer.from('noise 01234'), M, false)).toBeNull();
    expect(afterMarker(Buffer.from(`noise ${M}123`), M, true)).toBeNull();
    expect(afterMarker(Buffer.from(`${M}4242${M}rest`), M, true)).toEqual({ rest: Buffer.from('rest'), pid: 4242 });
  });

  it('gives no pid when what stands between the markers is not one (not a number, or 0 or 1)', () => {
    expect(afterMarker(Buffer.from(`${M}x${M}`), M, true)?.pid).toBeUndefined();
    expect(afterMarker(Buffer.from(`${M}1${M}`), M, true)?.pid).toBeUndefined();
  });
});
