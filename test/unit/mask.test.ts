import { describe, expect, it } from 'vitest';
import { containsSecret, makeMasker, MASK, maskSecrets, redactCibCredentials } from '../../src/mask.js';

describe('masking', () => {
  it('replaces every occurrence, longest secret first; empty and undefined secrets are ignored', () => {
    expect(maskSecrets('pw=abcdef and abc', ['abc', 'abcdef', ''])).toBe(`pw=${MASK} and ${MASK}`);
    expect(makeMasker(['abc', undefined, 'abcdef', 'abc'])('abcdef abc x')).toBe(`${MASK} ${MASK} x`);
    expect(makeMasker([undefined, ''])('abc')).toBe('abc');
    expect(maskSecrets('', ['a'])).toBe('');
    expect(containsSecret('xabcx', ['', 'abc'])).toBe(true);
    expect(containsSecret('x', ['', 'abc'])).toBe(false);
  });

  it('redacts CIB name/value pairs named like credentials, whatever their value (a password changed since: no longer a known secret)', () => {
    const cib =
      '<instance_attributes id="f"><nvpair id="f-ip" name="ip" value="10.0.0.5"/><nvpair id="f-password" name="password" value="old-pw"/>' +
      '<nvpair value="x2" name="snmp_priv_passwd" id="f-s"/><nvpair id="f-ps" name="passwd_script" value="/usr/local/bin/pw"/></instance_attributes>';
    const out = redactCibCredentials(cib);
    expect(out).not.toContain('old-pw');
    expect(out).not.toContain('"x2"');
    expect(out).toContain(`name="password" value="${MASK}"`);
    expect(out).toContain('value="10.0.0.5"');
    expect(out).toContain('value="/usr/local/bin/pw"'); // passwd_script: a path, not a credential
    expect(redactCibCredentials('no xml here password=1')).toBe('no xml here password=1');
  });
});
