/** writeFileCommand (src/ssh/write-file.ts): the command run by a local /bin/sh in a temp folder. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileCommand } from '../../../src/ssh/write-file.js';
import type { Command } from '../../../src/ssh/types.js';

const dir = mkdtempSync(join(tmpdir(), 'ha-write-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: Command): { status: number | null; stderr: string } {
  const [file, ...args] = cmd.argv;
  const r = spawnSync(file!, args, { input: cmd.stdin, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}
const modeOf = (p: string) => (statSync(p).mode & 0o7777).toString(8);

describe('writeFileCommand', () => {
  it('writes the content with the mode given, through a hidden temp file beside the target that is gone after', () => {
    const target = join(dir, 'a.conf');
    const cmd = writeFileCommand(target, 'one\n', { mode: 0o640 }, 'abc123');
    expect(cmd.argv.slice(3)).toEqual(['sh', join(dir, '.a.conf.hapv-abc123'), target, '640', '']);
    expect(cmd.sudo).toBe(false);
    expect(run(cmd).status).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe('one\n');
    expect(modeOf(target)).toBe('640');
    expect(readdirSync(dir)).toEqual(['a.conf']);
  });

  it('keeps the mode of the file it replaces, else 0644; binary content exactly', () => {
    const target = join(dir, 'b.bin');
    expect(run(writeFileCommand(target, 'x', {}, '1')).status).toBe(0);
    expect(modeOf(target)).toBe('644');
    expect(run(writeFileCommand(target, 'x', { mode: 0o600 }, '2')).status).toBe(0);
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(run(writeFileCommand(target, bytes, {}, '3')).status).toBe(0);
    expect(modeOf(target)).toBe('600');
    expect(readFileSync(target).equals(bytes)).toBe(true);
  });

  it('refuses a planted temp file and leaves the target alone', () => {
    const target = join(dir, 'c.conf');
    writeFileSync(target, 'old');
    writeFileSync(join(dir, '.c.conf.hapv-x'), 'planted');
    const r = run(writeFileCommand(target, 'new', {}, 'x'));
    expect(r.status).not.toBe(0);
    expect(readFileSync(target, 'utf8')).toBe('old');
  });

  it('names owner and group as chown wants them, sudo when asked, and refuses a relative path', () => {
    const owner = (o: { owner?: string; group?: string }) => writeFileCommand('/etc/x', '', o, 's').argv[7];
    expect([owner({}), owner({ owner: 'root' }), owner({ owner: 'root', group: 'hacluster' }), owner({ group: 'haclient' })]).toEqual(['', 'root', 'root:hacluster', ':haclient']);
    expect(writeFileCommand('/etc/x', '', { sudo: true }, 's').sudo).toBe(true);
    expect(() => writeFileCommand('etc/x', '', {}, 's')).toThrow('writeFile needs an absolute path, got "etc/x"');
  });
});
