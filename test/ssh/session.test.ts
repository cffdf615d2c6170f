/**
 * src/ssh against real OpenSSH sshd processes on 127.0.0.1 (test/support/sshd.ts).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSession, openSessionWithRetry, SshError, type Session } from '../../src/ssh/index.js';
import { startSshd, type SshdHarness } from '../support/sshd.js';
import { NASTY } from '../unit/ssh/quote.test.js';

const run = promisify(execFile);
let h: SshdHarness;
let s: Session;
const strict = () => ({ knownHostsPath: h.knownHostsPath, mode: 'strict' as const });

beforeAll(async () => {
  h = await startSshd({ count: 3 });
  s = await openSession(h.endpoint(0), { hostKeys: strict() });
});
afterAll(async () => {
  await s?.close();
  await h?.stop();
});

/** The processes whose command line matches `pattern` (pgrep -f) once they are gone, or after ~2 s. */
async function processesLeft(pattern: string): Promise<string> {
  let left = '';
  for (let i = 0; i < 100; i++) {
    left = await run('pgrep', ['-f', pattern]).then(
      (r) => r.stdout,
      () => '',
    );
    if (left === '') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return left;
}

function capture() {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines, text: () => lines.join('') };
}

describe('exec', () => {
  it('passes nasty argv values through exactly', async () => {
    for (const value of NASTY) {
      const r = await s.exec({ argv: ['printf', '%s', value] });
      expect(r).toMatchObject({ exitCode: 0, stdout: value, stderr: '' });
    }
    const r = await s.exec({ argv: ['sh', '-c', 'printf "%s|" "$@"', 'sh', ...NASTY] });
    expect(r.stdout).toBe(NASTY.map((v) => `${v}|`).join(''));
  });

  it('returns exit codes and stderr without throwing', async () => {
    const r = await s.exec({ argv: ['sh', '-c', 'echo out; echo err >&2; exit 7'] });
    expect(r).toMatchObject({ exitCode: 7, stdout: 'out\n', stderr: 'err\n' });
    expect(r.durationMs).toBeGreaterThan(0);
    expect((await s.exec({ argv: ['/nonexistent/cmd'] })).exitCode).toBe(127);
  });

  it('passes env values and stdin (binary) exactly', async () => {
    const value = NASTY.join('\n');
    expect((await s.exec({ argv: ['printenv', 'HAPV_X'], env: { HAPV_X: value } })).stdout).toBe(`${value}\n`);
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const r = await s.exec({ argv: ['sh', '-c', 'od -An -tx1 -v | tr -d " \\n"'], stdin: bytes });
    expect(r.stdout).toBe(bytes.toString('hex'));
  });

  it('does not depend on the login shell start-up files', async () => {
    const home = h.hosts[0]!.home;
    const ran = join(home, 'bashrc-ran');
    writeFileSync(join(home, '.bashrc'), `echo RC-NOISE; echo RC-NOISE >&2; touch ${ran}\n`);
    writeFileSync(join(home, '.profile'), `echo PROFILE-NOISE\n`);
    try {
      const r = await s.exec({ argv: ['echo', 'clean'] });
      expect(r).toMatchObject({ exitCode: 0, stdout: 'clean\n', stderr: '' });
      const [b] = await s.execBatch([{ argv: ['echo', 'clean'] }]);
      expect(b).toMatchObject({ exitCode: 0, stdout: 'clean\n', stderr: '' });
      // bash really sourced ~/.bashrc (Debian's bash does under sshd): its output was cut off.
      expect(existsSync(ran)).toBe(true);
    } finally {
      writeFileSync(join(home, '.bashrc'), '');
      writeFileSync(join(home, '.profile'), '');
    }
  });

  it('runs sudo -n (root here) and password sudo with stdin intact', async () => {
    expect((await s.exec({ argv: ['id', '-u'], sudo: true })).stdout).toBe('0\n');
    const pw = await openSession(h.endpoint(0, { become: { method: 'sudo', password: 'pw-SECRET-1' } }), { hostKeys: strict() });
    try {
      const r = await pw.exec({ argv: ['cat'], sudo: true, stdin: 'payload\n' });
      expect(r).toMatchObject({ exitCode: 0, stdout: 'payload\n' });
      const [b] = await pw.execBatch([{ argv: ['cat'], sudo: true, stdin: 'batch-in' }]);
      expect(b).toMatchObject({ exitCode: 0, stdout: 'batch-in' });
    } finally {
      await pw.close();
    }
  });

  it('sudo -S with a real password prompt (non-root user): password on stdin, command stdin intact', async () => {
    const password = "pw with 'quotes' $x";
    const user = await h.addSudoUser(password);
    const { logger, text } = capture();
    const u = await openSession(h.endpoint(1, { user, become: { method: 'sudo', password } }), { hostKeys: strict(), logger });
    try {
      expect((await u.exec({ argv: ['id', '-un'] })).stdout).toBe(`${user}\n`);
      const r = await u.exec({ argv: ['sh', '-c', 'id -u; cat'], sudo: true, stdin: 'line1\nline2\n' });
      expect(r).toMatchObject({ exitCode: 0, stdout: '0\nline1\nline2\n', stderr: '' });
      // Now sudo's credentials are cached: it does not read the password, and stdin is still exact.
      expect((await u.exec({ argv: ['cat'], sudo: true, stdin: 'again' })).stdout).toBe('again');
      const [b] = await u.execBatch([{ argv: ['id', '-u'], sudo: true }]);
      expect(b).toMatchObject({ exitCode: 0, stdout: '0\n' });
      const wrong = await openSession(h.endpoint(1, { user, become: { method: 'sudo', password: 'wrong' } }), { hostKeys: strict() });
      await wrong.exec({ argv: ['sudo', '-k'] });
      expect((await wrong.exec({ argv: ['true'], sudo: true })).exitCode).not.toBe(0);
      await wrong.close();
      // As a non-root login, the SSH signal request is honoured too.
      await expect(u.exec({ argv: ['sleep', '30.321'], timeoutMs: 300 })).rejects.toMatchObject({ code: 'SSH_TIMEOUT' });
      expect(text()).not.toContain(password);
    } finally {
      await u.close();
    }
  });

  it('kills a command on timeout and stays usable', async () => {
    const started = performance.now();
    const err = await s.exec({ argv: ['sleep', '30.123'], timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshError);
    expect(err).toMatchObject({ code: 'SSH_TIMEOUT' });
    expect((err as Error).message).toMatch(/timed out after 500 ms and was killed: sleep 30.123/);
    expect(performance.now() - started).toBeLessThan(3000);
    // The remote process is gone (the sshd is local, so pgrep sees it).
    expect(await processesLeft('sleep 30.123')).toBe('');
    expect((await s.exec({ argv: ['true'] })).exitCode).toBe(0);
  });

  it('cancels an exec on abort', async () => {
    const ac = new AbortController();
    const p = s.exec({ argv: ['sleep', '30.456'] }, ac.signal);
    setTimeout(() => ac.abort(new Error('user pressed ^C')), 100);
    await expect(p).rejects.toThrow('user pressed ^C');
    expect((await s.exec({ argv: ['true'] })).exitCode).toBe(0);
  });
});

describe('secrets', () => {
  it('are masked in results, errors and every log line', async () => {
    const { logger, text } = capture();
    const ss = await openSession(h.endpoint(0, { become: { method: 'sudo', password: 'become-PW-42' } }), { hostKeys: strict(), logger });
    try {
      const secret = 'hunter2-TOPSECRET';
      const r = await ss.exec({ argv: ['sh', '-c', 'echo "token=$1"; echo "bad $1" >&2', 'sh', secret], secrets: [secret] });
      expect(r.stdout).toBe('token=********\n');
      expect(r.stderr).toBe('bad ********\n');
      const [b] = await ss.execBatch([{ argv: ['echo', secret], secrets: [secret] }]);
      expect(b!.stdout).toBe('********\n');
      const err = await ss.exec({ argv: ['sh', '-c', 'sleep 5', secret], secrets: [secret], timeoutMs: 200 }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(SshError);
      expect((err as Error).message).toContain('********');
      expect((err as Error).message).not.toContain(secret);
      await ss.exec({ argv: ['echo', 'become-PW-42'], sudo: true });
      await ss.writeFile(join(h.hosts[0]!.root, 'secret.conf'), `password=${secret}\n`, { mode: 0o600 });
      const log = text();
      expect(log).toContain('"msg":"ssh exec"');
      expect(log).toContain('"stdout":"token=********\\n"'); // debug output is there, masked
      expect(log).not.toContain(secret);
      expect(log).not.toContain('become-PW-42');
    } finally {
      await ss.close();
    }
  });
});

describe('logging', () => {
  it('logs every command with exit code, duration and sizes at info, output only at debug', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const ss = await openSession(h.endpoint(0), { hostKeys: strict(), logger });
    try {
      await ss.exec({ argv: ['echo', 'visible-only-at-debug'] });
      await ss.execBatch([{ argv: ['true'] }, { argv: ['false'] }]);
      const execs = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'ssh exec');
      expect(execs.map((l) => [l.node, l.cmd, l.exitCode, l.stdoutBytes])).toEqual([
        ['host-00', 'echo visible-only-at-debug', 0, 22],
        ['host-00', 'true', 0, 0],
        ['host-00', 'false', 1, 0],
      ]);
      expect(execs.every((l) => typeof l.durationMs === 'number')).toBe(true);
      expect(lines.join('')).not.toContain('"stdout"');
    } finally {
      await ss.close();
    }
  });

  it('a session-wide abort signal cancels commands in flight', async () => {
    const ac = new AbortController();
    const ss = await openSession(h.endpoint(0), { hostKeys: strict(), signal: ac.signal });
    const p = ss.exec({ argv: ['sleep', '30.789'] }).catch((e: unknown) => e);
    setTimeout(() => ac.abort(new Error('run cancelled')), 100);
    expect(await p).toMatchObject({ message: 'run cancelled' });
    await ss.close(); // lets the kill of the remote process group finish first
    expect(
      await run('pgrep', ['-f', 'sleep 30.789']).then(
        (r) => r.stdout,
        () => '',
      ),
    ).toBe('');
  });
});

