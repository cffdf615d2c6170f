/**
 * The test bed: real Debian systemd containers with a real sshd, each with an
 * empty data disk (a host loop device seen inside as /dev/vdb), on private
 * Docker networks, started with testcontainers 11 (Ryuk off: no registry can be
 * reached, so cleanup is ours; see ./reaper.ts).
 *
 *   const bed = await startBed({ nodes: ['bob', 'alice'] });
 *   bed.node('bob').ssh   // { host: '127.0.0.1', port, username: 'root', privateKeyPath, knownHostsPath }
 *   await bed.node('alice').stop(); await bed.node('alice').start();
 *   await bed.stop();
 *
 * With `hypervisor: { password }` the bed also runs `hv`, a fence device for
 * fence_virsh on the first network (docker/hypervisor/README.md):
 *   bed.hypervisor  // { name: 'hv', address, user: 'fence', domains, knownHosts, containerId }
 *
 * Tests reach nodes over SSH only (as ha-provision does); `docker exec` is for
 * the fixture's own bookkeeping (host keys, readiness).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { fifthAddress, startHypervisor, type Hypervisor, type HypervisorOptions, type StartedHypervisor } from '../hypervisor/hypervisor.js';
import { bedImage } from './image.js';
import { forgetExitCleanup, LABEL_OWNER, LABEL_RUN, registerExitCleanup, removeRun } from './reaper.js';

const run = promisify(execFile);

/**
 * A boot as slow as a small VM's, for the cluster stack: a systemd drop-in
 * that holds corosync's start until the node has been up 20 s (the age of
 * its PID 1; a later start, e.g. by apply, is not delayed). A real server
 * takes a while to come back from a power cycle; a bed container boots in
 * about 2 s, before the fencer that rebooted it has recorded the reboot as
 * done, and Pacemaker on the node would then learn that it was "allegedly
 * just fenced" and stay down (fence_reaction). Needed for a fence *reboot*
 * on the bed (drill --node-failure); the lab's nodes carry it.
 */
export const SLOW_CLUSTER_BOOT = {
  path: '/etc/systemd/system/corosync.service.d/boot-delay.conf',
  content: "[Service]\nExecStartPre=/bin/sh -c 'a=$(ps -o etimes= -p 1); [ \"$a\" -ge 20 ] || sleep $((20 - a))'\n",
};

export interface NetworkSpec {
  /** Docker network suffix and the name tests use: `lan`, `replication`. */
  name: string;
  /** Optional fixed subnet, e.g. 192.168.122.0/24 (then `addresses` may pin each node's IP). */
  subnet?: string;
  addresses?: Record<string, string>;
}

export interface BedOptions {
  nodes: string[];
  /** Size of each node's data disk (truncate(1) syntax). Default 512M. */
  diskSize?: string;
  /** Networks; the first is eth0. Default: one `lan` network with a Docker-chosen subnet. */
  networks?: NetworkSpec[];
  /** Leave everything running when the process exits (the lab). */
  keep?: boolean;
  /** Image to run (default: build/reuse docker/image). */
  image?: string;
  /** Fixed loopback ports for sshd, by node (the lab); default: Docker picks. */
  sshPorts?: Record<string, number>;
  /** Where the bed keeps its key, known_hosts and disk files (default: a new temp dir). */
  dir?: string;
  /**
   * Also run the bed's hypervisor `hv` (docker/hypervisor/): fence_virsh logs
   * into it as `fence` with this password and powers the bed's nodes off and
   * on. Its address is `address` if given, else .5 of the first network.
   */
  hypervisor?: HypervisorOptions;
  /**
   * The DRBD module each node's kernel stand-in plays (docker/standin/README.md,
   * "Personalities"): '9' (default, DRBD 9.2.12) or '8.4' (DRBD 8.4.11, as
   * Debian's and Ubuntu's stock kernels): one value for every node, or per
   * node name. Written to the node's /etc/drbd-standin/personality before
   * the bed is handed over, i.e. before drbd-utils is installed or used.
   */
  drbd?: DrbdPersonality | Record<string, DrbdPersonality>;
}

export type DrbdPersonality = '9' | '8.4';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  knownHostsPath: string;
}

