/**
 * Runs the CLI's main() in this process, with every TCP connection attempt
 * counted (net.Socket.prototype.connect is wrapped: a counted attempt fails
 * at once with ECONNREFUSED and never leaves the process). Used by the
 * broken-input corpus (test/unit/cli/broken-inputs.test.ts): invalid input
 * must be refused with nothing contacted.
 */
import net from 'node:net';
import { main } from '../../src/cli/main.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** TCP connection attempts made during the run. */
  connects: number;
}

let attempts = 0;
let installed = false;

/** Wraps net.Socket.prototype.connect once for the whole process. */
export function countConnects(): void {
  if (installed) return;
  installed = true;
  const original = net.Socket.prototype.connect;
  void original;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    attempts++;
    const err = Object.assign(new Error(`connection attempt refused by the test (${JSON.stringify(args[0])})`), { code: 'ECONNREFUSED' });
    process.nextTick(() => this.destroy(err));
    return this;
  } as typeof net.Socket.prototype.connect;
}

export function connectAttempts(): number {
  return attempts;
}

export async function runCli(argv: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CliRun> {
  countConnects();
  const before = attempts;
  let stdout = '';
  let stderr = '';
  const never = new AbortController();
  const code = await main(argv, {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    env,
    cwd,
    signal: never.signal,
    prompt: async (q) => {
      throw new Error(`the test answers no prompt (${q})`);
    },
  });
  return { code, stdout, stderr, connects: attempts - before };
}
