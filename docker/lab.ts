/**
 * The local lab: two test-bed nodes, bob and alice, left running for a person
 * to look at and for `ha-provision apply inventory/lab.yaml` to converge.
 *
 *   npx tsx docker/lab.ts up      start (or reuse) the lab; prints how to reach it
 *   npx tsx docker/lab.ts down    remove it (containers, networks, loop devices)
 *
 * Fixed so that inventory/lab.yaml can name them: sshd on 127.0.0.1:2201 (bob)
 * and :2202 (alice); networks lan 172.30.10.0/24 (eth0) and replication
 * 172.30.20.0/24 (eth1), the bed's own, as the chapter's 192.168.122.0/24 and
 * 10.0.0.0/24; key and known_hosts under .state/lab/.
 *
 * The lab's fence device: the bed hypervisor `hv` (docker/hypervisor/) at
 * 172.30.10.5 on lan only, for fence_virsh (-a 172.30.10.5 -l fence); its
 * password is made anew with the lab, in .state/lab/fence-password (owner
 * only, one line; inventory/lab.yaml reads it as {file: ...}), never printed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SLOW_CLUSTER_BOOT, startBed } from './bed/testbed.js';
import { removeOwnedBy } from './bed/reaper.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const stateDir = `${root}.state/lab`;
const stateFile = `${stateDir}/lab.json`;
const fencePasswordFile = `${stateDir}/fence-password`;

export const LAB = {
  nodes: ['bob', 'alice'],
  sshPorts: { bob: 2201, alice: 2202 } as Record<string, number>,
  networks: [
    { name: 'lan', subnet: '172.30.10.0/24', addresses: { bob: '172.30.10.10', alice: '172.30.10.11' } },
    { name: 'replication', subnet: '172.30.20.0/24', addresses: { bob: '172.30.20.10', alice: '172.30.20.11' } },
  ],
  /** The fence device on lan (fence_virsh -a ... -l fence). */
  hypervisor: { address: '172.30.10.5', user: 'fence' },
};

function running(): boolean {
  if (!existsSync(stateFile)) return false;
  const { containers, hypervisor } = JSON.parse(readFileSync(stateFile, 'utf8')) as { containers: string[]; hypervisor?: string };
  // a lab from before the fence device is made anew
  if (!hypervisor || !existsSync(fencePasswordFile)) return false;
  try {
    const out = execFileSync('docker', ['inspect', '-f', '{{.State.Running}}', ...containers], { encoding: 'utf8' });
    return out.split('\n').filter(Boolean).every((l) => l === 'true');
  } catch { return false; }
}

async function up(): Promise<void> {
  if (running()) {
    console.log('lab: already running');
  } else {
    await removeOwnedBy('keep');
    rmSync(stateDir, { recursive: true, force: true });
    mkdirSync(stateDir, { recursive: true });
    const t0 = Date.now();
    const password = randomBytes(16).toString('hex');
    writeFileSync(fencePasswordFile, `${password}\n`, { mode: 0o600 });
    chmodSync(fencePasswordFile, 0o600);
    const { hypervisor, ...lab } = LAB;
    const bed = await startBed({ ...lab, keep: true, dir: stateDir, diskSize: '1G', hypervisor: { password, address: hypervisor.address } });
    // hv's host keys on every node, as an operator records a hypervisor's keys before fencing through it
    for (const n of bed.nodes) {
      execFileSync('docker', ['exec', '-i', n.containerId, 'sh', '-c', 'cat >> /etc/ssh/ssh_known_hosts'], { input: bed.hypervisor!.knownHosts.join('\n') + '\n' });
      // a fence reboot (ha-provision drill --node-failure) needs a boot as slow as a real server's
      execFileSync('docker', ['exec', '-i', n.containerId, 'sh', '-c', `mkdir -p ${dirname(SLOW_CLUSTER_BOOT.path)} && cat > ${SLOW_CLUSTER_BOOT.path}`], { input: SLOW_CLUSTER_BOOT.content });
    }
    const hv = bed.hypervisor!.containerId;
    writeFileSync(stateFile, JSON.stringify({ runId: bed.runId, containers: [...bed.nodes.map((n) => n.containerId), hv], hypervisor: hv }, null, 2));
    console.log(`lab: ${bed.nodes.length} nodes and the fence device hv up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const ssh = (port: number) => `ssh -i .state/lab/id_ed25519 -o UserKnownHostsFile=.state/lab/known_hosts -p ${port} root@127.0.0.1`;
  for (const name of LAB.nodes) {
    const port = LAB.sshPorts[name]!;
    const lan = LAB.networks[0]!.addresses[name as 'bob'];
    const repl = LAB.networks[1]!.addresses[name as 'bob'];
    console.log(`  ${name.padEnd(6)} lan ${lan}  replication ${repl}  data disk /dev/vdb   ${ssh(port)}`);
  }
  const hv = LAB.hypervisor;
  console.log(`  hv     lan ${hv.address}  fence device for fence_virsh: -a ${hv.address} -l ${hv.user}, password in .state/lab/fence-password (lan only, no port on this machine)`);
}

async function down(): Promise<void> {
  const removed = await removeOwnedBy('keep');
  rmSync(stateDir, { recursive: true, force: true });
  console.log(removed.length ? `lab: removed ${removed.join(', ')}` : 'lab: nothing to remove');
}

const cmd = process.argv[2] ?? 'up';
if (cmd === 'up') await up();
else if (cmd === 'down') await down();
else { console.error(`usage: docker/lab.ts up|down (got "${cmd}")`); process.exitCode = 2; }
