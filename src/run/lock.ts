/**
 * One run per inventory: <stateDir>/lock, holding who runs. It is created
 * with its content in one step (issue 12.6): the content goes to a private
 * temporary file which is then hard-linked to the lock's name (link(2)
 * fails with EEXIST when the name exists), so no run ever sees an empty or
 * half-written lock. A lock left by a dead process on this host is taken over (with a
 * message); any other is refused, naming the holder.
 */
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  runId: string;
}

export type LockResult = { ok: true; release: () => void; tookOver?: LockInfo } | { ok: false; holder: LockInfo | undefined; message: string };

export interface LockDeps {
  /** Whether a pid is alive on this host. */
  isAlive?: (pid: number) => boolean;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function describeLock(l: LockInfo): string {
  return `pid ${l.pid} on ${l.host}, run ${l.runId}, started ${l.startedAt}`;
}

export function acquireLock(stateDir: string, me: LockInfo, deps: LockDeps = {}): LockResult {
  const isAlive = deps.isAlive ?? pidAlive;
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, 'lock');
  let tookOver: LockInfo | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      createWithContent(path, JSON.stringify(me) + '\n');
      const release = () => {
        try {
          const cur = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
          if (cur.runId === me.runId) unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
      return tookOver ? { ok: true, release, tookOver } : { ok: true, release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: LockInfo | undefined;
    try {
      holder = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    } catch {
      holder = undefined;
    }
    if (!holder || typeof holder.pid !== 'number') {
      return { ok: false, holder: undefined, message: `${path} exists but cannot be read; if no run is going on, remove it` };
    }
    if (holder.host === me.host && !isAlive(holder.pid)) {
      tookOver = holder;
      try {
        unlinkSync(path);
      } catch {
        /* someone else took it over first: retry decides */
      }
      continue;
    }
    return { ok: false, holder, message: `another run holds the lock on this inventory: ${describeLock(holder)} (${path})` };
  }
  return { ok: false, holder: tookOver, message: `could not take over the stale lock ${path}` };
}

/** Creates `path` holding `content`, or throws EEXIST: never visible empty or partly written. */
function createWithContent(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    // no fsync: after a machine crash the holder's pid is dead anyway
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } finally {
    unlinkSync(tmp);
  }
}
