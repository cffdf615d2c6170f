/**
 * Shared by the storage tests: the built CLI as a child process, SSH to the
 * bed's nodes (as ha-provision reaches them), and small waits.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Bed, BedNode } from '../../docker/bed/testbed.js';
import { openSession, type Session } from '../../src/ssh/index.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = `${ROOT}bin/ha-provision.js`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/ha-provision.js ARGS` (the built CLI, dist/). */
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

export interface ApplyReport {
  outcome?: string;
  summary?: Record<string, { ok: number; changed: number; failed: number; skipped: number }>;
  steps: { node: string; step: string; outcome: string; message?: string; changes: ({ kind: 'exec'; argv: string[]; description: string } | { kind: 'upload'; path: string; description: string } | { kind: 'refuse'; reason: string } | { kind: 'wait'; description: string })[] }[];
  unreachable: { node: string; error: string }[];
}

export interface PlanDoc {
  nodes: { name: string; error?: string; steps: { id: string; kind: string; status: string; reason?: string; changes: { kind: string; argv?: string[]; reason?: string; description?: string }[] }[] }[];
}

/** SSH sessions to the bed's nodes (strict host keys, the bed's key). */
export class Nodes {
  private readonly sessions = new Map<string, Session>();
  constructor(private readonly bed: Bed) {}

  async connect(name: string): Promise<void> {
    const node: BedNode = this.bed.node(name);
    await this.sessions.get(name)?.close().catch(() => undefined);
    const s = await openSession(
      { name, host: node.ssh.host, port: node.ssh.port, user: 'root', auth: { kind: 'key', privateKeyPath: node.ssh.privateKeyPath } },
      { hostKeys: { knownHostsPath: node.ssh.knownHostsPath, mode: 'strict' } },
    );
    this.sessions.set(name, s);
  }

  async connectAll(): Promise<void> {
    await Promise.all(this.bed.nodes.map((n) => this.connect(n.name)));
  }

  /** Exit code and output of a shell line on a node. */
  async try(name: string, line: string, timeoutMs = 120_000): Promise<{ code: number; out: string; err: string }> {
    const s = this.sessions.get(name);
    if (!s) throw new Error(`no session to ${name}`);
    const r = await s.exec({ argv: ['sh', '-c', line], timeoutMs });
    return { code: r.exitCode, out: r.stdout.trim(), err: r.stderr.trim() };
  }

  /** Runs a shell line on a node; throws with its output when it exits non-zero. */
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
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** `node/step` keys of the plan's steps with these statuses. */
export function planKeys(plan: PlanDoc, statuses: readonly string[]): string[] {
  return plan.nodes.flatMap((n) => n.steps.filter((s) => statuses.includes(s.status)).map((s) => `${n.name}/${s.id}`)).sort();
}

/** `node/step` keys of the apply report's steps with this outcome. */
export function applyKeys(report: ApplyReport, outcome: string): string[] {
  return report.steps.filter((s) => s.outcome === outcome).map((s) => `${s.node}/${s.step}`).sort();
}