describe('execBatch', () => {
  it('returns each result in order, even failing ones and delimiter look-alikes', async () => {
    const fake = `\n${'0123456789abcdef'.repeat(2)}:1:0\n`;
    const results = await s.execBatch([
      { argv: ['echo', 'first'] },
      { argv: ['sh', '-c', 'echo partial; echo "it failed" >&2; exit 3'] },
      { argv: ['printf', '%s', fake] },
      { argv: ['sh', '-c', 'printf "%s" "$1" >&2', 'sh', fake] },
      { argv: ['cat'], stdin: 'from stdin' },
      { argv: ['sh', '-c', 'kill -9 $$'] },
      { argv: ['printf', '%s', 'no newline at end'] },
    ]);
    expect(results.map(({ exitCode, stdout, stderr }) => ({ exitCode, stdout, stderr }))).toEqual([
      { exitCode: 0, stdout: 'first\n', stderr: '' },
      { exitCode: 3, stdout: 'partial\n', stderr: 'it failed\n' },
      { exitCode: 0, stdout: fake, stderr: '' },
      { exitCode: 0, stdout: '', stderr: fake },
      { exitCode: 0, stdout: 'from stdin', stderr: '' },
      { exitCode: 137, stdout: '', stderr: results[5]!.stderr }, // the batch shell may report "Killed"
      { exitCode: 0, stdout: 'no newline at end', stderr: '' },
    ]);
    expect(await s.execBatch([])).toEqual([]);
  });
});

