/**
 * ha-provision itself, as a user runs it: the compiled CLI (`npm run build`
 * first), `node bin/ha-provision.js apply INVENTORY PLAYBOOK`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { measure } from '../proc.js';
import { haInventory, haPlaybook } from '../workload.js';
import { REPO } from './floor.js';
import { tail, ToolFailure, type Phase, type Tool, type ToolContext, type ToolRun } from './types.js';

const run = promisify(execFile);
export const HA_BIN = join(REPO, 'bin', 'ha-provision.js');
export const HA_MAIN = join(REPO, 'dist', 'cli', 'main.js');

/**
 * The number of changes ha-provision reports, read from its summary line, or
 * null when no summary can be read. Accepts "N changed" (as in
 * "ok=10 changed=0" or "10 ok, 0 changed").
 */
export function parseHaChanges(output: string): number | null {
  const all = [...output.matchAll(/\bchanged[=:]\s*(\d+)\b|\b(\d+)\s+changed\b/gi)];
  const last = all.at(-1);
  if (!last) return null;
  return Number(last[1] ?? last[2]);
}

export function haTool(): Tool {
  let inventory = '';
  let playbook = '';
  let stateDir = '';
  return {
    name: 'ha-provision',
    async version() {
      if (!existsSync(HA_MAIN)) throw new Error(`${HA_MAIN} is missing: run \`npm run build\` first (the bench measures the compiled CLI)`);
      const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
      const rev = await run('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']).then((r) => r.stdout.trim()).catch(() => 'unknown');
      return `ha-provision ${pkg.version} (${rev})`;
    },
    async prepare(ctx: ToolContext) {
      const dir = join(ctx.workDir, 'ha');
      await mkdir(dir, { recursive: true });
      inventory = join(dir, 'inventory.yaml');
      playbook = join(dir, 'playbook.yaml');
      stateDir = join(dir, 'state');
      await writeFile(playbook, haPlaybook(ctx.workload));
      await writeFile(inventory, haInventory(ctx.hosts, { knownHostsPath: ctx.knownHostsPath, playbook: 'playbook.yaml', stateDir }));
    },
    async run(phase: Phase): Promise<ToolRun> {
      // A converging run starts from bare hosts: no journal of an earlier run either.
      if (phase === 'converge') await rm(stateDir, { recursive: true, force: true });
      const m = await measure([process.execPath, HA_BIN, 'apply', inventory, playbook], { timeoutMs: 30 * 60_000 });
      if (m.exitCode !== 0) {
        throw new ToolFailure('ha-provision', `ha-provision apply (${phase}) exited ${m.exitCode}`, tail(m.stdout + m.stderr));
      }
      return { measured: m, reportedChanges: parseHaChanges(m.stdout + m.stderr) };
    },
  };
}
