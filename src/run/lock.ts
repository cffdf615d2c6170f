/**
 * One run per inventory: <stateDir>/lock, holding who runs. It is created
 * with its content in one step (issue 12.6): the content goes to a private
 * temporary file which is then hard-linked to the lock's name (link(2)
 * fails with EEXIST when the name exists), so no run ever sees an empty or
 * half-written lock. A lock left by a dead process on this host is taken over (with a
 * message) by exactly one run, however many find it at once: under a takeover
 * marker (`lock.takeover`, created with O_EXCL), the stale lock is replaced
 * only if it still is the dead holder's, with rename(2): the lock's name never
 * disappears, so no other run can create a fresh lock in between and win
 * without having taken over (seen under load: the takeover's message was then
 * lost). Any other lock is refused, naming the holder.
 */
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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
  /** Tests: called when a stale lock was read, before taking it over (to force races). */
  pause?: (stage: 'stale') => void;
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
  const marker = `${path}.takeover`;
  let tookOver: LockInfo | undefined;
  for (let attempt = 0; attempt < 400; attempt++) {
    try {
      createWithContent(path, JSON.stringify(me) + '\n');
      const release = releaseOf(path, me);
      return tookOver ? { ok: true, release, tookOver } : { ok: true, release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readLock(path);
    if (holder === 'gone') continue; // released (or taken over) between our two calls: try again
    if (holder === undefined) return { ok: false, holder: undefined, message: `${path} exists but cannot be read; if no run is going on, remove it` };
    if (holder.host !== me.host || isAlive(holder.pid)) {
      return { ok: false, holder, message: `another run holds the lock on this inventory: ${describeLock(holder)} (${path})` };
    }
    deps.pause?.('stale');
    // A stale lock: taken over by one process at a time, under the marker (created
    // with O_EXCL). Under it, the lock is removed only if it still is the stale
    // holder's; then a new one is created with link() as always, so every holder
    // got its lock from a link() that no other process's link() could also win.
    const m = takeoverMarker(marker, me, isAlive);
    if (m === 'busy') {
      sleepMs(5); // another process is taking over right now: look again
      continue;
    }
    if (m !== 'mine') return { ok: false, holder, message: m };
    let replaced = false;
    try {
      const still = readLock(path);
      if (still !== 'gone' && still !== undefined && still.runId === holder.runId) {
        // replaced in one rename(): the lock never disappears, so no process can
        // create a fresh one in between (only the marker's holder replaces, and
        // link() needs the path absent)
        createWithContent(path, JSON.stringify(me) + '\n', true);
        tookOver = holder;
        replaced = true;
      }
    } finally {
      unlinkSync(marker);
    }
    if (replaced) return { ok: true, release: releaseOf(path, me), tookOver: tookOver! };
  }
  return { ok: false, holder: tookOver, message: `could not take over the stale lock ${path}: other runs kept taking it` };
}

function releaseOf(path: string, me: LockInfo): () => void {
  return () => {
    try {
      const cur = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
      if (cur.runId === me.runId) unlinkSync(path);
    } catch {
      /* already gone */
    }
  };
}

function readLock(path: string): LockInfo | 'gone' | undefined {
  try {
    const l = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return l !== null && typeof l === 'object' && typeof l.pid === 'number' ? l : undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : undefined;
  }
}

/**
 * The takeover marker: 'mine' (created), 'busy' (a live process holds it:
 * it is held only for the few system calls of a takeover), or why we stop:
 * a marker left by a process that died in the middle of a takeover is not
 * removed (removing it would open the same race again); the message says so.
 */
function takeoverMarker(marker: string, me: LockInfo, isAlive: (pid: number) => boolean): 'mine' | 'busy' | string {
  try {
    createWithContent(marker, JSON.stringify(me) + '\n');
    return 'mine';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const by = readLock(marker);
  if (by === 'gone') return 'busy';
  if (by !== undefined && (by.host !== me.host || isAlive(by.pid))) return 'busy';
  return `${marker} was left by a run that died while taking over a stale lock (${by !== undefined ? describeLock(by) : 'unreadable'}); if no run is going on, remove it`;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Creates `path` holding `content`, or throws EEXIST: never visible empty or partly written. */
function createWithContent(path: string, content: string, replace = false): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    // no fsync: after a machine crash the holder's pid is dead anyway
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  if (replace) {
    renameSync(tmp, path);
    return;
  }
  try {
    linkSync(tmp, path);
  } finally {
    unlinkSync(tmp);
  }
}
