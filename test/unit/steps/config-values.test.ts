/**
 * Issue 12.4, the shared checks (src/steps/config-values.ts): what each
 * configuration format cannot hold, and the renderers' own guard for a value
 * that did not pass validation. The per-writer refusals at validation are in
 * test/unit/cli/config-injection.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { configValueProblem, type ConfigFormat } from '../../../src/steps/config-values.js';
import { renderResource } from '../../../src/steps/kinds/drbd-resource.js';
import { renderCorosyncConf } from '../../../src/facts/corosync.js';

describe('configValueProblem', () => {
  const ok: [ConfigFormat, string][] = [
    ['drbd-word', '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4-part1'],
    ['drbd-word', 'fe80::1'],
    ['drbd-string', 'a secret with spaces; and {braces} and #'],
    ['corosync', '10.0.0.25'],
    ['corosync', 'fe80::1%eth0'],
    ['hosts', 'mail1.example.org'],
    ['crm', '/srv/data with space; {x} #y'],
    ['line', 'PS1="\\u@\\h:\\w\\$ " # a comment; {braces}\ttab'],
  ];
  it.each(ok)('%s holds %j', (f, v) => expect(configValueProblem(f, v)).toBeUndefined());

  const bad: [ConfigFormat, string, string][] = [
    ['drbd-word', '/dev/sdb1;\n  handlers { split-brain "/bin/sh -c ..."; }', 'a semicolon (;) at character 10'],
    ['drbd-word', '/dev/sdb1 x', 'a space at character 10'],
    ['drbd-word', '/dev/sdb1}', 'a brace (}) at character 10'],
    ['drbd-word', '/dev/sdb1"', 'a double quote (") at character 10'],
    ['drbd-word', "/dev/sdb1'", "a single quote (') at character 10"],
    ['drbd-word', '/dev/sdb1#', 'a "#" (a comment) at character 10'],
    ['drbd-word', '/dev/sdb1\\', 'a backslash (\\) at character 10'],
    ['drbd-word', '/dev/sdb1\0', 'a NUL byte (\\0) at character 10'],
    ['drbd-string', 'abc"', 'a double quote (") at character 4'],
    ['drbd-string', 'abc\n', 'a newline (\\n) at character 4'],
    ['corosync', 'bob}', 'a brace (}) at character 4'],
    ['corosync', 'bob{', 'a brace ({) at character 4'],
    ['corosync', 'bob#', 'a "#" (a comment) at character 4'],
    ['corosync', 'bob\r', 'a carriage return (\\r) at character 4'],
    ['corosync', 'bob\u2028', 'a line separator (U+2028) at character 4'],
    ['hosts', 'bob alice', 'a space at character 4'],
    ['hosts', 'bob\talice', 'a tab (\\t) at character 4'],
    ['hosts', 'bob\u00a0', 'white space (U+00A0) at character 4'],
    ['crm', 'a"b', 'a double quote (") at character 2'],
    ['crm', 'a\x1bb', 'a control character (\\x1b) at character 2'],
    ['crm', 'a\x85b', 'a control character (\\x85) at character 2'],
    ['line', 'a\nb', 'a newline (\\n) at character 2'],
    ['line', 'a\rb', 'a carriage return (\\r) at character 2'],
    ['line', 'a\0b', 'a NUL byte (\\0) at character 2'],
  ];
  it.each(bad)('%s refuses %j', (f, v, found) => {
    const p = configValueProblem(f, v);
    expect(p).toContain(`found ${found}`);
    // the message names the character, never the value (it may be a secret)
    expect(p).not.toContain(v.slice(0, 4) === '/dev' ? '/dev' : v);
  });
});

describe('renderers refuse a value that slipped past validation', () => {
  it('drbd-resource: a disk with a handler section', () => {
    const p = {
      name: 'r0',
      minor: 0,
      port: 7788,
      protocol: 'C' as const,
      path: undefined,
      quorum: 'off' as const,
      sudo: false,
      disk: '/dev/sdb1;\n handlers { x; }',
      hosts: [
        { name: 'bob', node_id: 0, address: '10.0.0.25' },
        { name: 'alice', node_id: 1, address: '10.0.0.26' },
      ],
    };
    expect(() => renderResource(p)).toThrow(/disk: expected a value that a DRBD \.res file can hold, found a semicolon/);
    expect(renderResource({ ...p, disk: '/dev/sdb1' })).toContain('    disk /dev/sdb1;\n');
  });
  it('corosync.conf: an address that closes a section', () => {
    const c = { clusterName: 'c', nodes: [{ name: 'bob', nodeid: 1, addrs: ['10.0.0.25\n}'] }], cryptoCipher: 'aes256', cryptoHash: 'sha256', twoNode: false };
    expect(() => renderCorosyncConf(c)).toThrow(/addrs: expected a value that corosync\.conf can hold, found a newline/);
    expect(renderCorosyncConf({ ...c, nodes: [{ name: 'bob', nodeid: 1, addrs: ['10.0.0.25'] }] })).toContain('ring0_addr: 10.0.0.25\n');
  });
});
