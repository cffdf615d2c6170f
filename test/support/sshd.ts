/**
 * Loopback OpenSSH sshd harness for tests and benchmarks.
 *
 * startSshd({ count }) starts `count` real `/usr/sbin/sshd -D` processes on
 * 127.0.0.1 (one port each), each with its own host key, its own directory
 * ($TMP/hapv-sshd-XXXX/host-NN/root for whatever a test changes) and a neutral
 * HOME (sshd_config SetEnv) so the login user's rc files (root's pyenv init,
 * +90 ms) do not run. One generated ed25519 client key logs in as the current
 * user. A known_hosts file with every host key is written too.
 *
 * Needs openssh-server (`apt-get install -y openssh-server`; the system sshd
 * service does not need to run). Fails loudly if /usr/sbin/sshd is missing.
 * Works for count up to a few hundred (each sshd is one small process).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Endpoint } from '../../src/ssh/types.js';
import PQueue from 'p-queue';

const run = promisify(execFile);
export const SSHD = '/usr/sbin/sshd';

export interface SshdHost {
  index: number;
  host: '127.0.0.1';
  port: number;
  /** Directory for what a test changes on this "node". */
  root: string;
  /** The HOME the sshd gives sessions (empty unless a test writes rc files in it). */
  home: string;
  /** `ssh-ed25519 AAAA...` */
  hostKeyPub: string;
}

export interface SshdHarness {
  dir: string;
  user: string;
  hosts: SshdHost[];
  clientKeyPath: string;
  knownHostsPath: string;
  endpoint(index: number, overrides?: Partial<Endpoint>): Endpoint;
  /** Restarts one sshd (same port), optionally with a new host key (known_hosts is NOT updated). */
  restart(index: number, opts?: { newHostKey?: boolean }): Promise<void>;
  /**
   * Creates a throw-away local user that logs in with the client key and may
   * sudo with a password (for the sudo -S path). Removed again by stop() or at
   * process exit. Changes /etc/passwd and /etc/sudoers.d: call only in tests.
   */
  addSudoUser(password: string): Promise<string>;
  /** Kills one sshd and every connection it serves (a node going away). */
  kill(index: number): Promise<void>;
  stop(): Promise<void>;
}

interface Running {
  host: SshdHost;
  dir: string;
  config: string;
  proc: ChildProcess | null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function keygen(path: string, comment: string): Promise<string> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return (await readFile(`${path}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
}

/** fn over items, at most `limit` at once (p-queue), results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const queue = new PQueue({ concurrency: Math.max(1, limit) });
  return Promise.all(items.map((item) => queue.add(() => fn(item))));
}

/** Every descendant of pid (connection sshds and the commands they run), deepest last. */
async function descendantsOf(pid: number): Promise<number[]> {
  let kids: number[] = [];
  try {
    const { stdout } = await run('pgrep', ['-P', String(pid)]);
    kids = stdout.split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
  const deeper = await Promise.all(kids.map(descendantsOf));
  return [...kids, ...deeper.flat()];
}

function sshdConfig(o: { port: number; dir: string; home: string; authorizedKeys: string }): string {
  return [
    `ListenAddress 127.0.0.1:${o.port}`,
    `HostKey ${o.dir}/ssh_host_ed25519_key`,
    `PidFile ${o.dir}/sshd.pid`,
    `AuthorizedKeysFile ${o.authorizedKeys}`,
    'StrictModes no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PrintMotd no',
    'UseDNS no',
    'LogLevel ERROR',
    'MaxStartups 200:30:400',
    'MaxSessions 200',
    `SetEnv HOME=${o.home}`,
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

export async function startSshd(opts: { count: number; basePort?: number }): Promise<SshdHarness> {
  if (!existsSync(SSHD)) {
    throw new Error(`${SSHD} is missing: the loopback sshd harness needs OpenSSH's server. Install it with: apt-get install -y openssh-server (the system service need not run).`);
  }
  if (!Number.isInteger(opts.count) || opts.count < 1) throw new Error(`startSshd: count must be an integer >= 1, got ${opts.count}`);
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  const dir = await mkdtemp(join(tmpdir(), 'hapv-sshd-'));
  const clientKeyPath = join(dir, 'client_ed25519');
  const clientPub = await keygen(clientKeyPath, 'hapv-harness-client');
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, `${clientPub}\n`, { mode: 0o600 });
  const knownHostsPath = join(dir, 'known_hosts');
  const user = userInfo().username;

