/**
 * One node's connection as the engine uses it: opened once, reused by every
 * step, reopened after a lost connection. Every command carries the node's
 * secrets (the transport masks them) and is reported as a `command` event.
 */
import type { ResolvedNode } from '../playbook/resolve.js';
import { NOT_IN_RUN, type Probe, type ProbeResult } from '../steps/contract.js';
import { maskSecrets, redactCibCredentials } from '../mask.js';
import type { Command, CommandResult, Session } from '../ssh/types.js';
import type { Emit } from './events.js';

export type Connect = (node: ResolvedNode) => Promise<Session>;

/**
 * Connections being opened at once, per run. A handshake costs CPU on both
 * ends (key exchange, host key and user key signatures, the server's fork):
 * 1000 at once on a 2-CPU controller starved each other past the 20 s connect
 * timeout (bench, N=1000: 796 of 1000 timed out); opened 64 at a time each
 * takes a fraction of a second, and the total is the same work.
 */
export const MAX_CONNECTING = 64;

/** `connect`, with at most `limit` connections being opened at once (the others wait their turn). */
export function gateConnect(connect: Connect, limit = MAX_CONNECTING): Connect {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (node) => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await connect(node);
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

const OUTPUT_LIMIT = 4096;

export class NodeLink {
  private current: Promise<Session> | undefined;
  private opened: Session | undefined;

  constructor(
    readonly node: ResolvedNode,
    private readonly connectFn: Connect,
    private readonly emit: Emit,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The open session (connecting on first use). */
  session(): Promise<Session> {
    if (this.opened && !this.opened.isAlive()) {
      // lost since last use (e.g. sshd restarted between steps): reconnect now
      void this.opened.close().catch(() => undefined);
      this.opened = undefined;
      this.current = undefined;
    }
    if (!this.current) {
      const started = this.now();
      const p = this.connectFn(this.node);
      this.current = p;
      p.then(
        (s) => {
          if (this.current === p) this.opened = s;
          this.emit({ type: 'node-connected', node: this.node.name, durationMs: Math.round(this.now() - started) });
        },
        () => {
          if (this.current === p) this.current = undefined;
        },
      );
    }
    return this.current;
  }

  /** Drop the session (after a lost connection); the next use reconnects. */
  async reset(): Promise<void> {
    const p = this.current;
    this.current = undefined;
    this.opened = undefined;
    if (p) await p.then((s) => s.close()).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.reset();
  }

  private mask(s: string): string {
    return redactCibCredentials(maskSecrets(s, this.node.secrets));
  }

  private report(step: string | undefined, phase: 'probe' | 'change' | 'verify', argv: readonly string[], r: CommandResult): void {
    this.emit({
      type: 'command',
      node: this.node.name,
      ...(step !== undefined ? { step } : {}),
      phase,
      argv: argv.map((a) => this.mask(a)),
      exitCode: r.exitCode,
      durationMs: r.durationMs,
      stdout: this.mask(r.stdout.slice(0, OUTPUT_LIMIT)),
      stderr: this.mask(r.stderr.slice(0, OUTPUT_LIMIT)),
    });
  }

  /**
   * Run read-only probes in ONE round trip. A command asked for twice (the
   * same argv, elevated or not: several steps read the same DRBD state or
   * file) runs once and each asker gets its result; read-only commands of one
   * batch run at the same moment anyway.
   */
  async probe(probes: readonly Probe[], phase: 'probe' | 'verify', step: string | undefined, signal?: AbortSignal): Promise<ProbeResult[]> {
    if (probes.length === 0) return [];
    const s = await this.session();
    const { unique, at } = distinctProbes(probes);
    // Facts must be the real output (a line holding a secret is compared as it is):
    // secrets are masked where results are reported, not in the results.
    const cmds = unique.map(probeCommand);
    const results = await s.execBatch(cmds, signal);
    results.forEach((r, i) => this.report(step, phase, unique[i]!.argv, r));
    return at.map((i) => ({ exitCode: results[i]!.exitCode, stdout: results[i]!.stdout, stderr: results[i]!.stderr }));
  }

  /**
   * Probes of several steps (a verification and the next step's facts) in ONE
   * round trip, each group told as its own step's commands.
   */
  async probeGroups(groups: readonly { probes: readonly Probe[]; phase: 'probe' | 'verify'; step: string }[], signal?: AbortSignal): Promise<ProbeResult[][]> {
    const all = groups.flatMap((g) => g.probes);
    if (all.length === 0) return groups.map(() => []);
    const s = await this.session();
    const { unique, at } = distinctProbes(all);
    const cmds = unique.map(probeCommand);
    const results = await s.execBatch(cmds, signal);
    // each command told once, under the first group that asked for it
    const told = new Set<number>();
    let k = 0;
    return groups.map((g) =>
      g.probes.map(() => {
        const i = at[k++]!;
        const r = results[i]!;
        if (!told.has(i)) {
          told.add(i);
          this.report(g.step, g.phase, unique[i]!.argv, r);
        }
        return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
      }),
    );
  }

  /**
   * A change command and then read-only probes, in ONE round trip (one shell
   * script: the probes run after the command has ended, whatever its exit).
   * Only for a node without secrets: the batch's output is masked as a whole.
   * The change is told as a command-start before it is sent and as a change
   * command after; the probes as their groups' commands.
   */
  async changeThenProbe(
    cmd: Omit<Command, 'secrets'>,
    step: string,
    groups: readonly { probes: readonly Probe[]; phase: 'probe' | 'verify'; step: string }[],
    signal?: AbortSignal,
    /** Tell the change as commands (an upload is not: its content is never logged). */
    tell = true,
  ): Promise<[CommandResult, ...ProbeResult[][]]> {
    const s = await this.session();
    const all = groups.flatMap((g) => g.probes);
    const { unique, at } = distinctProbes(all);
    const cmds: Command[] = [cmd, ...unique.map(probeCommand)];
    if (tell) this.emit({ type: 'command-start', node: this.node.name, step, argv: cmd.argv.map((a) => this.mask(a)) });
    const results = await s.execBatch(cmds, signal);
    const change = results[0]!;
    if (tell) this.report(step, 'change', cmd.argv, change);
    const told = new Set<number>();
    let k = 0;
    const probed = groups.map((g) =>
      g.probes.map(() => {
        const i = at[k++]!;
        const r = results[i + 1]!;
        if (!told.has(i)) {
          told.add(i);
          this.report(g.step, g.phase, unique[i]!.argv, r);
        }
        return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
      }),
    );
    return [change, ...probed];
  }

  async exec(cmd: Omit<Command, 'secrets'>, step: string, signal?: AbortSignal): Promise<CommandResult> {
    const s = await this.session();
    this.emit({ type: 'command-start', node: this.node.name, step, argv: cmd.argv.map((a) => this.mask(a)) });
    const r = await s.exec({ ...cmd, secrets: this.node.secrets }, signal);
    this.report(step, 'change', cmd.argv, r);
    return r;
  }

  async writeFile(path: string, content: string | Buffer, opts: { mode: number; owner: string; group: string; sudo: boolean }): Promise<void> {
    const s = await this.session();
    await s.writeFile(path, content, opts);
  }

  /**
   * A whole file of this node, for a `carry` to another node (run/step.ts).
   * Read as base64 (binary-safe); told as a command of `step` whose output is
   * replaced by the file's size: the content never reaches an event, a log
   * or the journal. Rejects (with the command's error) when it cannot be read.
   */
  async readFile(path: string, opts: { sudo: boolean }, step: string, signal?: AbortSignal): Promise<Buffer> {
    const s = await this.session();
    const argv = ['base64', '-w', '0', '--', path];
    this.emit({ type: 'command-start', node: this.node.name, step, argv: argv.map((a) => this.mask(a)) });
    const r = await s.exec({ argv, ...(opts.sudo ? { sudo: true } : {}), secrets: this.node.secrets }, signal);
    const content = r.exitCode === 0 ? Buffer.from(r.stdout.trim(), 'base64') : undefined;
    this.report(step, 'change', argv, { ...r, stdout: content ? `(${content.length} bytes read for a carry, not shown)` : '' });
    if (!content) throw new Error(`reading ${path} on ${this.node.name} failed (exit ${r.exitCode}): ${this.mask(r.stderr.trim())}`);
    return content;
  }
}

/** The links of a run by node name: a step reads and carries from other nodes through them. */
export type Peers = (node: string) => NodeLink | undefined;

/**
 * Probes of one step in one round trip per node they run on (contract.ts
 * Probe.node: most run on `link`'s own node; a probe on another node runs on
 * that node's link, at the same time). Results in the order of `probes`.
 */
export async function probeAcross(
  link: NodeLink,
  peers: Peers,
  probes: readonly Probe[],
  phase: 'probe' | 'verify',
  step: string | undefined,
  signal?: AbortSignal,
): Promise<ProbeResult[]> {
  const byNode = new Map<string, number[]>();
  probes.forEach((p, i) => {
    const n = p.node ?? link.node.name;
    byNode.set(n, [...(byNode.get(n) ?? []), i]);
  });
  const out: ProbeResult[] = new Array<ProbeResult>(probes.length);
  await Promise.all(
    [...byNode].map(async ([n, idx]) => {
      if (n !== link.node.name && !peers(n) && idx.every((i) => probes[i]!.optional)) {
        for (const i of idx) out[i] = NOT_IN_RUN;
        return;
      }
      const l = n === link.node.name ? link : peerOf(peers, n, link.node.name);
      const got = await l.probe(
        idx.map((i) => probes[i]!),
        phase,
        step,
        signal,
      );
      idx.forEach((i, k) => (out[i] = got[k]!));
    }),
  );
  return out;
}

/** The link of another node a step needs, or an error saying it is not in this run. */
export function peerOf(peers: Peers, name: string, from: string): NodeLink {
  const l = peers(name);
  if (!l) throw new Error(`a step on ${from} needs node ${name}, which is not in this run (--limit?)`);
  return l;
}

/** Whether any probe runs on another node than the step's own. */
export function hasRemote(probes: readonly Probe[]): boolean {
  return probes.some((p) => p.node !== undefined);
}

/** A probe as the command it runs: a read-only check. */
function probeCommand(p: Probe): Command {
  return { argv: p.argv, ...(p.sudo ? { sudo: true } : {}), check: true };
}

/** The distinct commands of `probes` (argv and elevation), and for each probe the index of its command. */
export function distinctProbes(probes: readonly Probe[]): { unique: Probe[]; at: number[] } {
  const index = new Map<string, number>();
  const unique: Probe[] = [];
  const at = probes.map((p) => {
    const key = JSON.stringify([p.argv, p.sudo === true]);
    let i = index.get(key);
    if (i === undefined) {
      i = unique.length;
      index.set(key, i);
      unique.push(p);
    }
    return i;
  });
  return { unique, at };
}
