/**
 * Ping heuristics on the bed (issue 14, seed 004's gateway check):
 * playbooks/mutual-failover.yaml on two fresh nodes fenced through the bed's
 * hypervisor (fence_virsh, action off), with the inventory's
 * fencing.heuristics pinging the lan's gateway (the bed network's .1).
 *  - apply puts fence_heuristics_ping first on each node's fencing level
 *    (the CIB's <fencing-topology>: fl-NODE-1 = check,fence_NODE);
 *  - the first node loses the gateway (ICMP to it prohibited by a policy
 *    rule on that node; SSH and corosync keep working): its request to
 *    fence the second fails at the heuristics level (the check, run by the
 *    node that asked, returns 1; the second's fence_virsh device never
 *    runs), and the second stays up, not fenced;
 *  - the second node, which reaches the gateway, fences the first: powered
 *    off through the hypervisor.
 * Measured times are printed.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { converged, cli, Nodes, until } from '../storage/support.js';
import { clusterStatus, lanAddress, startFencedMutualFailover, type FencedMutualFailover } from './support.js';

const [FIRST, SECOND] = ['vannes', 'brest'];
const NODES = [FIRST, SECOND];
const fencePassword = randomBytes(12).toString('hex');
const started = Date.now();

let nodes: Nodes;
let fenced: FencedMutualFailover;
let inventory: string;
let gateway: string;

describe('fencing.heuristics on a fenced two-node cluster', () => {
  beforeAll(async () => {
    fenced = await startFencedMutualFailover({
      names: [FIRST, SECOND],
      fencePassword,
      tmpPrefix: 'ha-heuristics-',
      domain: 'heur.demo',
      action: 'off',
      amend: (inv, b) => {
        gateway = lanAddress(b, 1);
        (inv['fencing'] as Record<string, unknown>)['heuristics'] = { name: 'ping_gateway', ping: [gateway], count: 3, good_count: 2, interval: '1s', timeout: '1s' };
      },
    });
    ({ nodes, inventory } = fenced);
  }, 180_000);

  afterAll(async () => {
    await fenced?.stop();
    console.log(`heuristics.test.ts: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  });

  it('the plan shows the check device and both levels; one apply commits them', async () => {
    const p = await cli(['plan', inventory]);
    expect(p.code, p.stderr).toBe(0);
    const t0 = Date.now();
    const r = await cli(['apply', inventory, '--json']);
    const report = converged(r);
    console.log(`apply: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const crm = report.steps.find((s) => s.step === 'pacemaker-config' || s.changes.some((c) => c.kind === 'upload' && c.path.endsWith('ha-provision-configuration.xml')));
    const upload = crm?.changes.find((c) => c.kind === 'upload');
    expect(upload && upload.kind === 'upload' ? upload.description : '').toMatch(/\+ primitive ping_gateway; .*\+ fencing-level fl-vannes-1; \+ fencing-level fl-brest-1/);
    const topology = await nodes.sh(FIRST, 'cibadmin --query --scope fencing-topology');
    expect(topology).toContain('id="fl-vannes-1" target="vannes" index="1" devices="ping_gateway,fence_vannes"');
    expect(topology).toContain('id="fl-brest-1" target="brest" index="1" devices="ping_gateway,fence_brest"');
    // a second plan finds nothing to do in the CIB
    const again = await cli(['plan', inventory]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/fencing_topology/);
  }, 900_000);

  it('the node cut off from the gateway cannot fence its peer: its level fails at the ping check', async () => {
    await until(
      'the check device registered on both nodes',
      async () => {
        const a = await nodes.try(FIRST, 'stonith_admin --list-registered');
        return a.out.includes('ping_gateway') ? true : undefined;
      },
      120_000,
    );
    expect((await nodes.try(FIRST, `ping -n -q -c 1 -W 1 ${gateway}`)).code).toBe(0);
    // ICMP to the gateway only: SSH (whose replies go to the same address) and corosync keep working
    await nodes.sh(FIRST, `ip rule add to ${gateway}/32 ipproto 1 prohibit priority 100`);
    expect((await nodes.try(FIRST, `ping -n -q -c 1 -W 1 ${gateway}`)).code).not.toBe(0);
    const t0 = Date.now();
    const r = await nodes.try(FIRST, `stonith_admin --fence ${SECOND} --timeout 60`, 180_000);
    const seconds = (Date.now() - t0) / 1000;
    console.log(`fencing ${SECOND} from ${FIRST} (cut off): exit ${r.code} after ${seconds.toFixed(1)} s: ${(r.out + r.err).trim()}`);
    expect(r.code, r.out + r.err).not.toBe(0);
    const history = await nodes.sh(SECOND, `stonith_admin --history ${SECOND} --verbose || true`);
    console.log(`history of ${SECOND}:\n${history}`);
    expect(history).toMatch(/failed/i);
    const log = await nodes.try(FIRST, `grep -h "ping_gateway\\|heuristics" /var/log/pacemaker/pacemaker.log | grep -v "error output" | tail -20`);
    console.log(`${FIRST}'s fencer on the check:\n${log.out}`);
    // the level failed at its first device, the check, run by the node that asked; the peer's device never ran
    expect(log.out).toMatch(new RegExp(`Operation 'off' \\[\\d+\\] targeting ${SECOND} using ping_gateway returned 1`));
    expect(history).toContain(`delegate=${FIRST}`);
    const ran = await nodes.try(FIRST, `grep -c "targeting ${SECOND} using fence_${SECOND}" /var/log/pacemaker/pacemaker.log`);
    expect(ran.out.trim()).toBe('0');
    // the peer was never powered off
    const s = await clusterStatus(nodes, SECOND);
    expect(s.online).toEqual([...NODES].sort());
    expect((await nodes.try(SECOND, 'uptime')).code).toBe(0);
  }, 300_000);

  it('the node that reaches the gateway fences the cut-off one (powered off through the hypervisor)', async () => {
    const t0 = Date.now();
    const r = await nodes.try(SECOND, `stonith_admin --fence ${FIRST} --timeout 60`, 180_000);
    console.log(`fencing ${FIRST} from ${SECOND}: exit ${r.code} after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${(r.out + r.err).trim()}`);
    expect(r.code, r.out + r.err).toBe(0);
    await until('the fenced node off', async () => ((await nodes.try(FIRST, 'true', 5_000).catch(() => ({ code: 255 }))).code !== 0 ? true : undefined), 60_000);
    const history = await nodes.sh(SECOND, `stonith_admin --history ${FIRST} --verbose || true`);
    console.log(`history of ${FIRST}:\n${history}`);
    expect(history).toMatch(/off of vannes by brest[^\n]*\n?[^\n]*(completed|successful)|state=done|success/i);
  }, 300_000);
});