describe('the batch shell', () => {
  /** The pid of the shell a batch runs in: the parent of its commands. */
  const shellPid = async (ss: Session) => (await ss.execBatch([{ argv: ['sh', '-c', 'echo $PPID'] }]))[0]!.stdout.trim();

  it('runs batch after batch in one shell on the node; two at once run side by side', async () => {
    const ss = await openSession(h.endpoint(0), { hostKeys: strict() });
    try {
      const first = await shellPid(ss);
      expect(first).toMatch(/^\d+$/);
      expect(await shellPid(ss)).toBe(first);
      const [a, b] = await Promise.all([
        ss.execBatch([{ argv: ['sh', '-c', 'sleep 0.2; echo a'] }, { argv: ['echo', 'a2'] }]),
        ss.execBatch([{ argv: ['echo', 'b'] }, { argv: ['cat'], stdin: 'b2' }]),
      ]);
      expect([a.map((r) => r.stdout), b.map((r) => r.stdout)]).toEqual([
        ['a\n', 'a2\n'],
        ['b\n', 'b2'],
      ]);
      expect(await shellPid(ss)).toBe(first);
    } finally {
      await ss.close();
    }
  });

  it('a batch that times out is killed with its shell; the next batch runs in a new one', async () => {
    const ss = await openSession(h.endpoint(0), { hostKeys: strict() });
    try {
      const before = await shellPid(ss);
      const err = await ss
        .execBatch([
          { argv: ['echo', 'x'], timeoutMs: 300 },
          { argv: ['sleep', '30.246'], timeoutMs: 300 },
        ])
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'SSH_TIMEOUT' });
      expect((err as Error).message).toBe('host-00: command timed out after 600 ms and was killed: batch of 2: echo x ; sleep 30.246');
      expect(await processesLeft('sleep 30.246')).toBe('');
      const after = await shellPid(ss);
      expect(after).not.toBe(before);
      expect(existsSync(`/proc/${before}`)).toBe(false);
    } finally {
      await ss.close();
    }
  });

  it('output a command left running writes after its batch never reaches a later batch', async () => {
    const ss = await openSession(h.endpoint(0), { hostKeys: strict() });
    try {
      const before = await shellPid(ss);
      const [r] = await ss.execBatch([{ argv: ['sh', '-c', '(sleep 0.3; echo LATE; echo LATE >&2) & echo now'] }]);
      expect(r!.stdout).toBe('now\n');
      await new Promise((resolve) => setTimeout(resolve, 500));
      // that shell is ended: the next batch runs in a new one
      expect(await shellPid(ss)).not.toBe(before);
      const later = await ss.execBatch([{ argv: ['echo', 'clean'] }, { argv: ['sh', '-c', 'sleep 0.1; echo clean2'] }]);
      expect(later.map((x) => [x.stdout, x.stderr])).toEqual([
        ['clean\n', ''],
        ['clean2\n', ''],
      ]);
    } finally {
      await ss.close();
    }
  });
});

