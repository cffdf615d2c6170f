import { describe, expect, it } from 'vitest';
import { containsSecret, makeMasker, MASK, maskSecrets } from '../../src/mask.js';

describe('masking', () => {
  it('replaces every occurrence, longest secret first; empty and undefined secrets are ignored', () => {
    expect(maskSecrets('pw=abcdef and abc', ['abc', 'abcdef', ''])).toBe(`pw=${MASK} and ${MASK}`);
    expect(makeMasker(['abc', undefined, 'abcdef', 'abc'])('abcdef abc x')).toBe(`${MASK} ${MASK} x`);
    expect(makeMasker([undefined, ''])('abc')).toBe('abc');
    expect(maskSecrets('', ['a'])).toBe('');
    expect(containsSecret('xabcx', ['', 'abc'])).toBe(true);
    expect(containsSecret('x', ['', 'abc'])).toBe(false);
  });
});