export interface BedNode {
  readonly name: string;
  readonly containerId: string;
  /** Address on each bed network, by network name. */
  readonly addresses: Record<string, string>;
  /** How to reach the node's sshd from this machine (loopback, published port). */
  readonly ssh: SshTarget;
  /** The host loop device behind /dev/vdb. */
  readonly disk: { hostDevice: string; file: string; nodePath: '/dev/vdb' };
  /** Clean shutdown (`docker stop`, systemd halts). */
  stop(): Promise<void>;
  /** Hard stop: SIGKILL to every process of the node. */
  kill(): Promise<void>;
  pause(): Promise<void>;
  unpause(): Promise<void>;
  /** Start a stopped/killed node again and wait for its sshd (the published port may change). */
  start(): Promise<void>;
  /**
   * After someone else started the node's container (the hypervisor's `virsh
   * start`): wait for its sshd, then re-read its published port and host keys,
   * as start() does after its `docker start`.
   */
  started(): Promise<void>;
  restart(): Promise<void>;
}

export interface Bed {
  readonly runId: string;
  readonly nodes: BedNode[];
  readonly dir: string;
  readonly privateKeyPath: string;
  readonly knownHostsPath: string;
  /** Docker network names, by bed network name. */
  readonly networks: Record<string, string>;
  /** The fence device, when `opts.hypervisor` was given. */
  readonly hypervisor?: Hypervisor;
  node(name: string): BedNode;
  stop(): Promise<void>;
}

/**
 * `docker pause`, retried: runc's cgroup freeze can time out on a loaded
 * machine ("OCI runtime pause failed: unable to freeze"), leaving the
 * container running; a second try usually freezes it.
 */
async function pauseContainer(id: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await docker('pause', id);
      return;
    } catch (e) {
      if (attempt >= 5 || !/unable to freeze/.test(String(e))) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 << 20 });
  return stdout.trim();
}

