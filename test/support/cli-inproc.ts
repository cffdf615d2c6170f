/**
 * Runs the CLI's main() in this process, with every TCP connection attempt
 * counted (net.Socket.prototype.connect is wrapped: a counted attempt fails
 * at once with ECONNREFUSED and never leaves the process). Used by the
 * broken-input corpus (test/unit/cli/broken-inputs.test.ts): invalid input
 * must be refused with nothing contacted. The wrapper is in place only
 * while main() runs: unit files share worker threads (vitest.config.ts), and
 * another file's real connections must not be refused or counted here.
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

/** Wraps net.Socket.prototype.connect until the returned function puts it back. */
function countConnects(): () => void {
  const original = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    attempts++;
    const err = Object.assign(new Error(`connection attempt refused by the test (${JSON.stringify(args[0])})`), { code: 'ECONNREFUSED' });
    process.nextTick(() => this.destroy(err));
    return this;
  } as typeof net.Socket.prototype.connect;
  return () => {
    net.Socket.prototype.connect = original;
  };
}

export async function runCli(argv: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const restore = countConnects();
  const before = attempts;
  let stdout = '';
  let stderr = '';
  const never = new AbortController();
  try {
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
  } finally {
    restore();
  }
}