  const running: Running[] = [];
  const users: string[] = [];
  const removeUsersSync = () => {
    for (const name of users.splice(0)) {
      rmSync(`/etc/sudoers.d/${name}`, { force: true });
      try {
        execFileSync('userdel', [name], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  };
  const onExit = () => {
    for (const r of running) r.proc?.kill('SIGKILL');
    removeUsersSync();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const launch = async (r: Running): Promise<void> => {
    const proc = spawn(SSHD, ['-D', '-f', r.config, '-E', join(r.dir, 'sshd.log')], { stdio: 'ignore' });
    r.proc = proc;
    let exited: string | null = null;
    proc.once('exit', (code, sig) => {
      exited = `exited with ${code ?? sig}`;
    });
    const deadline = Date.now() + 15_000;
    while (!(await canConnect(r.host.port))) {
      if (exited !== null || Date.now() > deadline) {
        const log = await readFile(join(r.dir, 'sshd.log'), 'utf8').catch(() => '');
        throw new Error(`sshd for host ${r.host.index} on port ${r.host.port} did not start (${exited ?? 'timeout'}): ${log.trim()}`);
      }
      await new Promise((res) => setTimeout(res, 10));
    }
  };

  const stopOne = async (r: Running): Promise<void> => {
    const proc = r.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const kids = proc.pid === undefined ? [] : await descendantsOf(proc.pid);
    const gone = new Promise((res) => proc.once('exit', res));
    proc.kill('SIGKILL');
    for (const pid of kids) {
      try {
        process.kill(pid, 'SIGKILL'); // connection sshds and their commands: all started by our listener
      } catch {
        /* already gone */
      }
    }
    await gone;
    r.proc = null;
  };

  try {
    const indexes = Array.from({ length: opts.count }, (_, i) => i);
    const prepared = await mapLimit(indexes, 8, async (index) => {
      const hostDir = join(dir, `host-${String(index).padStart(2, '0')}`);
      const root = join(hostDir, 'root');
      const home = join(hostDir, 'home');
      await mkdir(root, { recursive: true });
      await mkdir(home, { recursive: true });
      const hostKeyPub = await keygen(join(hostDir, 'ssh_host_ed25519_key'), `hapv-host-${index}`);
      const port = opts.basePort === undefined ? await freePort() : opts.basePort + index;
      const config = join(hostDir, 'sshd_config');
      await writeFile(config, sshdConfig({ port, dir: hostDir, home, authorizedKeys }));
      const r: Running = { host: { index, host: '127.0.0.1', port, root, home, hostKeyPub }, dir: hostDir, config, proc: null };
      running.push(r);
      return r;
    });
    await writeFile(knownHostsPath, prepared.map((r) => `[127.0.0.1]:${r.host.port} ${r.host.hostKeyPub}\n`).join(''), { mode: 0o600 });
    await mapLimit(prepared, 16, launch);

    const byIndex = (i: number): Running => {
      const r = prepared[i];
      if (!r) throw new Error(`no sshd host ${i} (count ${opts.count})`);
      return r;
    };
    return {
      dir,
      user,
      hosts: prepared.map((r) => r.host),
      clientKeyPath,
      knownHostsPath,
      endpoint: (i, overrides = {}) => ({
        name: `host-${String(i).padStart(2, '0')}`,
        host: '127.0.0.1',
        port: byIndex(i).host.port,
        user,
        auth: { kind: 'key', privateKeyPath: clientKeyPath },
        ...overrides,
      }),
      restart: async (i, o = {}) => {
        const r = byIndex(i);
        await stopOne(r);
        if (o.newHostKey === true) {
          await rm(join(r.dir, 'ssh_host_ed25519_key'), { force: true });
          await rm(join(r.dir, 'ssh_host_ed25519_key.pub'), { force: true });
          r.host.hostKeyPub = await keygen(join(r.dir, 'ssh_host_ed25519_key'), `hapv-host-${i}-new`);
        }
        await launch(r);
      },
      addSudoUser: async (password) => {
        if (userInfo().uid !== 0) throw new Error('addSudoUser needs root');
        const name = `hapv${process.pid % 100000}u${users.length}`;
        const home = join(dir, `home-${name}`);
        await mkdir(home, { recursive: true });
        await run('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/bin/bash', name]);
        users.push(name);
        await new Promise<void>((resolve, reject) => {
          const p = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'inherit'] });
          p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd exited ${code}`))));
          p.stdin.end(`${name}:${password}\n`);
        });
        // sshd reads AuthorizedKeysFile as the user: let it through the (0700) harness directory.
        await chmod(dir, 0o711);
        await chmod(authorizedKeys, 0o644);
        await writeFile(`/etc/sudoers.d/${name}`, `${name} ALL=(ALL:ALL) ALL\n`, { mode: 0o440 });
        return name;
      },
      kill: (i) => stopOne(byIndex(i)),
      stop: async () => {
        await Promise.all(prepared.map(stopOne));
        removeUsersSync();
        process.removeListener('exit', onExit);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(running.map(stopOne)).catch(() => undefined);
    process.removeListener('exit', onExit);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