export async function startBed(opts: BedOptions): Promise<Bed> {
  const runId = `bed${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const dir = opts.dir ?? join(tmpdir(), 'ha-provision-bed', runId);
  await mkdir(dir, { recursive: true });
  if (!opts.keep) registerExitCleanup(runId);
  const labels = { [LABEL_RUN]: runId, [LABEL_OWNER]: opts.keep ? 'keep' : String(process.pid) };
  const image = opts.image ?? (await bedImage());
  for (const n of typeof opts.drbd === 'object' ? Object.keys(opts.drbd) : []) {
    if (!opts.nodes.includes(n)) throw new Error(`test bed: drbd names "${n}", which is not a node (nodes: ${opts.nodes.join(', ')})`);
  }

  const privateKeyPath = join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `ha-provision-${runId}`, '-f', privateKeyPath]);
  const publicKey = await readFile(`${privateKeyPath}.pub`, 'utf8');
  const knownHostsPath = join(dir, 'known_hosts');
  await writeFile(knownHostsPath, '');

  let hvStarting: Promise<StartedHypervisor> | undefined;
  try {
    const networkSpecs: NetworkSpec[] = [];
    const networks: Record<string, string> = {};
    for (const spec of opts.networks ?? [{ name: 'lan' }]) {
      const dockerName = `${runId}-${spec.name}`;
      networkSpecs.push(spec.subnet ? spec : { ...spec, ...(await createWithFreeSubnet(dockerName, runId, opts.nodes)) });
      if (spec.subnet) await docker('network', 'create', '--label', `${LABEL_RUN}=${runId}`, '--subnet', spec.subnet, dockerName);
      networks[spec.name] = dockerName;
    }

    if (opts.hypervisor) {
      // hv starts while the nodes boot; its domain map is written once they exist
      const first = networkSpecs[0]!;
      const taken = new Set(Object.values(first.addresses ?? {}));
      const address = opts.hypervisor.address ?? (first.subnet ? fifthAddress(first.subnet) : undefined);
      if (address && taken.has(address)) throw new Error(`test bed: the hypervisor's address ${address} is a node's; give hypervisor.address`);
      hvStarting = startHypervisor({ runId, image, labels, network: networks[first.name]!, address, password: opts.hypervisor.password });
      hvStarting.catch(() => undefined); // awaited below
    }

    const nodes = await Promise.all(
      opts.nodes.map((name) =>
        startNode({ name, runId, dir, image, labels, publicKey, privateKeyPath, knownHostsPath,
          diskSize: opts.diskSize ?? '512M', networkSpecs, networks, sshPort: opts.sshPorts?.[name],
          drbd: typeof opts.drbd === 'string' ? opts.drbd : (opts.drbd?.[name] ?? '9') }),
      ),
    );
    await refreshKnownHosts(nodes, knownHostsPath);

    const hypervisor: Hypervisor | undefined = hvStarting
      ? await (await hvStarting).withDomains(Object.fromEntries(nodes.map((n) => [n.name, n.containerId])))
      : undefined;

    const bed: Bed = {
      runId, nodes, dir, privateKeyPath, knownHostsPath, networks, ...(hypervisor ? { hypervisor } : {}),
      node(name) {
        const n = nodes.find((x) => x.name === name);
        if (!n) throw new Error(`test bed ${runId} has no node "${name}" (it has ${nodes.map((x) => x.name).join(', ')})`);
        return n;
      },
      async stop() {
        await removeRun(runId);
        forgetExitCleanup(runId);
        await rm(dir, { recursive: true, force: true });
      },
    };
    return bed;
  } catch (err) {
    await hvStarting?.catch(() => undefined); // nothing of the bed is created after the removal
    await removeRun(runId);
    throw err;
  }
}

/**
 * Creates a network on a free /24 of 172.29.0.0/16 and gives every node a
 * fixed address on it (.10, .11, ...), so that a node keeps its address
 * across stop/start, as a real server does (DRBD's and corosync's
 * configuration name addresses).
 */
async function createWithFreeSubnet(dockerName: string, runId: string, nodes: string[]): Promise<{ subnet: string; addresses: Record<string, string> }> {
  const start = Math.floor(Math.random() * 256);
  for (let i = 0; i < 256; i++) {
    const k = (start + i) % 256;
    const subnet = `172.29.${k}.0/24`;
    try {
      await docker('network', 'create', '--label', `${LABEL_RUN}=${runId}`, '--subnet', subnet, dockerName);
      return { subnet, addresses: Object.fromEntries(nodes.map((n, j) => [n, `172.29.${k}.${10 + j}`])) };
    } catch (err) {
      if (!/overlap|Pool/i.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
    }
  }
  throw new Error('test bed: no free /24 left in 172.29.0.0/16 for a bed network');
}

interface NodeContext {
  name: string; runId: string; dir: string; image: string; labels: Record<string, string>;
  publicKey: string; privateKeyPath: string; knownHostsPath: string; diskSize: string;
  networkSpecs: NetworkSpec[]; networks: Record<string, string>; sshPort?: number;
  drbd: DrbdPersonality;
}

/** A GenericContainer with the few create options testcontainers has no builder for. */
class SystemdNodeContainer extends GenericContainer {
  constructor(
    image: string,
    hostname: string,
    disk: string,
    private readonly attach: { network: string; ip?: string }[],
  ) {
    super(image);
    this.createOpts.Hostname = hostname;
    // systemd halts cleanly on SIGRTMIN+3 (docker import cannot set STOPSIGNAL).
    this.createOpts.StopSignal = 'SIGRTMIN+3';
    // corosync/pacemaker keep their IPC in /dev/shm; Docker's 64 MB fills up after a few restarts.
    this.hostConfig.ShmSize = 256 * 1024 * 1024;
    this.hostConfig.Devices = [{ PathOnHost: disk, PathInContainer: '/dev/vdb', CgroupPermissions: 'rwm' }];
    // The first network is eth0, with the node's name as its alias on every network
    // (testcontainers' own alias support would also attach the default bridge).
    const [first] = attach;
    if (!first) throw new Error('test bed: at least one network is needed');
    this.withNetworkMode(first.network);
    this.createOpts.NetworkingConfig = {
      EndpointsConfig: { [first.network]: { Aliases: [hostname], ...(first.ip ? { IPAMConfig: { IPv4Address: first.ip } } : {}) } },
    };
  }

  /**
   * sshd is published on 127.0.0.1 only (Docker's default is every address
   * of the machine): the bed and the lab are reachable from this machine
   * alone, whatever its firewall.
   */
  protected override async beforeContainerCreated(): Promise<void> {
    for (const bindings of Object.values(this.hostConfig.PortBindings ?? {}) as { HostIp?: string }[][]) {
      for (const b of bindings) b.HostIp = '127.0.0.1';
    }
  }

  /** Further networks (eth1, ...) are connected before the container starts. */
  protected override async containerCreated(containerId: string): Promise<void> {
    for (const { network, ip } of this.attach.slice(1)) {
      await docker('network', 'connect', '--alias', this.createOpts.Hostname!, ...(ip ? ['--ip', ip] : []), network, containerId);
    }
  }
}

async function startNode(ctx: NodeContext): Promise<BedNode> {
  const file = join(ctx.dir, `${ctx.name}-vdb.img`);
  await run('truncate', ['-s', ctx.diskSize, file]);
  const hostDevice = (await run('losetup', ['-f', '--show', file])).stdout.trim();
  const containerName = `${ctx.runId}-${ctx.name}`;
  const container: StartedTestContainer = await new SystemdNodeContainer(ctx.image, ctx.name, hostDevice,
    ctx.networkSpecs.map((spec) => ({ network: ctx.networks[spec.name]!, ip: spec.addresses?.[ctx.name] })))
    .withName(containerName)
    .withLabels({ ...ctx.labels, 'org.ha-provision.loop': hostDevice, 'org.ha-provision.disk': file })
    .withPrivilegedMode()
    .withTmpFs({ '/run': 'rw,nosuid,nodev,mode=755', '/run/lock': 'rw,nosuid,nodev,noexec' })
    .withBindMounts([{ source: '/sys/fs/cgroup', target: '/sys/fs/cgroup', mode: 'rw' }])
    .withEnvironment({ container: 'docker' })
    .withExposedPorts(ctx.sshPort ? { container: 22, host: ctx.sshPort } : 22)
    .withCopyContentToContainer([
      { content: ctx.publicKey, target: '/root/.ssh/authorized_keys', mode: 0o600 },
      { content: ctx.publicKey, target: '/home/ha/.ssh/authorized_keys', mode: 0o644 },
    ])
    .withWaitStrategy(Wait.forSuccessfulCommand('test -s /etc/ssh/ssh_host_ed25519_key.pub && systemctl is-active -q ssh'))
    .withStartupTimeout(60_000)
    .withAutoRemove(false)
    .start();

  const id = container.getId();
  if (ctx.drbd !== '9') {
    // the stand-in's drbdsetup, modinfo and agent wrapper read it on every call
    await docker('exec', id, 'sh', '-c', `mkdir -p /etc/drbd-standin && echo ${ctx.drbd} > /etc/drbd-standin/personality`);
  }
  const addresses: Record<string, string> = {};
  const inspect = JSON.parse(await docker('inspect', id))[0];
  for (const spec of ctx.networkSpecs) {
    addresses[spec.name] = inspect.NetworkSettings.Networks[ctx.networks[spec.name]!].IPAddress;
  }

  const ssh: SshTarget = {
    host: '127.0.0.1',
    port: await publishedPort(id),
    username: 'root',
    privateKeyPath: ctx.privateKeyPath,
    knownHostsPath: ctx.knownHostsPath,
  };

  const waitForSsh = async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const out = await docker('exec', id, 'sh', '-c',
          'test -s /etc/ssh/ssh_host_ed25519_key.pub && systemctl is-active -q ssh && cat /etc/ssh/ssh_host_ed25519_key.pub');
        if (out) return;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`test bed: node ${ctx.name} did not start sshd within 60 s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const node: BedNode = {
    name: ctx.name,
    containerId: id,
    addresses,
    ssh,
    disk: { hostDevice, file, nodePath: '/dev/vdb' },
    async stop() { await docker('stop', '-t', '20', id); },
    async kill() { await docker('kill', '--signal', 'KILL', id); },
    async pause() { await pauseContainer(id); },
    async unpause() { await docker('unpause', id); },
    async start() {
      await docker('start', id);
      await node.started();
    },
    async started() {
      await waitForSsh();
      ssh.port = await publishedPort(id);
      await refreshKnownHosts([node], ctx.knownHostsPath);
    },
    async restart() { await node.stop(); await node.start(); },
  };
  return node;
}

