import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { envWords, shJoin, shQuote } from '../../../src/ssh/quote.js';

export const NASTY = [
  '',
  ' ',
  'plain',
  'two words',
  "it's",
  `'`,
  `''`,
  '"double"',
  '$(touch /tmp/hapv-pwned)',
  '`id`',
  '; rm -rf /tmp/hapv-nothing',
  'a && b || c',
  'line1\nline2\n',
  '\ttab\r\n',
  '$HOME ${PATH} $1 $@ $*',
  '*.conf ? [a-z]',
  '~root',
  'A=b',
  '-n',
  '\\back\\slash\\',
  'unicode ü ß 日本 🚀',
  '#comment',
  '!history',
  '>out <in 2>&1 |pipe &bg',
];

describe('shQuote', () => {
  it('leaves safe words bare and quotes everything else', () => {
    expect(shQuote('abc/def-1.2_3:4@5%6+7,8')).toBe('abc/def-1.2_3:4@5%6+7,8');
    expect(shQuote('')).toBe("''");
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
    expect(shQuote('A=b')).toBe(`'A=b'`);
    expect(shQuote('~root')).toBe(`'~root'`);
  });

  it('refuses NUL bytes', () => {
    expect(() => shQuote('a\0b')).toThrow(/NUL/);
  });

  it('round-trips every nasty value through a real /bin/sh exactly', () => {
    // One printf per word, NUL-separated, so the split below is exact.
    const script = `for w in ${shJoin(NASTY)}; do printf '%s\\0' "$w"; done`;
    const out = execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(NASTY);
  });

  it('builds validated env assignments', () => {
    expect(envWords({ B: '2', A: 'x y' })).toEqual(['env', 'A=x y', 'B=2']);
    expect(envWords({})).toEqual([]);
    expect(() => envWords({ 'BAD-NAME': '1' })).toThrow(/invalid environment variable name "BAD-NAME"/);
  });
});