describe('writeFile', () => {
  it('writes atomically with mode, leaves no temp file, keeps the mode on rewrite', async () => {
    const root = h.hosts[0]!.root;
    const path = join(root, 'etc', 'drbd.d', 'r0.res');
    await s.exec({ argv: ['mkdir', '-p', join(root, 'etc', 'drbd.d')] });
    const content = Buffer.concat([Buffer.from("resource r0 { $(nope) 'x' }\n"), Buffer.from([0, 255, 10])]);
    await s.writeFile(path, content, { mode: 0o640, owner: 'root', group: 'root', sudo: true });
    expect(readFileSync(path).equals(content)).toBe(true);
    expect((statSync(path).mode & 0o7777).toString(8)).toBe('640');
    await s.writeFile(path, 'second\n');
    expect(readFileSync(path, 'utf8')).toBe('second\n');
    expect((statSync(path).mode & 0o7777).toString(8)).toBe('640');
    await s.writeFile(join(root, 'new.txt'), 'x');
    expect((statSync(join(root, 'new.txt')).mode & 0o7777).toString(8)).toBe('644');
    expect(readdirSync(join(root, 'etc', 'drbd.d'))).toEqual(['r0.res']);
  });

  it('replaces by rename: a reader holding the old file sees old content whole', async () => {
    const path = join(h.hosts[0]!.root, 'swap.txt');
    await s.writeFile(path, 'old\n');
    const inodeBefore = statSync(path).ino;
    await s.writeFile(path, 'new\n');
    expect(statSync(path).ino).not.toBe(inodeBefore);
  });

  it('fails with the remote error and cleans up', async () => {
    const dir = join(h.hosts[0]!.root, 'nope');
    await expect(s.writeFile(join(dir, 'f'), 'x')).rejects.toThrow(/writing .*nope\/f failed \(exit \d+\): .*Directory nonexistent/);
    await expect(s.writeFile('relative/path', 'x')).rejects.toThrow(/absolute path/);
    await expect(s.writeFile(join(h.hosts[0]!.root, 'own'), 'x', { owner: 'no-such-user-hapv' })).rejects.toThrow(/invalid user/);
    expect(readdirSync(h.hosts[0]!.root).filter((f) => f.includes('hapv-'))).toEqual([]);
  });
});

