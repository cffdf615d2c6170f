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
export const HA_MAIN = join(REPO, 'dist', 'cli.cjs');

/**
 * The number of changed steps ha-provision reports in its plain summary table
 * (`node  ok  changed  failed  skipped`, one row per node), or null when the
 * output has no such table.
 */
export function parseHaChanges(output: string): number | null {
  const lines = output.split('\n');
  const head = lines.findIndex((l) => /^node\s+ok\s+changed\s+failed\s+skipped\s*$/.test(l.trim()));
  if (head < 0) return null;
  let changed = 0;
  for (const l of lines.slice(head + 1)) {
    const m = /^\S+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/.exec(l.trim());
    if (!m) break;
    changed += Number(m[2]);
  }
  return changed;
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
      const rev = await run('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])
        .then((r) => r.stdout.trim())
        .catch(() => 'unknown');
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
