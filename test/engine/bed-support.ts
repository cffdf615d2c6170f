/**
 * Shared by test/engine/bed-*.test.ts: the BUILT CLI (`node bin/ha-provision.js`)
 * as a child process (run to the end, or SIGKILLed when the journal shows a
 * step started), a build that runs only when src/ is newer than dist/, and
 * SSH to test-bed nodes (strict host keys, the bed's key), as ha-provision
 * reaches them.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bed } from '../../docker/bed/testbed.js';
import { openSession, type Session } from '../../src/ssh/index.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin/ha-provision.js');

function files(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), ext) : e.name.endsWith(ext) ? [join(dir, e.name)] : [],
  );
}

/** `tsc -p tsconfig.json` unless every dist/ file is newer than every src/ file (tsc rewrites all outputs). */
export function ensureBuilt(): void {
  const src = Math.max(...files(join(ROOT, 'src'), '.ts').map((f) => statSync(f).mtimeMs));
  const distDir = join(ROOT, 'dist');
  const dist = existsSync(join(distDir, 'cli/main.js')) ? Math.min(...files(distDir, '.js').map((f) => statSync(f).mtimeMs)) : 0;
  if (dist > src) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to its end. */
export function cli(args: string[], cwd = ROOT): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { cwd, maxBuffer: 64 << 20, timeout: 600_000 }, (err, stdout, stderr) => {
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

export interface ReportChange {
  kind: 'exec' | 'upload' | 'refuse' | 'wait';
  argv?: string[];
  description?: string;
}
export interface ApplyReport {
  outcome?: string;
  steps: { node: string; step: string; outcome: string; message?: string; changes: ReportChange[] }[];
  unreachable: { node: string; error: string }[];
}

/** Every exec of an apply report, as `node: argv...`. */
export const execsOf = (r: ApplyReport): string[] =>
  r.steps.flatMap((s) => s.changes.flatMap((c) => (c.kind === 'exec' && c.argv ? [`${s.node}: ${c.argv.join(' ')}`] : [])));

export interface KilledRun {
  /** True when the signal was sent (the trigger fired before the CLI ended by itself). */
  sent: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The journal text this run wrote. */
  journal: string;
}

/**
 * Spawns `node bin/ha-provision.js ARGS` and SIGKILLs it as soon as the
 * journal (stateDir/journal.jsonl) shows step-start of `step` on some node,
 * after `then` (if given) resolved: e.g. "and the sync is seen running".
 */
export function killAtStep(args: string[], cwd: string, stateDir: string, step: string, then?: () => Promise<boolean>): Promise<KilledRun> {
  const journalPath = join(stateDir, 'journal.jsonl');
  const read = () => (existsSync(journalPath) ? readFileSync(journalPath, 'utf8') : '');
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let sent = false;
  let seen = false;
  let busy = false;
  let runId: string | undefined;
  const timer = setInterval(() => {
    if (sent || busy) return;
    const lines = read().split('\n').filter(Boolean).map((l) => {
      try {
        return JSON.parse(l) as { type: string; runId: string; step?: string };
      } catch {
        return undefined;
      }
    });
    // the journal starts with carried-over results of earlier runs: only this run's run-start counts
    runId ??= lines.find((e) => e?.type === 'run-start' && child.pid !== undefined && (e as { pid?: number }).pid === child.pid)?.runId;
    if (!runId) return;
    seen ||= lines.some((e) => e?.type === 'step-start' && e.runId === runId && e.step === step);
    if (!seen) return;
    if (!then) {
      sent = child.kill('SIGKILL');
      return;
    }
    busy = true;
    then().then(
      (go) => {
        busy = false;
        if (go && !sent) sent = child.kill('SIGKILL');
      },
      () => void (busy = false),
    );
  }, 2);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolve({ sent, code, signal, stdout, stderr, journal: read() });
    });
  });
}

/** SSH sessions to a bed's nodes. */
export class BedShell {
  private readonly sessions = new Map<string, Session>();
  constructor(private readonly bed: Bed) {}

  async connect(name: string): Promise<void> {
    const n = this.bed.node(name);
    await this.sessions.get(name)?.close().catch(() => undefined);
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
