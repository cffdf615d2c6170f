/**
 * The bed's hypervisor (docker/hypervisor/): Debian's real fence_virsh,
 * installed on node n1, logs into `hv` as `fence` with a password and powers
 * n2's container off and on; it reaches nothing but the bed's two nodes.
 * Timings are printed (the install of fence-agents, off -> stopped, on ->
 * sshd answering).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBed, type Bed } from '../../docker/bed/testbed.js';
import type { CommandResult } from '../../src/ssh/index.js';
import { BedShell } from '../support/bed-cli.js';

const run = promisify(execFile);
const password = randomBytes(16).toString('hex');
let bed: Bed;
let nodes: BedShell;

async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args)).stdout.trim();
}

/** docker exec that never throws: exit code and both streams. */
async function dockerExec(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run('docker', ['exec', ...args]);
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

/** fence_virsh on n1 against the bed's hypervisor, as a cluster's stonith resource would run it. */
async function fence(args: string[], pw = password): Promise<CommandResult> {
  const hv = bed.hypervisor!;
  return nodes.session('n1').exec({
    argv: ['fence_virsh', '-a', hv.address, '-l', hv.user, '-p', pw, ...args],
    secrets: [password, pw],
    timeoutMs: 90_000,
  });
}

interface State {
  Status: string;
  Running: boolean;
  Paused: boolean;
  StartedAt: string;
}
async function state(node: string): Promise<State> {
  return JSON.parse(await docker('inspect', '-f', '{{json .State}}', bed.node(node).containerId)) as State;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe('the bed hypervisor driven by the real fence_virsh', () => {
  beforeAll(async () => {
    bed = await startBed({ nodes: ['n1', 'n2'], hypervisor: { password }, diskSize: '64M' });
    nodes = new BedShell(bed);
    await nodes.connectAll();
  });
  afterAll(async () => {
    await nodes?.close();
    await bed?.stop();
  });

  it("runs hv on the bed's first network only, unprivileged, publishing nothing, with a map of the two nodes", async () => {
    const hv = bed.hypervisor!;
    expect(hv).toMatchObject({ name: 'hv', user: 'fence' });
    expect(hv.domains).toEqual({ n1: bed.node('n1').containerId, n2: bed.node('n2').containerId });
    const c = JSON.parse(await docker('inspect', hv.containerId))[0];
    expect(Object.keys(c.NetworkSettings.Networks)).toEqual([bed.networks['lan']]);
    expect(c.NetworkSettings.Networks[bed.networks['lan']!].IPAddress).toBe(hv.address);
    expect(c.HostConfig.Privileged).toBe(false);
    expect(c.HostConfig.PortBindings ?? {}).toEqual({});
    expect(c.Config.ExposedPorts ?? {}).toEqual({});
    expect(c.Config.Labels['org.ha-provision.bed']).toBe(bed.runId);
    // the password is in no command line, environment or label of the container
    expect(JSON.stringify(c)).not.toContain(password);
    // the map is root's only
    expect(await docker('exec', hv.containerId, 'stat', '-c', '%U %a', '/etc/ha-bed', '/etc/ha-bed/domains')).toBe('root 700\nroot 600');
  });

  it("installs Debian's fence-agents on n1 without recommends", async () => {
    const t0 = Date.now();
    const log = await nodes.sh('n1', 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y --no-install-recommends fence-agents 2>&1', 300_000);
    const took = Date.now() - t0;
    const installed = [...log.matchAll(/^Setting up (\S+) \(/gm)].map((m) => m[1]!.replace(/:amd64$/, ''));
    const recommends = await nodes.sh('n1', "apt-cache depends fence-agents | sed -n 's/^ *Recommends: //p' | tr '\\n' ' '");
    const missing = await nodes.sh('n1', `for p in ${recommends}; do dpkg -s "$p" >/dev/null 2>&1 || printf '%s ' "$p"; done`);
    console.log(`fence-agents: installed in ${secs(took)} (apt-get update + install, --no-install-recommends), ${installed.length} packages: ${installed.join(' ')}`);
    console.log(`fence-agents: recommends ${recommends}; not installed: ${missing || 'none'} (openssh-client comes with the image's openssh-server)`);
    expect(installed).toContain('fence-agents');
    expect(await nodes.sh('n1', 'command -v fence_virsh')).toBe('/usr/sbin/fence_virsh');
    // hv's host key, known beforehand and checked (no "yes" to an unknown key)
    const hv = bed.hypervisor!;
    await nodes.session('n1').writeFile('/etc/ssh/ssh_known_hosts', `${hv.knownHosts.join('\n')}\n`, { mode: 0o644 });
    await nodes.session('n1').writeFile('/etc/ssh/ssh_config.d/hv.conf', `Host ${hv.address}\n  StrictHostKeyChecking yes\n`, { mode: 0o644 });
  }, 360_000);

  it('status: n2 is ON; list names exactly n1 and n2', async () => {
    const status = await fence(['-n', 'n2', '-o', 'status']);
    expect(status.stdout.trim(), status.stderr).toBe('Status: ON');
    expect(status.exitCode).toBe(0);
    const list = await fence(['-o', 'list']);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout.trim().split('\n').sort()).toEqual(['n1,', 'n2,']);
    const ls = await fence(['-o', 'list-status']);
    expect(ls.stdout.trim().split('\n').sort()).toEqual(['n1,,on', 'n2,,on']);
    // --use-sudo sends `sudo virsh ...`: allowed as well
    const sudo = await fence(['-n', 'n2', '-o', 'status', '--use-sudo']);
    expect([sudo.exitCode, sudo.stdout.trim()], sudo.stderr).toEqual([0, 'Status: ON']);
    // no "yes" was given to an unknown host key: the key came from ssh_known_hosts
    expect(await nodes.sh('n1', 'cat /root/.ssh/known_hosts 2>/dev/null | wc -l')).toBe('0');
  });

  it("off stops n2's container; on starts it again with its sshd, address and data disk", async () => {
    const n2 = bed.node('n2');
    const before = await state('n2');
    const t0 = Date.now();
    const off = await fence(['-n', 'n2', '-o', 'off']);
    const offMs = Date.now() - t0;
    expect(off.stdout.trim(), off.stderr).toBe('Success: Powered OFF');
    expect(off.exitCode).toBe(0);
    const stopped = await state('n2');
    expect(stopped.Running).toBe(false);
    expect(stopped.Status).toBe('exited');
    const st = await fence(['-n', 'n2', '-o', 'status']);
    expect([st.exitCode, st.stdout.trim()]).toEqual([2, 'Status: OFF']);

    const t1 = Date.now();
    const on = await fence(['-n', 'n2', '-o', 'on']);
    const onMs = Date.now() - t1;
    expect(on.stdout.trim(), on.stderr).toBe('Success: Powered ON');
    expect(on.exitCode).toBe(0);
    expect((await state('n2')).Running).toBe(true);
    expect((await state('n2')).StartedAt).not.toBe(before.StartedAt);
    await n2.started();
    await nodes.connect('n2');
    const sshMs = Date.now() - t1;
    console.log(`fence_virsh -o off: ${secs(offMs)} to the container stopped (the agent returns after it); -o on: ${secs(onMs)} to running, ${secs(sshMs)} to n2's sshd answering`);
    expect(await nodes.sh('n2', 'hostname')).toBe('n2');
    expect(await nodes.sh('n2', "ip -4 -o addr show eth0 | awk '{print $4}'")).toBe(`${n2.addresses['lan']}/24`);
    expect(await nodes.sh('n2', 'test -b /dev/vdb && blockdev --getsize64 /dev/vdb')).toBe(String(64 * 1024 * 1024));
    expect(await nodes.sh('n2', 'systemctl is-system-running --wait || true')).toBe('running');
  });

  it('reboot kills a paused (hung) n2 for real and boots it again', async () => {
    const n2 = bed.node('n2');
    await nodes.sh('n2', 'echo before > /run/fence-marker');
    const before = await state('n2');
    await n2.pause();
    expect((await state('n2')).Paused).toBe(true);
    // a paused domain is on, for virsh as for the agent
    expect((await fence(['-n', 'n2', '-o', 'status'])).stdout.trim()).toBe('Status: ON');
    const t0 = Date.now();
    const r = await fence(['-n', 'n2', '-o', 'reboot']);
    expect(r.stdout.trim(), r.stderr).toBe('Success: Rebooted');
    expect(r.exitCode).toBe(0);
    const after = await state('n2');
    expect(after).toMatchObject({ Running: true, Paused: false });
    expect(after.StartedAt).not.toBe(before.StartedAt);
    await n2.started();
    await nodes.connect('n2');
    console.log(`fence_virsh -o reboot of a paused node: ${secs(Date.now() - t0)} to its sshd answering again`);
    // a new boot: /run is a fresh tmpfs
    expect(await nodes.sh('n2', 'test -e /run/fence-marker && echo old || echo new')).toBe('new');
  });

  it('a wrong password fails and leaves n2 alone', async () => {
    const before = await state('n2');
    const r = await fence(['-n', 'n2', '-o', 'off'], `${password}x`);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Unable to connect\/login to fencing device/);
    expect(await state('n2')).toMatchObject({ Running: true, StartedAt: before.StartedAt });
  });

  it("knows no other container: hv, or a container's own Docker name or id, is no domain", async () => {
    const hv = bed.hypervisor!;
    const names = ['hv', `${bed.runId}-hv`, `${bed.runId}-n2`, bed.node('n2').containerId, hv.containerId];
    for (const name of names) {
      for (const action of ['status', 'off']) {
        const r = await fence(['-n', name, '-o', action]);
        expect(r.exitCode, `${name} ${action}`).not.toBe(0);
        expect(r.stdout + r.stderr).toMatch(/enter existing name\/UUID of virtual machine/);
      }
    }
    expect((await state('n2')).Running).toBe(true);
    expect(await docker('inspect', '-f', '{{.State.Running}}', hv.containerId)).toBe('true');
  });

  it('gives the fence user no way to the Docker socket but the virsh script', async () => {
    const id = bed.hypervisor!.containerId;
    const asFence = (...argv: string[]) => dockerExec(['-u', 'fence', id, ...argv]);
    const py = await asFence('python3', '-c', "import socket; s = socket.socket(socket.AF_UNIX); s.connect('/var/run/docker.sock')");
    expect(py.code).not.toBe(0);
    expect(py.out).toMatch(/PermissionError: \[Errno 13\] Permission denied/);
    const nc = await asFence('sh', '-c', 'printf "GET /containers/json HTTP/1.0\\r\\n\\r\\n" | nc -U /var/run/docker.sock');
    expect(nc.code).not.toBe(0);
    expect(nc.out).toMatch(/Permission denied/);
    expect(await asFence('sudo', '-n', 'id')).toMatchObject({ code: 1 });
    expect(await asFence('sudo', '-n', '/usr/bin/python3', '-c', 'print(1)')).toMatchObject({ code: 1 });
    expect((await asFence('cat', '/etc/ha-bed/domains')).out).toMatch(/Permission denied/);
    // the script itself: only the map's names, only its four commands
    expect(await asFence('virsh', 'domstate', 'n1')).toMatchObject({ code: 0, out: 'running\n\n' });
    expect((await asFence('virsh', 'start', bed.node('n2').containerId)).out).toMatch(/failed to get domain/);
    expect((await asFence('virsh', 'dumpxml', 'n1')).out).toMatch(/unknown command/);
    expect((await asFence('virsh', '-c', 'qemu+ssh://elsewhere/system', 'list')).out).toMatch(/failed to connect/);
    // sshd: passwords for fence only, nobody else may log in
    const sshdFor = (user: string) =>
      docker(
        'exec',
        id,
        'sh',
        '-c',
        `sshd -T -C user=${user},host=n1,addr=${bed.node('n1').addresses['lan']} | grep -E '^(passwordauthentication|allowusers|allowtcpforwarding) '`,
      );
    expect(await sshdFor('fence')).toBe('passwordauthentication yes\nallowtcpforwarding no\nallowusers fence');
    expect(await sshdFor('root')).toBe('passwordauthentication no\nallowtcpforwarding yes\nallowusers fence');
  });
});
