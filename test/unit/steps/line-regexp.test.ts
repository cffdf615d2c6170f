/**
 * Issue 12.5: no input can hang the tool. The `line` kind matches its
 * user's regexp with RE2 (re2js): time linear in the line's length, so a
 * pattern with catastrophic backtracking under JavaScript's engine
 * (`^(a+)+$` against a long line that almost matches) returns at once; what
 * RE2 cannot compile (backreferences, lookaround) is refused at validation.
 */
import { describe, expect, it } from 'vitest';
import { editLines, lineParams } from '../../../src/steps/kinds/line.js';

const params = (regexp: string, line = 'x') => lineParams.parse({ path: '/etc/x', regexp, line });

describe('line: user regexps', () => {
  it('^(a+)+$ against a 100 kB line finishes (a hang guard, not a benchmark)', () => {
    const long = 'a'.repeat(100_000) + 'b';
    const content = `first\n${long}\nlast\n`;
    const t0 = performance.now();
    expect(editLines(content, params('^(a+)+$'))).toBe(content + 'x\n');
    expect(editLines(content, { ...params('^(a+)+b$'), state: 'absent' })).toBe('first\nlast\n');
    expect(editLines(content, params('(x+x+)+y'))).toBe(content + 'x\n');
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('JavaScript syntax keeps its meaning: anchors, classes, escapes, named groups', () => {
    const content = '#Port 22\nListenAddress 0.0.0.0\n/etc/x path\n';
    expect(editLines(content, params('^#?\\s*Port\\s', 'Port 2222'))).toBe('Port 2222\nListenAddress 0.0.0.0\n/etc/x path\n');
    expect(editLines(content, params('^\\/etc\\/x', '/etc/y'))).toBe('#Port 22\nListenAddress 0.0.0.0\n/etc/y\n');
    expect(editLines(content, params('^(?<key>ListenAddress) \\d+(\\.\\d+){3}$', 'ListenAddress ::'))).toBe('#Port 22\nListenAddress ::\n/etc/x path\n');
    // not anchored: anywhere in the line, as RegExp.test
    expect(editLines(content, params('Listen', 'L'))).toBe('#Port 22\nL\n/etc/x path\n');
  });

  it.each([
    ['(a)\\1', /backreferences or lookaround.*cannot compile: invalid escape sequence: `\\1`/],
    ['a(?=b)', /cannot compile: invalid or unsupported Perl syntax: `\(\?=`/],
    ['(?<!a)b', /cannot compile: invalid named capture/], // RE2 reads (?<! as a group name
    ['[', /cannot compile: missing closing \]/],
  ])('refused at validation: %s', (regexp, message) => {
    const r = lineParams.safeParse({ path: '/etc/x', regexp, line: 'x' });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')).toMatch(new RegExp(`^regexp: expected a regular expression without .*${message.source}`));
  });
});
