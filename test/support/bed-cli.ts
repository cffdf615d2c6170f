/**
 * Shared by the test-bed integration tests (test/engine, test/storage,
 * test/cluster): the BUILT CLI (`node bin/ha-provision.js`, dist/) as a child
 * process, SSH to a bed's nodes as ha-provision reaches them (strict host
 * keys, the bed's key), and a bounded wait.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Bed } from '../../docker/bed/testbed.js';
import { openSession, type Session } from '../../src/ssh/index.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = `${ROOT}bin/ha-provision.js`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/ha-provision.js ARGS` to its end (`env`: added to this process's environment). */
export function cli(args: string[], cwd = ROOT, env?: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const opts = { cwd, maxBuffer: 64 << 20, timeout: 600_000, ...(env ? { env: { ...process.env, ...env } } : {}) };
    execFile(process.execPath, [BIN, ...args], opts, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
    });
  });
}

/** Parses `--json` stdout; fails with the whole output when it is not JSON. */
export function json<T>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`expected JSON on stdout (exit ${r.code})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

/** SSH sessions to a bed's nodes. */
export class BedShell {
  private readonly sessions = new Map<string, Session>();
  constructor(private readonly bed: Bed) {}

  async connect(name: string): Promise<void> {
    const n = this.bed.node(name);
    await this.sessions
      .get(name)
      ?.close()
      .catch(() => undefined);
    this.sessions.set(
      name,
      await openSession(
        { name, host: n.ssh.host, port: n.ssh.port, user: 'root', auth: { kind: 'key', privateKeyPath: n.ssh.privateKeyPath } },
        { hostKeys: { knownHostsPath: n.ssh.knownHostsPath, mode: 'strict' } },
      ),
    );
  }

  async connectAll(): Promise<void> {
    await Promise.all(this.bed.nodes.map((n) => this.connect(n.name)));
  }

  /** The open session to a node, for what a shell line cannot do (a command with secrets, a file write). */
  session(name: string): Session {
    const s = this.sessions.get(name);
    if (!s) throw new Error(`no session to ${name}`);
    return s;
  }

  async try(name: string, line: string, timeoutMs = 120_000): Promise<{ code: number; out: string; err: string }> {
    const s = this.sessions.get(name);
    if (!s) throw new Error(`no session to ${name}`);
    const r = await s.exec({ argv: ['sh', '-c', line], timeoutMs });
    return { code: r.exitCode, out: r.stdout.trim(), err: r.stderr.trim() };
  }

  /** Runs a shell line; throws with its output when it exits non-zero. */
  async sh(name: string, line: string, timeoutMs = 120_000): Promise<string> {
    const r = await this.try(name, line, timeoutMs);
    if (r.code !== 0) throw new Error(`${name}: \`${line}\` exited ${r.code}\n${r.out}\n${r.err}`);
    return r.out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.close().catch(() => undefined)));
    this.sessions.clear();
  }
}

export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
