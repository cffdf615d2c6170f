/**
 * Cleanup of test-bed containers, networks and loop devices.
 *
 * Ryuk cannot run here (its image cannot be pulled), so every bed resource is
 * labelled with its run id and the pid of the process that owns it. A bed is
 * removed by its owner's `bed.stop()`, by an exit/signal hook of the owning
 * process, and, as a last resort for a process that was SIGKILLed, by
 * `reapOrphans()` (called from the test suite's global setup), which removes
 * every bed whose owner pid no longer runs. Beds started with `keep` (the lab)
 * are owned by nobody and removed only by `docker/lab.sh --down`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const LABEL_RUN = 'org.ha-provision.bed';
export const LABEL_OWNER = 'org.ha-provision.owner-pid';

interface BedContainer { id: string; run: string; owner: string; loop?: string; disk?: string }

function parseContainers(out: string): BedContainer[] {
  return out.split('\n').filter(Boolean).map((line) => {
    const [id, labelStr] = line.split('\t');
    const labels = Object.fromEntries((labelStr ?? '').split(',').map((kv) => {
      const i = kv.indexOf('=');
      return [kv.slice(0, i), kv.slice(i + 1)];
    }));
    return { id: id!, run: labels[LABEL_RUN] ?? '', owner: labels[LABEL_OWNER] ?? '',
      loop: labels['org.ha-provision.loop'], disk: labels['org.ha-provision.disk'] };
  });
}

const LIST_ARGS = ['ps', '-a', '--filter', `label=${LABEL_RUN}`, '--format', '{{.ID}}\t{{.Labels}}'];

function removalCommands(containers: BedContainer[], runIds: Set<string>): string[][] {
  const cmds: string[][] = [];
  const mine = containers.filter((c) => runIds.has(c.run));
  if (mine.length) cmds.push(['docker', 'rm', '-f', '-v', ...mine.map((c) => c.id)]);
  for (const c of mine) if (c.loop && c.disk) cmds.push(['sh', '-c', `losetup -j '${c.disk}' | grep -q '^${c.loop}:' && losetup -d '${c.loop}'; rm -f '${c.disk}'`]);
  for (const r of runIds) cmds.push(['sh', '-c', `docker network ls -q --filter label=${LABEL_RUN}=${r} | xargs -r docker network rm >/dev/null`]);
  return cmds;
}

/** Removes everything of one bed (containers, their loop devices and disk files, networks). */
export async function removeRun(runId: string): Promise<void> {
  const containers = parseContainers((await run('docker', LIST_ARGS)).stdout);
  for (const [cmd, ...args] of removalCommands(containers, new Set([runId]))) {
    await run(cmd!, args).catch(() => undefined);
  }
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Removes beds whose owning process is gone (a SIGKILLed test run). Returns the run ids removed. */
export async function reapOrphans(): Promise<string[]> {
  const containers = parseContainers((await run('docker', LIST_ARGS)).stdout);
  const orphans = new Set(containers.filter((c) => c.owner !== 'keep' && !pidAlive(Number(c.owner))).map((c) => c.run));
  for (const [cmd, ...args] of removalCommands(containers, orphans)) await run(cmd!, args).catch(() => undefined);
  return [...orphans];
}

/** Removes beds of a given owner tag ('keep' for the lab). */
export async function removeOwnedBy(owner: string): Promise<string[]> {
  const containers = parseContainers((await run('docker', LIST_ARGS)).stdout);
  const runs = new Set(containers.filter((c) => c.owner === owner).map((c) => c.run));
  for (const [cmd, ...args] of removalCommands(containers, runs)) await run(cmd!, args).catch(() => undefined);
  return [...runs];
}

const hooked = new Set<string>();
/** Synchronous removal on exit and on SIGINT/SIGTERM, for beds a test forgot or could not stop. */
export function registerExitCleanup(runId: string): void {
  if (hooked.size === 0) {
    const cleanup = () => {
      if (hooked.size === 0) return;
      try {
        const containers = parseContainers(execFileSync('docker', LIST_ARGS, { encoding: 'utf8' }));
        for (const [cmd, ...args] of removalCommands(containers, hooked)) {
          try { execFileSync(cmd!, args, { stdio: 'ignore' }); } catch { /* best effort */ }
        }
      } catch { /* docker gone: reapOrphans will do it next time */ }
      hooked.clear();
    };
    process.once('exit', cleanup);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => { cleanup(); process.kill(process.pid, sig); });
    }
  }
  hooked.add(runId);
}

export function forgetExitCleanup(runId: string): void { hooked.delete(runId); }
