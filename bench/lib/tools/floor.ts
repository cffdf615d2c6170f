/**
 * The floor (bench/floor.ts), compiled once to plain JavaScript with
 * TypeScript's transpiler and run with plain `node`, as ha-provision's
 * compiled CLI is: neither pays for a TypeScript loader at start-up.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { measure } from '../proc.js';
import { floorScript } from '../workload.js';
import { tail, ToolFailure, type Phase, type Tool, type ToolContext, type ToolRun } from './types.js';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const FLOOR_SRC = join(REPO, 'bench', 'floor.ts');

/** Compiles bench/floor.ts into node_modules/.cache (so `ssh2` resolves from the repo). */
export async function compileFloor(): Promise<string> {
  const src = await readFile(FLOOR_SRC, 'utf8');
  const out = join(REPO, 'node_modules', '.cache', 'ha-provision-bench', `floor-${createHash('sha256').update(src).digest('hex').slice(0, 12)}.mjs`);
  if (!existsSync(out)) {
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: FLOOR_SRC,
    }).outputText;
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, js);
  }
  return out;
}

export interface FloorSummary {
  hosts: number;
  steps: number;
  changed: number;
  failed: string[];
}

export function floorTool(): Tool {
  let configPath = '';
  let script = '';
  let expectSteps = 0;
  return {
    name: 'floor',
    version: async () => `ssh2 ${JSON.parse(await readFile(join(REPO, 'node_modules', 'ssh2', 'package.json'), 'utf8')).version}`,
    async prepare(ctx: ToolContext) {
      script = await compileFloor();
      const dir = join(ctx.workDir, 'floor');
      await mkdir(dir, { recursive: true });
      configPath = join(dir, 'config.json');
      expectSteps = ctx.hosts.length * ctx.workload.steps.length;
      const config = {
        knownHostsPath: ctx.knownHostsPath,
        hosts: ctx.hosts.map((h) => ({ name: h.name, host: h.host, port: h.port, user: h.user, privateKeyPath: h.privateKeyPath, script: floorScript(ctx.workload, h.root) })),
      };
      await writeFile(configPath, JSON.stringify(config));
    },
    async run(phase: Phase): Promise<ToolRun> {
      const m = await measure([process.execPath, script, configPath], { timeoutMs: 30 * 60_000 });
      let summary: FloorSummary | undefined;
      try {
        summary = JSON.parse(m.stdout.trim().split('\n').pop() ?? '') as FloorSummary;
      } catch {
        summary = undefined;
      }
      if (m.exitCode !== 0 || !summary || summary.failed.length > 0 || summary.steps !== expectSteps) {
        throw new ToolFailure(
          'floor',
          `floor ${phase} run failed (exit ${m.exitCode}, ${summary ? `${summary.steps}/${expectSteps} steps` : 'no summary'})`,
          tail(m.stdout + m.stderr),
        );
      }
      return { measured: m, reportedChanges: summary.changed };
    },
  };
}
