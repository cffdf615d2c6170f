/** writeFileCommand (src/ssh/write-file.ts): the command run by a local /bin/sh in a temp folder. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileCommand, writeFileInline } from '../../../src/ssh/write-file.js';
import type { Command } from '../../../src/ssh/types.js';

const dir = mkdtempSync(join(tmpdir(), 'ha-write-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: Command, env: NodeJS.ProcessEnv = process.env): { status: number | null; stderr: string } {
  const [file, ...args] = cmd.argv;
  const r = spawnSync(file!, args, { input: cmd.stdin, encoding: 'utf8', env });
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

  it('runs chown unless the batch shell itself is that user and group and the new file has them (a set-group-ID directory, an sh of its own or sudo still chown)', () => {
    // STAND-IN, named as such: `chown` is a script that logs its arguments (this test does not run as
    // every user); `id -un`/`id -gn` are real, as the batch shell reads them (src/ssh/shell.ts).
    const bin = join(dir, 'chown-standin');
    const log = join(dir, 'chown.log');
    mkdirSync(bin);
    writeFileSync(join(bin, 'chown'), `#!/bin/sh\necho "chown $*" >> ${log}\n`, { mode: 0o755 });
    const id = (flag: string) => spawnSync('id', [flag], { encoding: 'utf8' }).stdout.trim();
    const [me, myGroup] = [id('-un'), id('-gn')];
    const env = { ...process.env, PATH: `${bin}:${process.env['PATH']}` };
    const target = join(dir, 'o.conf');
    const logged = () => readFileSync(log, { encoding: 'utf8', flag: 'a+' }).trim();
    // as the batch shell runs it: the write's text in a subshell of an `sh -s` that set the three names
    const inBatchShell = (o: { owner?: string; group?: string }, who: string, suffix: string, path = target) => {
      rmSync(log, { force: true });
      const text = writeFileInline(writeFileCommand(path, 'x\n', o, suffix))!;
      const r = spawnSync('sh', ['-s'], { input: `${who}\n(${text}) </dev/null\n`, env, encoding: 'utf8' });
      expect(r.status).toBe(0);
      return logged();
    };
    const shell = `export HAPV_SHELL=$$ HAPV_USER='${me}' HAPV_GROUP='${myGroup}'`;
    const temp = (suffix: string, d = dir) => join(d, `.${d === dir ? 'o' : 'p'}.conf.hapv-${suffix}`);
    expect(inBatchShell({ owner: me, group: myGroup }, shell, 'o1')).toBe('');
    expect(inBatchShell({ owner: me }, shell, 'o2')).toBe('');
    expect(inBatchShell({ group: myGroup }, shell, 'o3')).toBe('');
    expect(inBatchShell({ owner: me, group: myGroup }, '', 'o4')).toBe(`chown -- ${me}:${myGroup} ${temp('o4')}`);
    expect(inBatchShell({ owner: 'nobody', group: myGroup }, shell, 'o5')).toBe(`chown -- nobody:${myGroup} ${temp('o5')}`);
    expect(inBatchShell({ owner: me, group: myGroup }, `export HAPV_SHELL=$$ HAPV_USER='${me}' HAPV_GROUP=other`, 'o6')).toBe(`chown -- ${me}:${myGroup} ${temp('o6')}`);
    // the names carried in the environment into an sh of its own (as sudo with !env_reset would): chown runs
    rmSync(log, { force: true });
    const carried = { ...env, HAPV_SHELL: String(process.pid), HAPV_USER: me, HAPV_GROUP: myGroup };
    expect(run(writeFileCommand(target, 'x\n', { owner: me, group: myGroup }, 'o7'), carried).status).toBe(0);
    expect(logged()).toBe(`chown -- ${me}:${myGroup} ${temp('o7')}`);
    // a set-group-ID directory of another group: the new file has that group, so chown runs
    const sgid = join(dir, 'sgid');
    mkdirSync(sgid);
    const other = spawnSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).stdout.split(':')[2] ?? '65534';
    spawnSync('chgrp', [other, sgid]);
    spawnSync('chmod', ['2775', sgid]);
    expect(statSync(sgid).gid).toBe(Number(other));
    expect(inBatchShell({ owner: me, group: myGroup }, shell, 'o8', join(sgid, 'p.conf'))).toBe(`chown -- ${me}:${myGroup} ${temp('o8', sgid)}`);
  });

  it("on an SELinux node: a replaced file keeps its label (chcon --reference on the temp file, before the rename); a new file gets its path's label (restorecon after)", () => {
    // STAND-INS, named as such: this machine has no SELinux. selinuxenabled, chcon and restorecon
    // are scripts that log their arguments and what exists at that moment, so the order is checked.
    const bin = join(dir, 'selinux-standins');
    const log = join(dir, 'selinux.log');
    mkdirSync(bin);
    const tool = (name: string, body: string) => writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    tool('selinuxenabled', 'exit 0');
    tool('chcon', `echo "chcon $* target-content=$(cat ${join(dir, 'd.conf')})" >> ${log}`);
    tool('restorecon', `echo "restorecon $* exists=$(test -e "$2" && echo yes)" >> ${log}`);
    const env = { ...process.env, PATH: `${bin}:${process.env['PATH']}` };
    const target = join(dir, 'd.conf');
    expect(run(writeFileCommand(target, 'first', {}, 'n1'), env).status).toBe(0);
    expect(run(writeFileCommand(target, 'second', {}, 'n2'), env).status).toBe(0);
    expect(readFileSync(log, 'utf8').split('\n')).toEqual([
      `restorecon -- ${target} exists=yes`,
      `chcon --reference=${target} -- ${join(dir, '.d.conf.hapv-n2')} target-content=first`,
      '',
    ]);
    expect(readFileSync(target, 'utf8')).toBe('second');
    // selinuxenabled says no (SELinux disabled): neither tool runs
    tool('selinuxenabled', 'exit 1');
    expect(run(writeFileCommand(target, 'third', {}, 'n3'), env).status).toBe(0);
    expect(readFileSync(log, 'utf8').split('\n')).toHaveLength(3);
  });

  it('as text for a batch subshell: the same write with the content put in by printf, the content on no argv; not under sudo, for other commands or binary content', () => {
    const target = join(dir, 'e.conf');
    const content = "it's 100% $(not run) `either`\\n\nlast line without newline";
    const text = writeFileInline(writeFileCommand(target, content, { mode: 0o600 }, 'i1'))!;
    expect(text).toContain('printf %s');
    expect(text).not.toContain('cat');
    const r = spawnSync('/bin/sh', ['-s'], { input: `(${text}) </dev/null; echo "rc=$?"\n`, encoding: 'utf8' });
    expect(r.stdout).toBe('rc=0\n');
    expect(readFileSync(target, 'utf8')).toBe(content);
    expect(modeOf(target)).toBe('600');
    expect(readdirSync(dir).filter((f) => f.includes('hapv'))).toEqual([]);
    // a planted temp file: refused, the target left alone
    writeFileSync(join(dir, '.e.conf.hapv-i2'), 'planted');
    const planted = spawnSync('/bin/sh', ['-s'], { input: `(${writeFileInline(writeFileCommand(target, 'new', {}, 'i2'))!}) </dev/null; echo "rc=$?"\n`, encoding: 'utf8' });
    expect(planted.stdout).not.toBe('rc=0\n');
    expect(readFileSync(target, 'utf8')).toBe(content);
    expect(writeFileInline(writeFileCommand(target, 'x', { sudo: true }, 'i3'))).toBeUndefined();
    expect(writeFileInline(writeFileCommand(target, Buffer.from([0, 1]), {}, 'i4'))).toBeUndefined();
    expect(writeFileInline({ ...writeFileCommand(target, 'x', {}, 'i5'), timeoutMs: 1000 })).toBeUndefined();
    expect(writeFileInline({ argv: ['sh', '-c', 'cat > "$2"', 'sh', 'a', 'b', 'c', 'd'], stdin: 'x' })).toBeUndefined();
  });
});
