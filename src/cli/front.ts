/**
 * Adapter to helper "front"'s validate/schema commands (src/cli/validate.ts,
 * src/cli/schema.ts). Until those land, minimal versions live here.
 */
import { resolve } from 'node:path';
import { loadProject } from '../playbook/resolve.js';
import type { StepKinds } from '../steps/registry.js';
import type { Cli } from './args.js';
import { EXIT } from './exit-codes.js';

interface IO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
}

export async function runValidateCommand(cli: Extract<Cli, { cmd: 'validate' }>, io: IO, registry: StepKinds): Promise<number> {
  const r = await loadProject({
    inventoryPath: resolve(io.cwd, cli.inventory),
    ...(cli.playbook !== undefined ? { playbookPath: resolve(io.cwd, cli.playbook) } : {}),
    registry,
    env: io.env,
    secrets: 'skip',
  });
  if (cli.json) {
    io.stdout(JSON.stringify(r.ok ? { ok: true, errors: [] } : { ok: false, errors: r.errors }, null, 2) + '\n');
    return r.ok ? EXIT.OK : EXIT.INVALID;
  }
  if (r.ok) {
    io.stdout(`${cli.inventory}: ok (${r.project.nodes.length} nodes, ${r.project.steps.length} steps)\n`);
    return EXIT.OK;
  }
  for (const e of r.errors) io.stderr(`${e.file}:${e.line}:${e.column}: ${e.path ? `${e.path}: ` : ''}${e.message} [${e.code}]\n`);
  return EXIT.INVALID;
}

export async function runSchemaCommand(_cli: Extract<Cli, { cmd: 'schema' }>, io: IO, _registry: StepKinds): Promise<number> {
  io.stderr('schema: not available yet\n');
  return EXIT.FAILED;
}
