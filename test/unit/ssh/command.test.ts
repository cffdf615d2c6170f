import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildCommand, describeCommand } from '../../../src/ssh/command.js';

const NONCE = '0123456789abcdef0123456789abcdef';

describe('buildCommand', () => {
  it('quotes argv and puts env before it', () => {
    expect(buildCommand({ argv: ['echo', 'a b'], env: { X: '$y' } }, undefined, NONCE)).toEqual({
      line: `env 'X=$y' echo 'a b'`,
      stdinPrefix: '',
    });
  });

  it('uses sudo -n when there is no password', () => {
    expect(buildCommand({ argv: ['id', '-u'], sudo: true, env: { A: '1' } }, { method: 'sudo' }, NONCE).line).toBe("sudo -n -- env 'A=1' id -u");
  });

  it('feeds the sudo password on stdin, never on argv', () => {
    const built = buildCommand({ argv: ['cat'], sudo: true }, { method: 'sudo', password: 's3cr3t pw' }, NONCE);
    expect(built.line).not.toContain('s3cr3t');
    expect(built.line.startsWith(`sudo -S -p '' -- sh -c `)).toBe(true);
    expect(built.stdinPrefix).toBe(`s3cr3t pw\n${NONCE}\n`);
    expect(() => buildCommand({ argv: ['x'], sudo: true }, { method: 'sudo', password: 'a\nb' }, NONCE)).toThrow(/newline/);
  });

  it('gives the command exactly its own stdin whether or not sudo read the password (real sh)', () => {
    const built = buildCommand({ argv: ['cat'], sudo: true }, { method: 'sudo', password: 'pw' }, NONCE);
    // Strip the `sudo -S -p '' -- ` words: run the rest as sudo would after reading (or not reading) the password.
    const afterSudo = built.line.replace(/^sudo -S -p '' -- /, '');
    const data = 'line one\nline two';
    // sudo did not ask (cached / NOPASSWD / root): the password line is still there.
    expect(execFileSync('/bin/sh', ['-c', afterSudo], { input: built.stdinPrefix + data, encoding: 'utf8' })).toBe(data);
    // sudo read the password line: only the nonce line is left.
    expect(execFileSync('/bin/sh', ['-c', afterSudo], { input: `${NONCE}\n${data}`, encoding: 'utf8' })).toBe(data);
  });

  it('keeps the nonce out of what the command prints: a missing command says "sh", not the nonce (the output is a fact)', () => {
    const built = buildCommand({ argv: ['no-such-command-here'], sudo: true }, { method: 'sudo', password: 'pw' }, NONCE);
    const afterSudo = built.line.replace(/^sudo -S -p '' -- /, '');
    let stderr = '';
    try {
      execFileSync('/bin/sh', ['-c', afterSudo], { input: built.stdinPrefix, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      stderr = String((err as { stderr?: string }).stderr);
    }
    expect(stderr).toMatch(/no-such-command-here/);
    expect(stderr).not.toContain(NONCE);
  });

  it('runs through the real sudo as root without a prompt, the password line skipped', () => {
    const built = buildCommand({ argv: ['cat'], sudo: true }, { method: 'sudo', password: 'pw' }, NONCE);
    expect(execFileSync('/bin/sh', ['-c', built.line], { input: `${built.stdinPrefix}payload`, encoding: 'utf8' })).toBe('payload');
  });

  it('adds a remote timeout backstop one second after the local limit', () => {
    expect(buildCommand({ argv: ['sleep', '9'], timeoutMs: 1500 }, undefined, NONCE).line).toBe('timeout -s KILL 2.5s sleep 9');
    expect(buildCommand({ argv: ['id'], timeoutMs: 200, sudo: true }, { method: 'sudo' }, NONCE).line).toBe('sudo -n -- timeout -s KILL 1.2s id');
    expect(() => buildCommand({ argv: ['id'], timeoutMs: 0 }, undefined, NONCE)).toThrow('timeoutMs must be a positive number, got 0');
  });

  it('refuses an empty argv', () => {
    expect(() => buildCommand({ argv: [] }, undefined, NONCE)).toThrow(/at least one argv word/);
  });

  it('describes commands for logs', () => {
    expect(describeCommand({ argv: ['systemctl', 'is-active', 'x y'], sudo: true })).toBe(`sudo systemctl is-active 'x y'`);
  });
});
