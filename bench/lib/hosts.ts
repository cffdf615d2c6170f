/**
 * The hosts a bench runs against: N loopback sshd daemons (test/support/sshd.ts)
 * or the test-bed containers (docker/bed/testbed.ts). Each host has its own
 * root directory; the bench empties it before a converging run and takes a
 * snapshot of it (type, mode, owner, size, sha256, inode, mtime, ctime of
 * every entry) around each no-change run: any write, chmod or rename shows.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchHost } from './workload.js';
import PQueue from 'p-queue';

const run = promisify(execFile);

export type Mode = 'sshd' | 'bed';

/** relative path -> description; compare two with `diffSnapshots`. */
export type Snapshot = Map<string, { type: 'dir' | 'file' | 'other'; mode: number; sha256: string; identity: string; content?: string }>;

export interface HostSet {
  mode: Mode;
  hosts: BenchHost[];
  knownHostsPath: string;
  /** Login user's primary group (owner/group of the managed files). */
  group: string;
  reset(hosts: readonly BenchHost[]): Promise<void>;
  snapshot(hosts: readonly BenchHost[]): Promise<Snapshot[]>;
  stop(): Promise<void>;
}

export function hostName(i: number): string {
  return `h${String(i).padStart(3, '0')}`;
}

/** fn over items, at most `limit` at once (p-queue), results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const queue = new PQueue({ concurrency: Math.max(1, limit) });
  return Promise.all(items.map((item) => queue.add(() => fn(item))));
}

async function localSnapshot(root: string): Promise<Snapshot> {
  const snap: Snapshot = new Map();
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(root, rel)).catch(() => [] as string[]);
    for (const name of entries.sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(root, r));
      const identity = `${st.uid}:${st.gid} ${st.size} ino=${st.ino} mtime=${st.mtimeMs} ctime=${st.ctimeMs}`;
      if (st.isDirectory()) {
        snap.set(r, { type: 'dir', mode: st.mode & 0o7777, sha256: '', identity });
        await walk(r);
      } else if (st.isFile()) {
        const content = await readFile(join(root, r));
        snap.set(r, { type: 'file', mode: st.mode & 0o7777, sha256: createHash('sha256').update(content).digest('hex'), identity, content: content.toString() });
      } else snap.set(r, { type: 'other', mode: st.mode & 0o7777, sha256: '', identity });
    }
  };
  await walk('');
  return snap;
}

/** Differences between two snapshots of one host, as short strings (empty: identical). */
export function diffSnapshots(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const [p, a] of after) {
    const b = before.get(p);
    if (!b) out.push(`+ ${p}`);
    else if (b.type !== a.type || b.mode !== a.mode || b.sha256 !== a.sha256 || b.identity !== a.identity) out.push(`~ ${p} (${b.identity} -> ${a.identity})`);
  }
  for (const p of before.keys()) if (!after.has(p)) out.push(`- ${p}`);
  return out;
}

async function primaryGroup(): Promise<string> {
  const { stdout } = await run('id', ['-gn']);
  return stdout.trim();
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A run of `count` consecutive free ports below Linux's ephemeral range
 * (32768-60999). Asking the harness for ports one by one (port 0) can hand
 * out the same port twice when asked concurrently: two "hosts" then share one
 * sshd. Consecutive fixed ports cannot collide with each other.
 */
export async function freePortRange(count: number, from = 20000, to = 32000): Promise<number> {
  for (let base = from + Math.floor(Math.random() * 50) * 100; base + count < to; base += 100 + count) {
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports between ${from} and ${to}`);
}

export async function startSshdHosts(count: number): Promise<HostSet> {
  const { startSshd } = await import('../../test/support/sshd.js');
  const harness = await startSshd({ count, basePort: await freePortRange(count) });
  const ports = new Set(harness.hosts.map((h) => h.port));
  if (ports.size !== count) {
    await harness.stop();
    throw new Error(`sshd harness gave ${count} hosts only ${ports.size} distinct ports`);
  }
  const user = harness.user;
  const hosts = harness.hosts.map<BenchHost>((h) => ({
    name: hostName(h.index),
    host: h.host,
    port: h.port,
    user,
    privateKeyPath: harness.clientKeyPath,
    root: h.root,
  }));
  return {
    mode: 'sshd',
    hosts,
    knownHostsPath: harness.knownHostsPath,
    group: await primaryGroup(),
    reset: async (hs) => {
      await mapLimit(hs, 16, async (h) => {
        await rm(h.root, { recursive: true, force: true });
        await mkdir(h.root, { recursive: true });
      });
    },
    snapshot: (hs) => mapLimit(hs, 16, (h) => localSnapshot(h.root)),
    stop: () => harness.stop(),
  };
}

const BED_ROOT = '/srv/bench';

/** find(1) + sha256sum inside a container; same fields as localSnapshot. */
async function bedSnapshot(containerId: string): Promise<Snapshot> {
  const script = `cd ${BED_ROOT} 2>/dev/null || exit 0; find . -mindepth 1 -printf '%P\\t%y\\t%m\\t%U:%G %s ino=%i mtime=%T@ ctime=%C@\\n'; echo ---; find . -type f -exec sha256sum {} +`;
  const { stdout } = await run('docker', ['exec', containerId, 'sh', '-c', script], { maxBuffer: 64 << 20 });
  const [meta = '', sums = ''] = stdout.split('\n---\n');
  const hashes = new Map<string, string>();
  for (const l of sums.split('\n').filter(Boolean)) {
    const m = /^([0-9a-f]{64})\s+\.\/(.*)$/.exec(l);
    if (m) hashes.set(m[2]!, m[1]!);
  }
  const snap: Snapshot = new Map();
  for (const l of meta.split('\n').filter(Boolean)) {
    const [p = '', y = '', m = '0', identity = ''] = l.split('\t');
    const type = y === 'd' ? 'dir' : y === 'f' ? 'file' : 'other';
    snap.set(p, { type, mode: parseInt(m, 8), sha256: hashes.get(p) ?? '', identity });
  }
  return snap;
}

export async function startBedHosts(count: number): Promise<HostSet> {
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  const { startBed } = await import('../../docker/bed/testbed.js');
  const names = Array.from({ length: count }, (_, i) => hostName(i));
  const bed = await startBed({ nodes: names });
  const byName = new Map(bed.nodes.map((n) => [n.name, n]));
  const hosts = bed.nodes.map<BenchHost>((n) => ({
    name: n.name,
    host: n.ssh.host,
    port: n.ssh.port,
    user: n.ssh.username,
    privateKeyPath: n.ssh.privateKeyPath,
    root: BED_ROOT,
  }));
  const container = (h: BenchHost) => {
    const n = byName.get(h.name);
    if (!n) throw new Error(`bench: no bed node ${h.name}`);
    return n.containerId;
  };
  return {
    mode: 'bed',
    hosts,
    knownHostsPath: bed.knownHostsPath,
    group: 'root',
    reset: async (hs) => {
      await mapLimit(hs, 8, (h) => run('docker', ['exec', container(h), 'sh', '-c', `rm -rf ${BED_ROOT} && mkdir -p ${BED_ROOT}`]));
    },
    snapshot: (hs) => mapLimit(hs, 8, (h) => bedSnapshot(container(h))),
    stop: () => bed.stop(),
  };
}

export function startHosts(mode: Mode, count: number): Promise<HostSet> {
  switch (mode) {
    case 'sshd':
      return startSshdHosts(count);
    case 'bed':
      return startBedHosts(count);
    default: {
      const never: never = mode;
      throw new Error(`unknown mode ${JSON.stringify(never)}`);
    }
  }
}
