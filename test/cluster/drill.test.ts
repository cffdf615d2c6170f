/**
 * `ha-provision drill` (issue 16.2) on playbooks/mutual-failover.yaml,
 * built by the tool itself on two fresh test-bed nodes with real fencing
 * (fence_virsh through the bed's hypervisor, action reboot). A systemd
 * service is added to each instance (the playbook's services are
 * ocf:pacemaker:Dummy, which has no process to kill).
 *  - `drill --switchover --yes`: both instances swap nodes and come back;
 *    no cli-prefer-/cli-ban- constraint is left;
 *  - `drill --resource-failure mail1_daemon --yes`, then mail2_daemon (each
 *    instance of 003): its process killed (SIGKILL), Pacemaker restarts it
 *    where it ran: a new PID, a failcount (cleaned after);
 *  - `drill --node-failure SECOND --yes --json`: the node fenced (reboot
 *    through hv), mail2 runs on the first node, the node back in the
 *    cluster, mail2 back on it;
 *  - a cluster that is not healthy (a node in standby): refused, exit 8;
 *    without a terminal and without --yes: exit 2, nothing contacted.
 * Measured times are printed.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../../docker/bed/testbed.js';
import { renderDrill } from '../../src/cli/drill.js';
import type { DrillReport } from '../../src/drill/model.js';
import { converged, cli, json, Nodes, until } from '../storage/support.js';
import { clusterStatus, followPorts, nodeDiagnostics, slowClusterBoot, type ClusterStatus, startFencedMutualFailover, type FencedMutualFailover } from './support.js';

const [FIRST, SECOND] = ['dijon', 'reims'];
const NODES = [FIRST, SECOND];
const fencePassword = randomBytes(12).toString('hex');

let bed: Bed;
let nodes: Nodes;
let fenced: FencedMutualFailover;
let inventory: string;
const started = Date.now();

function instanceAt(s: ClusterStatus, n: 1 | 2): string | undefined {
  const ids = [`mail${n}_fs`, `mail${n}_ip`, `mail${n}_service`, `mail${n}_daemon`];
  const at = new Set(ids.map((id) => s.resources.find((r) => r.id === id && r.role === 'Started' && !r.failed)?.node ?? '-'));
  const promoted = s.resources.filter((r) => r.id === `drbd_mail${n}` && r.role === 'Promoted').map((r) => r.node);
  if (at.size !== 1 || at.has('-') || promoted.length !== 1 || !at.has(promoted[0]!)) return undefined;
  return promoted[0];
}

async function healthy(): Promise<void> {
  await until('status healthy', async () => ((await cli(['status', inventory])).code === 0 ? true : undefined), 120_000);
}

function show(label: string, d: DrillReport): void {
  console.log(`${label}:\n${renderDrill(d)}`);
}

describe('ha-provision drill on a fenced mutual-failover cluster', () => {
  beforeAll(async () => {
    fenced = await startFencedMutualFailover({ names: [FIRST, SECOND], fencePassword, tmpPrefix: 'ha-drill-', domain: 'drill.demo', action: 'reboot' });
    ({ bed, nodes, inventory } = fenced);
  }, 180_000);

  afterAll(async () => {
    await fenced?.stop();
    console.log(`drill.test.ts: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  });

  it('applies; a systemd service joins each instance; the cluster is healthy', async () => {
    const t0 = Date.now();
    const r = await cli(['apply', inventory, '--json']);
    converged(r);
    console.log(`apply: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    for (const n of NODES) {
      for (const i of [1, 2])
        await nodes.sh(
          n,
          `printf '[Unit]\\nDescription=drill test daemon of mail${i}\\n[Service]\\nExecStart=/bin/sleep infinity\\n' > /etc/systemd/system/drill-mail${i}.service`,
        );
      await nodes.sh(n, 'systemctl daemon-reload');
    }
    await slowClusterBoot(nodes, NODES);
    for (const i of [1, 2]) {
      await nodes.sh(
        FIRST,
        `crm configure primitive mail${i}_daemon systemd:drill-mail${i} op monitor interval=10s timeout=30s && crm configure modgroup mail${i} add mail${i}_daemon`,
      );
    }
    await until(
      'mail1 (with its daemon) on the first node, mail2 (with its daemon) on the second',
      async () => {
        const st = await clusterStatus(nodes, FIRST);
        return instanceAt(st, 1) === FIRST && instanceAt(st, 2) === SECOND ? true : undefined;
      },
      120_000,
    );
    await healthy();
  }, 600_000);

  it('without a terminal and without --yes: exit 2, nothing done', async () => {
    const r = await cli(['drill', inventory, '--switchover']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
  });

  it('--switchover: both instances move to the other node and back; no constraint left', async () => {
    const r = await cli(['drill', inventory, '--switchover', '--yes', '--json']);
    const d = json<DrillReport>(r);
    show('switchover', d);
    expect(r.code, r.stderr + JSON.stringify(d.reasons)).toBe(0);
    expect(d.verdict).toBe('passed');
    expect(d.constraintsLeft).toEqual([]);
    const moved = d.timeline.filter((e) => e.event === 'moved-running').map((e) => e.detail);
    expect(moved.some((x) => x.startsWith(`mail1 runs on ${SECOND}`)) && moved.some((x) => x.startsWith(`mail2 runs on ${FIRST}`)), JSON.stringify(d.timeline)).toBe(true);
    expect(d.services.map((s) => [s.id, s.before, s.after]).sort()).toEqual([
      ['mail1', FIRST, FIRST],
      ['mail2', SECOND, SECOND],
    ]);
    expect(await nodes.sh(FIRST, 'cibadmin -Q -o constraints')).not.toMatch(/cli-prefer-|cli-ban-/);
    expect(d.markers.map((m) => [m.file, m.ok])).toEqual([
      ['/srv/mail1/.ha-provision-drill', true],
      ['/srv/mail2/.ha-provision-drill', true],
    ]);
    expect(JSON.stringify(d)).not.toContain(fencePassword);
  }, 400_000);

  // 11.7 on each instance of 003, where it runs: mail1 on the first node, mail2 on the second
  it.each([
    [1, FIRST],
    [2, SECOND],
  ])(
    '--resource-failure mail%i_daemon: SIGKILL, Pacemaker restarts it on %s (new PID, a failcount)',
    async (i, at) => {
      const unit = `drill-mail${i}`;
      const before = Number(await nodes.sh(at, `systemctl show -p MainPID --value ${unit}`));
      const r = await cli(['drill', inventory, '--resource-failure', `mail${i}_daemon`, '--yes', '--json']);
      const d = json<DrillReport>(r);
      show(`resource-failure mail${i}_daemon`, d);
      expect(r.code, r.stderr + JSON.stringify(d.reasons)).toBe(0);
      expect(d.drill).toMatchObject({ kind: 'resource-failure', resource: `mail${i}_daemon`, node: at });
      expect(d.pid!.before).toBe(before);
      expect(d.pid!.after).toBeGreaterThan(0);
      expect(d.pid!.after).not.toBe(before);
      expect(d.failcounts!.length).toBeGreaterThan(0);
      expect(d.services.find((s) => s.id === `mail${i}`)).toMatchObject({ before: at, after: at, affected: true });
      const now = Number(await nodes.sh(at, `systemctl show -p MainPID --value ${unit}`));
      expect(now).toBe(d.pid!.after);
      await healthy();
    },
    400_000,
  );

  it('--node-failure SECOND --json: fenced (reboot), mail2 runs on the first node, the node comes back', async () => {
    const r = await cli(['drill', inventory, '--node-failure', SECOND, '--yes', '--json', '--timeout', '280']);
    const d = json<DrillReport>(r);
    show('node-failure', d);
    expect(r.code, r.stderr + JSON.stringify(d.reasons)).toBe(0);
    expect(d.verdict).toBe('passed');
    expect(d.drill).toMatchObject({ kind: 'node-failure', node: SECOND, method: 'fence', action: 'reboot', from: FIRST });
    expect(d.fenced).toMatchObject({ target: SECOND, status: 'success' });
    expect(typeof d.fenced!.at).toBe('string');
    if (!d.timeline.some((e) => e.event === 'service-running' && e.detail === `mail2 runs on ${FIRST}`))
      // seen once in a CI run at load 20-80: mail2 was not promoted on the survivor before the
      // fenced node came back 26 s later; what the survivor's DRBD and Pacemaker did, for the next time
      console.log(
        `mail2 never ran on ${FIRST}:\n` +
          (await nodeDiagnostics(
            nodes,
            [FIRST],
            [
              'journalctl -u drbd-standin-mail2 --since "-6min" --no-pager -o short-precise | tail -80',
              'journalctl -u pacemaker --since "-6min" --no-pager -o short-precise | grep -Ei "mail2|fence|stonith" | tail -120',
              'crm_mon -1 -r -f -A',
            ],
          )),
      );
    expect(d.timeline.some((e) => e.event === 'service-running' && e.detail === `mail2 runs on ${FIRST}`)).toBe(true);
    expect(d.services.find((s) => s.id === 'mail2')).toMatchObject({ before: SECOND, affected: true });
    expect(d.services.find((s) => s.id === 'mail2')!.seconds).toBeGreaterThan(0);
    expect(d.nodeBack).toBe(true);
    expect(d.timeline.map((e) => e.event)).toEqual(expect.arrayContaining(['fault-injected', 'node-down', 'node-fenced', 'service-running', 'node-back', 'recovered']));
    // mail2's data was on the survivor when it ran there; nothing read differs
    expect(d.markers.find((m) => m.service === 'mail2')).toMatchObject({ ok: true, node: FIRST });
    expect(d.markers.every((m) => m.ok !== false)).toBe(true);
    expect(JSON.stringify(d)).not.toContain(fencePassword);
    await bed.node(SECOND).started();
    await nodes.connect(SECOND);
    // its published ssh port changed with the new boot: the inventory follows
    await followPorts(inventory, bed);
    expect(await nodes.sh(SECOND, 'cat /proc/1/comm')).toBe('systemd');
  }, 400_000);

  it('a cluster that is not healthy is refused (exit 8), nothing done', async () => {
    // the node-failure drill can leave a failed action behind (seen: reims, back from its
    // reboot, was asked to promote mail2 before its resync: 'Refusing to be promoted to
    // Primary without access to UpToDate data'), which keeps status degraded until cleaned up
    await nodes.sh(FIRST, 'crm_resource --cleanup');
    await healthy();
    await nodes.sh(FIRST, `crm_attribute --node ${SECOND} --name standby --update on`);
    try {
      await until('degraded', async () => ((await cli(['status', inventory])).code === 8 ? true : undefined), 60_000);
      const r = await cli(['drill', inventory, '--switchover', '--yes']);
      expect(r.code, r.stderr).toBe(8);
      expect(r.stderr).toMatch(/refused: the cluster is degraded: .*standby/);
      expect(await nodes.sh(FIRST, 'cibadmin -Q -o constraints')).not.toMatch(/cli-prefer-|cli-ban-/);
    } finally {
      await nodes.sh(FIRST, `crm_attribute --node ${SECOND} --name standby --update off`);
    }
  }, 300_000);
});
