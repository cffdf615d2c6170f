/** The plan's unified diff (src/steps/udiff.ts, jsdiff underneath): standard format, incl. the end-of-file marker. */
import { applyPatch } from 'diff';
import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../../src/steps/udiff.js';

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => expect(unifiedDiff('a\n', 'a\n', 'x', 'x')).toBe(''));

  it('a new file, from /dev/null', () => {
    expect(unifiedDiff('', 'hello\n', '/dev/null', '/etc/motd')).toBe('--- /dev/null\n+++ /etc/motd\n@@ -0,0 +1,1 @@\n+hello\n');
  });

  it('one changed line with 3 lines of context, in one hunk per area', () => {
    const a = Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n') + '\n';
    const b = a.replace('l2\n', 'L2\n').replace('l17\n', 'L17\n');
    expect(unifiedDiff(a, b, 'f', 'f')).toBe('--- f\n+++ f\n@@ -1,6 +1,6 @@\n l0\n l1\n-l2\n+L2\n l3\n l4\n l5\n@@ -15,6 +15,6 @@\n l14\n l15\n l16\n-l17\n+L17\n l18\n l19\n');
  });

  it('marks a last line without a newline the standard way', () => {
    expect(unifiedDiff('a\nb\n', 'a\nc', 'f', 'f')).toBe('--- f\n+++ f\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n\\ No newline at end of file\n');
    // only the final newline differs: the line is shown removed and added
    expect(unifiedDiff('a\n', 'a', 'f', 'f')).toBe('--- f\n+++ f\n@@ -1,1 +1,1 @@\n-a\n+a\n\\ No newline at end of file\n');
    expect(unifiedDiff('a', 'a\n', 'f', 'f')).toBe('--- f\n+++ f\n@@ -1,1 +1,1 @@\n-a\n\\ No newline at end of file\n+a\n');
  });

  it('everything removed', () => expect(unifiedDiff('x\n', '', 'f', 'f')).toBe('--- f\n+++ f\n@@ -1,1 +0,0 @@\n-x\n'));

  it('a rewrite too long to search replaces everything, at once, and still applies', () => {
    const a = Array.from({ length: 3000 }, (_, i) => `old ${i}`).join('\n') + '\n';
    const b = Array.from({ length: 3000 }, (_, i) => `new ${i}`).join('\n');
    const t = Date.now();
    const d = unifiedDiff(a, b, 'f', 'f');
    expect(Date.now() - t).toBeLessThan(20_000); // a hang guard, not a benchmark (0.3 s idle; a loaded CI machine took 2.06 s)
    expect(d.split('\n').slice(0, 4)).toEqual(['--- f', '+++ f', '@@ -1,3000 +1,3000 @@', '-old 0']);
    expect(d.endsWith('+new 2999\n\\ No newline at end of file\n')).toBe(true);
    expect(applyPatch(a, d)).toBe(b);
  });

  it('every diff applies back', () => {
    const pairs: [string, string][] = [
      ['', 'x\ny\n'],
      ['a\nb\nc\nd\ne\nf\ng\nh\n', 'a\nB\nc\nd\ne\nf\nG\nh\ni'],
      ['p\nq', 'p\nq\nr\n'],
      ['1\n2\n3\n', ''],
    ];
    for (const [a, b] of pairs) expect(applyPatch(a, unifiedDiff(a, b, 'f', 'f')), JSON.stringify([a, b])).toBe(b);
  });
});