describe('host keys', () => {
  it('refuses an unknown key in strict mode, saying how to accept it', async () => {
    const empty = join(h.dir, 'empty_known_hosts');
    writeFileSync(empty, '');
    const err = await openSession(h.endpoint(1), { hostKeys: { knownHostsPath: empty, mode: 'strict' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SSH_HOSTKEY_UNKNOWN' });
    expect((err as Error).message).toContain('--accept-new-host-keys');
    expect((err as Error).message).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
  });

  it('records a new key in accept-new (OpenSSH agrees), then accepts it in strict', async () => {
    const file = join(h.dir, 'sub', 'accept_known_hosts');
    const a = await openSession(h.endpoint(1), { hostKeys: { knownHostsPath: file, mode: 'accept-new' } });
    await a.close();
    const port = h.hosts[1]!.port;
    expect(readFileSync(file, 'utf8')).toBe(`[127.0.0.1]:${port} ${h.hosts[1]!.hostKeyPub}\n`);
    const b = await openSession(h.endpoint(1), { hostKeys: { knownHostsPath: file, mode: 'strict' } });
    await b.close();
    // The real ssh client accepts the file we wrote.
    const { stdout } = await run('ssh', [
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${file}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-i',
      h.clientKeyPath,
      '-p',
      String(port),
      `${h.user}@127.0.0.1`,
      'echo via-openssh',
    ]);
    expect(stdout).toBe('via-openssh\n');
    // Hashed entries (ssh-keygen -H) are accepted too.
    await run('ssh-keygen', ['-q', '-H', '-f', file]);
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
    const c = await openSession(h.endpoint(1), { hostKeys: { knownHostsPath: file, mode: 'strict' } });
    await c.close();
  });

  it('refuses a changed key, naming the host, file, line and both fingerprints', async () => {
    const oldPub = h.hosts[2]!.hostKeyPub;
    await h.restart(2, { newHostKey: true });
    const newPub = h.hosts[2]!.hostKeyPub;
    const fp = async (pub: string) => {
      const f = join(h.dir, 'fp.pub');
      writeFileSync(f, `${pub}\n`);
      return (await run('ssh-keygen', ['-l', '-f', f])).stdout.split(' ')[1]!;
    };
    const line =
      readFileSync(h.knownHostsPath, 'utf8')
        .split('\n')
        .findIndex((l) => l.endsWith(oldPub)) + 1;
    for (const mode of ['strict', 'accept-new'] as const) {
      const err = await openSession(h.endpoint(2), { hostKeys: { knownHostsPath: h.knownHostsPath, mode } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'SSH_HOSTKEY_MISMATCH' });
      const msg = (err as Error).message;
      expect(msg).toContain('host-02');
      expect(msg).toContain(`${h.knownHostsPath}:${line}`);
      expect(msg).toContain(await fp(oldPub));
      expect(msg).toContain(await fp(newPub));
    }
    expect(readFileSync(h.knownHostsPath, 'utf8')).not.toContain(newPub.split(' ')[1]);
  });
});

describe('connecting', () => {
  it('authenticates with an ssh-agent', async () => {
    const sock = join(h.dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
      await run('ssh-add', ['-q', h.clientKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      const a = await openSession(h.endpoint(1, { auth: { kind: 'agent', socket: sock } }), { hostKeys: strict() });
      expect((await a.exec({ argv: ['echo', 'agent'] })).stdout).toBe('agent\n');
      await a.close();
    } finally {
      agent.kill();
    }
  });

  it('reads a key passphrase from the named environment variable', async () => {
    const key = join(h.dir, 'pp_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pass phrase!', '-f', key]);
    writeFileSync(join(h.dir, 'authorized_keys'), readFileSync(`${key}.pub`), { flag: 'a' });
    const ep = h.endpoint(1, { auth: { kind: 'key', privateKeyPath: key, passphraseEnv: 'HAPV_TEST_PASSPHRASE' } });
    await expect(openSession(ep, { hostKeys: strict() })).rejects.toMatchObject({ code: 'SSH_AUTH', message: expect.stringContaining('HAPV_TEST_PASSPHRASE') });
    process.env.HAPV_TEST_PASSPHRASE = 'pass phrase!';
    try {
      const a = await openSession(ep, { hostKeys: strict() });
      expect((await a.exec({ argv: ['echo', 'pp'] })).stdout).toBe('pp\n');
      await a.close();
    } finally {
      delete process.env.HAPV_TEST_PASSPHRASE;
    }
  });

  it('refuses an unauthorised key with SSH_AUTH', async () => {
    const key = join(h.dir, 'stranger');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    await expect(openSession(h.endpoint(1, { auth: { kind: 'key', privateKeyPath: key } }), { hostKeys: strict() })).rejects.toMatchObject({
      code: 'SSH_AUTH',
    });
  });

  it('goes through a ProxyJump host', async () => {
    const j = await openSession(h.endpoint(1, { jump: h.endpoint(0) }), { hostKeys: strict() });
    expect((await j.exec({ argv: ['sh', '-c', 'echo $SSH_CONNECTION'] })).stdout).toMatch(/^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+/);
    await j.close();
  });

  it('times out against a port that never speaks SSH', async () => {
    let srv: Server | undefined;
    const port = await new Promise<number>((resolve) => {
      srv = createServer(() => undefined).listen(0, '127.0.0.1', () => resolve((srv!.address() as { port: number }).port));
    });
    try {
      const started = performance.now();
      await expect(openSession(h.endpoint(1, { port, connectTimeoutMs: 300 }), { hostKeys: strict() })).rejects.toMatchObject({ code: 'SSH_TIMEOUT' });
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      srv?.close();
    }
  });

  it('fails with SSH_CONNECT on a closed port, and an abort cancels a connect', async () => {
    await expect(openSession(h.endpoint(1, { port: 1 }), { hostKeys: strict() })).rejects.toMatchObject({ code: 'SSH_CONNECT' });
    const ac = new AbortController();
    ac.abort(new Error('cancelled'));
    await expect(openSession(h.endpoint(1), { hostKeys: strict(), signal: ac.signal })).rejects.toThrow('cancelled');
  });

  it('marks the session dead when the node goes away, and re-opens with backoff', async () => {
    const d = await openSession(h.endpoint(1), { hostKeys: strict() });
    const inflight = d.exec({ argv: ['sleep', '20'] }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    await h.kill(1);
    expect(await inflight).toMatchObject({ code: 'SSH_DISCONNECTED' });
    expect(d.isAlive()).toBe(false);
    await expect(d.exec({ argv: ['true'] })).rejects.toMatchObject({ code: 'SSH_DISCONNECTED' });
    const retries: number[] = [];
    setTimeout(() => void h.restart(1), 700);
    const again = await openSessionWithRetry(h.endpoint(1), { hostKeys: strict() }, { initialDelayMs: 250, onRetry: (_e, _a, ms) => retries.push(ms) });
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.slice(0, 2)).toEqual([250, 500].slice(0, Math.min(2, retries.length)));
    expect((await again.exec({ argv: ['echo', 'back'] })).stdout).toBe('back\n');
    await again.close();
    await d.close();
  });
});
