/**
 * Proves the test bed, over SSH only, as ha-provision will see it: real
 * systemd nodes that reach each other by name, an empty data disk whose
 * partitions appear as on a real server, and DRBD (real drbd-utils over the
 * bed's kernel stand-in) replicating a Primary's data to its peer.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed, type BedNode } from '../../docker/bed/testbed.js';
import { openSession, type Session } from '../../src/ssh/index.js';

let bed: Bed;
const sessions = new Map<string, Session>();

async function connect(node: BedNode): Promise<Session> {
  sessions
    .get(node.name)
    ?.close()
    .catch(() => undefined);
  const s = await openSession(
    { name: node.name, host: node.ssh.host, port: node.ssh.port, user: 'root', auth: { kind: 'key', privateKeyPath: node.ssh.privateKeyPath } },
    { hostKeys: { knownHostsPath: node.ssh.knownHostsPath, mode: 'strict' } },
  );
  sessions.set(node.name, s);
  return s;
}

/** Runs a shell line on a node; fails the test with its output when it exits non-zero. */
async function sh(name: string, line: string, timeoutMs = 120_000): Promise<string> {
  const s = sessions.get(name)!;
  const r = await s.exec({ argv: ['sh', '-c', line], timeoutMs });
  if (r.exitCode !== 0) throw new Error(`${name}: \`${line}\` exited ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const drbdRes = (b: Bed) => `resource r0 {
  protocol C;
  device /dev/drbd0;
  disk /dev/vdb1;
  meta-disk internal;
${b.nodes.map((n, i) => `  on ${n.name} {\n    node-id ${i};\n    address ${n.addresses.replication}:7788;\n  }`).join('\n')}
}
`;

describe('the test bed', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: ['bob', 'alice'], networks: [{ name: 'lan' }, { name: 'replication' }], diskSize: '256M' });
    for (const n of bed.nodes) await connect(n);
  });
  afterAll(async () => {
    for (const s of sessions.values()) await s.close().catch(() => undefined);
    await bed?.stop();
  });

  it('boots two nodes to a running systemd, reachable over SSH with a verified host key', async () => {
    for (const n of bed.nodes) {
      expect(await sh(n.name, 'systemctl is-system-running --wait || true')).toBe('running');
      expect(await sh(n.name, 'hostname')).toBe(n.name);
      expect(await sh(n.name, 'ps -o comm= -p 1')).toBe('systemd');
    }
  });

  it("publishes sshd on 127.0.0.1 only, never on the machine's other addresses", async () => {
    const { execFileSync } = await import('node:child_process');
    for (const n of bed.nodes) {
      const out = execFileSync('docker', ['port', n.containerId, '22/tcp'], { encoding: 'utf8' }).trim().split('\n');
      expect(out, n.name).toEqual([`127.0.0.1:${n.ssh.port}`]);
    }
  });

  it('gives each node keys for root and for a sudo user', async () => {
    const n = bed.node('bob');
    const ha = await openSession(
      { name: 'bob-ha', host: n.ssh.host, port: n.ssh.port, user: 'ha', auth: { kind: 'key', privateKeyPath: n.ssh.privateKeyPath } },
      { hostKeys: { knownHostsPath: n.ssh.knownHostsPath, mode: 'strict' } },
    );
    try {
      expect((await ha.exec({ argv: ['id', '-un'] })).stdout.trim()).toBe('ha');
      expect((await ha.exec({ argv: ['id', '-un'], sudo: true })).stdout.trim()).toBe('root');
    } finally {
      await ha.close();
    }
  });

  it('lets the nodes reach each other by name on both networks', async () => {
    expect(await sh('bob', 'getent hosts alice | cut -d" " -f1')).toBe(bed.node('alice').addresses.lan);
    await sh('bob', `ping -c1 -W2 alice >/dev/null && ping -c1 -W2 ${bed.node('alice').addresses.replication} >/dev/null`);
    await sh('alice', 'ping -c1 -W2 bob >/dev/null');
  });

  it('has an empty data disk on every node', async () => {
    for (const n of bed.nodes) {
      expect(await sh(n.name, 'test -b /dev/vdb && echo block')).toBe('block');
      expect(await sh(n.name, 'blockdev --getsize64 /dev/vdb')).toBe(String(256 * 1024 * 1024));
      expect(await sh(n.name, 'wipefs --no-act --noheadings /dev/vdb | wc -l')).toBe('0');
      expect(await sh(n.name, 'cmp -s -n 1048576 /dev/vdb /dev/zero && echo zero')).toBe('zero');
    }
  });

  it('shows partitions written by sfdisk as device nodes, as udev would', async () => {
    for (const n of bed.nodes) {
      await sh(n.name, "printf 'label: dos\\n,100MiB,L\\n,,L\\n' | sfdisk --quiet /dev/vdb");
      await until(
        `${n.name}: /dev/vdb1 and /dev/vdb2`,
        async () => ((await sh(n.name, 'test -b /dev/vdb1 && test -b /dev/vdb2 && echo yes || true')) === 'yes' ? true : undefined),
        10_000,
      );
      expect(Number(await sh(n.name, 'blockdev --getsize64 /dev/vdb1'))).toBe(100 * 1024 * 1024);
    }
  });

  it('runs real drbd-utils: create-md, up, primary --force, sync to UpToDate with the bytes copied', async () => {
    await Promise.all(
      bed.nodes.map((n) => sh(n.name, 'DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq drbd-utils >/dev/null', 300_000)),
    );
    for (const n of bed.nodes) {
      await sessions.get(n.name)!.writeFile('/etc/drbd.d/r0.res', drbdRes(bed));
      await sh(n.name, 'drbdadm create-md --max-peers=1 r0 </dev/null 2>&1');
      await sh(n.name, 'drbdadm up r0');
    }
    await until('both Connected and Inconsistent', async () => {
      const [b, a] = [await sh('bob', 'drbdadm cstate r0; drbdadm dstate r0'), await sh('alice', 'drbdadm cstate r0; drbdadm dstate r0')];
      return b.startsWith('Connected') && a.startsWith('Connected') && b.includes('Inconsistent/Inconsistent') ? true : undefined;
    });
    // Put known bytes on bob's backing partition data area before the sync.
    await sh('bob', 'drbdadm primary --force r0');
    await sh('bob', 'dd if=/dev/urandom of=/dev/drbd0 bs=1M count=8 oflag=direct status=none');
    await until(
      'alice UpToDate',
      async () => {
        const s = await sh('alice', 'drbdadm dstate r0');
        return s === 'UpToDate/UpToDate' ? true : undefined;
      },
      120_000,
    );
    // DRBD 9: `role` is the local role; the peer's is in `status`.
    expect(await sh('bob', 'drbdadm role r0')).toBe('Primary');
    expect(await sh('bob', 'drbdadm status r0')).toMatch(/alice role:Secondary\n\s+peer-disk:UpToDate/);
    const sum = async (name: string) => {
      const bytes = await sh(name, 'blockdev --getsize64 /dev/drbd0');
      return sh(name, `head -c ${bytes} /dev/vdb1 | sha256sum | cut -d" " -f1`);
    };
    // The data area of alice's backing partition equals bob's.
    await sh('bob', 'drbdadm secondary r0');
    const [b, a] = await Promise.all([sum('bob'), sum('alice')]);
    expect(a).toBe(b);
    expect(a).not.toBe(createHash('sha256').update(Buffer.alloc(0)).digest('hex'));
  });

  it('formats and mounts the DRBD device on the primary; the peer sees the data after a switch-over', async () => {
    await sh('bob', 'drbdadm primary r0 && mkfs.ext4 -q /dev/drbd0 && mkdir -p /mnt/r0 && mount /dev/drbd0 /mnt/r0');
    await sh('bob', 'echo "written on bob" > /mnt/r0/proof && sync && umount /mnt/r0 && drbdadm secondary r0');
    await sh('alice', 'drbdadm primary r0 && mkdir -p /mnt/r0 && mount /dev/drbd0 /mnt/r0');
    expect(await sh('alice', 'cat /mnt/r0/proof')).toBe('written on bob');
    await sh('alice', 'umount /mnt/r0 && drbdadm secondary r0');
  });

  it('loses the connection when the peer stops and reconnects when it comes back', async () => {
    await bed.node('alice').stop();
    await until('bob sees the peer gone', async () => {
      const c = await sh('bob', 'drbdadm cstate r0');
      return c === 'Connecting' ? c : undefined;
    });
    await bed.node('alice').start();
    await connect(bed.node('alice'));
    await sh('alice', 'drbdadm up r0');
    await until('Connected again', async () => {
      const c = await sh('bob', 'drbdadm cstate r0');
      return c === 'Connected' ? c : undefined;
    });
    expect(await sh('alice', 'drbdadm dstate r0')).toBe('UpToDate/UpToDate');
  });

  it('pauses, kills and restarts a node for fault tests', async () => {
    const alice = bed.node('alice');
    await alice.pause();
    await until('bob sees the paused peer gone', async () => ((await sh('bob', 'drbdadm cstate r0')) === 'Connecting' ? true : undefined));
    await alice.unpause();
    await until('Connected after unpause', async () => ((await sh('bob', 'drbdadm cstate r0')) === 'Connected' ? true : undefined));
    await alice.kill();
    await expect(sessions.get('alice')!.exec({ argv: ['true'], timeoutMs: 5_000 })).rejects.toThrow();
    await alice.start();
    await connect(alice);
    expect(await sh('alice', 'systemctl is-system-running --wait || true')).toBe('running');
    await sh('alice', 'drbdadm up r0');
    await until('Connected after a kill and a restart', async () => ((await sh('bob', 'drbdadm cstate r0')) === 'Connected' ? true : undefined));
  });
});