async function publishedPort(id: string): Promise<number> {
  const out = await docker('port', id, '22/tcp');
  const m = /:(\d+)\s*$/m.exec(out.split('\n')[0] ?? '');
  if (!m) throw new Error(`test bed: container ${id} publishes no port for 22/tcp (docker port said: ${out})`);
  return Number(m[1]);
}

/**
 * known_hosts for the bed, built from each container's own host keys (read
 * out of band with docker exec, as an admin would read them from a console).
 */
async function refreshKnownHosts(nodes: BedNode[], knownHostsPath: string): Promise<void> {
  const existing = (await readFile(knownHostsPath, 'utf8')).split('\n').filter(Boolean);
  let lines = existing;
  for (const node of nodes) {
    const keys = await docker('exec', node.containerId, 'sh', '-c', 'cat /etc/ssh/ssh_host_*_key.pub');
    const hostPattern = `[${node.ssh.host}]:${node.ssh.port}`;
    lines = lines.filter((l) => !l.startsWith(`${hostPattern} `));
    for (const key of keys.split('\n').filter(Boolean)) {
      const [type, body] = key.split(/\s+/);
      lines.push(`${hostPattern} ${type} ${body}`);
    }
  }
  await writeFile(knownHostsPath, `${lines.join('\n')}\n`);
}
