/**
 * The CLI: argv -> library calls -> an exit code. Prints nothing itself
 * beyond what reporters write; never calls process.exit.
 *
 * Start-up matters (a no-change run is mostly start-up): this module imports
 * only argument parsing; each command imports what it needs when it runs
 * (./run-commands.ts for plan and apply, ./validate.ts, ./schema.ts), and
 * the step kinds a playbook uses are loaded when it is read.
 */
import type { InputError } from '../playbook/resolve.js';
import { lazyBuiltinRegistry } from '../steps/registry.js';
import { HELP, parseCli, UsageError, type Cli } from './args.js';
import { EXIT } from './exit-codes.js';

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Live view when stdout is a terminal (and not --json). */
  stdoutTTY?: NodeJS.WriteStream;
  /** Aborts like Ctrl-C. Without it, main listens for SIGINT itself. */
  signal?: AbortSignal;
  now?: () => Date;
  prompt?: (question: string) => Promise<string>;
}

function defaultIO(): CliIO {
  return {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    env: process.env,
    cwd: process.cwd(),
    ...(process.stdout.isTTY ? { stdoutTTY: process.stdout } : {}),
  };
}

export function formatInputError(e: InputError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.path ? `${e.path}: ` : ''}${e.message} [${e.code}]`;
}

export async function main(argv: string[], ioIn?: Partial<CliIO>): Promise<number> {
  const io: CliIO = { ...defaultIO(), ...ioIn };
  // step kinds are imported when a playbook names them (loadProject -> registry.prepare)
  const registry = lazyBuiltinRegistry();
  // validate and schema parse their own arguments (src/cli/validate.ts, schema.ts)
  if (argv[0] === 'validate' && !argv.includes('--help') && !argv.includes('-h')) {
    const vdeps = { registry, env: io.env, cwd: io.cwd };
    return (await import('./validate.js')).runValidate(argv.slice(1), { stdout: io.stdout, stderr: io.stderr }, vdeps);
  }
  if (argv[0] === 'schema' && !argv.includes('--help') && !argv.includes('-h')) {
    return (await import('./schema.js')).runSchema(argv.slice(1), { stdout: io.stdout, stderr: io.stderr }, { registry });
  }
  let cli: Cli;
  try {
    cli = parseCli(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`ha-provision: ${err.message}\n`);
      return EXIT.INVALID;
    }
    throw err;
  }
  try {
    switch (cli.cmd) {
      case 'help':
        io.stdout(HELP);
        return EXIT.OK;
      case 'version':
        io.stdout('ha-provision 0.1.0\n');
        return EXIT.OK;
      case 'validate':
      case 'schema':
        io.stdout(HELP);
        return EXIT.OK;
      case 'plan':
        return await (await import('./run-commands.js')).planCommand(cli.inventory, cli.playbook, cli.out, cli.json, cli.run, io, registry);
      case 'status':
        return await (await import('./status.js')).statusCommand(cli.inventory, { json: cli.json, watch: cli.watch, interval: cli.interval }, io, registry);
      case 'drill':
        return await (await import('./drill.js')).drillCommand(cli, io);
      case 'apply': {
        const run = await import('./run-commands.js');
        if (cli.dryRun) return await run.planCommand(cli.inventory!, cli.playbook, cli.out, cli.json, cli.run, io, registry);
        return await run.applyCommand(cli, io, registry);
      }
    }
  } catch (err) {
    io.stderr(`ha-provision: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.FAILED;
  }
}
