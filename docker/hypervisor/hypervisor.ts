/**
 * The test bed's hypervisor (see ./README.md): a container `hv` on the bed's
 * first network that fence_virsh logs into (user `fence`, password) and whose
 * `virsh` powers the bed's node containers off and on through the Docker
 * socket, and nothing else.
 *
 * Started by startBed (docker/bed/testbed.ts) when `opts.hypervisor` is given,
 * while the nodes boot; its domain map, which names their containers, is
 * written once they exist.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));

/** The files copied into the container (installed by init.sh with their modes). */
const FILES = ['init.sh', 'ha-bed-virsh', 'virsh', 'sudoers-fence', 'sshd-fence.conf'];
/** The engine's socket on the Docker host, bind-mounted at the same path in hv. */
const DOCKER_SOCKET = '/var/run/docker.sock';

export interface HypervisorOptions {
  /** The fence user's password (set in the container on stdin; never logged or written outside it). */
  password: string;
  /** Fixed address on the bed's first network (default: .5 of its subnet). */
  address?: string;
}

/** What startBed returns as `bed.hypervisor`: how fence_virsh reaches it. */
export interface Hypervisor {
  /** Host name and network alias on the bed's first network; `virsh` domain names are the nodes' names. */
  readonly name: 'hv';
  readonly containerId: string;
  /** Its address on the bed's first network (the only network it is on; no port is published). */
  readonly address: string;
  /** The login for fence_virsh (-l); its password is the one given in the options (-p). */
  readonly user: 'fence';
  /** The domains its virsh knows: node name -> container id. */
  readonly domains: Record<string, string>;
  /** Its sshd host keys as known_hosts lines for its address (`<address> <type> <key>`). */
  readonly knownHosts: string[];
}

interface StartContext {
  runId: string;
  image: string;
  labels: Record<string, string>;
  /** Docker name of the bed's first network. */
  network: string;
  address?: string;
  password: string;
}

/** hv running, its password set, no domain map yet. */
export interface StartedHypervisor {
  readonly containerId: string;
  /** Writes the domain map (node name -> container id) and returns the finished facts. */
  withDomains(domains: Record<string, string>): Promise<Hypervisor>;
}

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 << 20 });
  return stdout.trim();
}

/** `docker exec -i` with `input` on stdin (a password, the domain map: not on any command line). */
function dockerExecInput(id: string, argv: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('docker', ['exec', '-i', id, ...argv], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`hypervisor: \`${argv.join(' ')}\` exited ${code}: ${stderr.trim()}`))));
    p.stdin.end(input);
  });
}

export async function startHypervisor(ctx: StartContext): Promise<StartedHypervisor> {
  const name = `${ctx.runId}-hv`;
  const id = await docker('create', '--name', name, '--hostname', 'hv',
    ...Object.entries(ctx.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    '--label', 'org.ha-provision.role=hypervisor',
    // the bed's first network only, nothing published on the host
    '--network', ctx.network, '--network-alias', 'hv', ...(ctx.address ? ['--ip', ctx.address] : []),
    // not privileged, Docker's default capabilities; root in hv can use the engine, fence cannot (README)
    '--mount', `type=bind,source=${DOCKER_SOCKET},target=${DOCKER_SOCKET}`,
    '--tmpfs', '/run:rw,nosuid,nodev,mode=755',
    '--entrypoint', '/usr/lib/ha-bed-hv/init.sh',
    ctx.image);
  // this folder's files to /usr/lib/ha-bed-hv/ (init.sh installs each with its mode)
  await run('sh', ['-c', 'd=$1; shift; tar -C "$d" --owner=0 --group=0 --transform "s,^,ha-bed-hv/," -cf - "$@" | docker cp - "$0:/usr/lib/"', id, here, ...FILES]);
  await docker('start', id);
  await until(`hv sshd on port 22 (${name})`, async () => {
    const running = await docker('inspect', '-f', '{{.State.Running}}', id);
    if (running !== 'true') throw new Error(`hv exited: ${await docker('logs', '--tail', '20', id).catch(() => '')}`);
    try { await docker('exec', id, 'nc', '-z', '127.0.0.1', '22'); return true; } catch { return undefined; }
  }, 30_000);
  await dockerExecInput(id, ['chpasswd'], `fence:${ctx.password}\n`);
  const inspect = JSON.parse(await docker('inspect', id))[0];
  const address: string = inspect.NetworkSettings.Networks[ctx.network].IPAddress;
  const keys = await docker('exec', id, 'sh', '-c', 'cat /etc/ssh/ssh_host_*_key.pub');
  const knownHosts = keys.split('\n').filter(Boolean).map((k) => {
    const [type, body] = k.split(/\s+/);
    return `${address} ${type} ${body}`;
  });
  return {
    containerId: id,
    async withDomains(domains) {
      await dockerExecInput(id, ['sh', '-c', 'umask 077 && cat > /etc/ha-bed/domains.new && mv /etc/ha-bed/domains.new /etc/ha-bed/domains'],
        JSON.stringify({ run: ctx.runId, domains }, null, 2));
      return { name: 'hv', containerId: id, address, user: 'fence', domains: { ...domains }, knownHosts };
    },
  };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`hypervisor: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `.5` of an IPv4 /N subnet such as 172.29.7.0/24. */
export function fifthAddress(subnet: string): string {
  const [base, bits] = subnet.split('/');
  const n = base!.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
  const mask = bits ? (~0 << (32 - Number(bits))) >>> 0 : 0xffffffff;
  const a = ((n & mask) + 5) >>> 0;
  return [24, 16, 8, 0].map((s) => (a >>> s) & 255).join('.');
}
