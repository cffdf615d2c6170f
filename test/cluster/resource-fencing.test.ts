/**
 * DRBD resource-level fencing on the bed (issue 14): playbooks/mutual-failover.yaml
 * on two fresh nodes with node fencing (fence_virsh through the bed's
 * hypervisor, action off) and `fencing.drbd: resource-and-stonith`, so the
 * resource files carry `fencing resource-and-stonith` and drbd-utils'
 * crm-fence-peer.9.sh / crm-unfence-peer.9.sh, which the stand-in's "kernel"
 * runs through the real drbdadm (docker/standin/README.md).
 *
 * The replication link of the node running mail1 is cut (docker network
 * disconnect): its Primary calls fence-peer, which puts a
 * drbd-fence-by-handler-* constraint for mail1 in the CIB; the Primary keeps
 * writing once the handler returned. Then that node dies (container killed),
 * the survivor fences it through hv, and does NOT promote mail1 (its copy
 * is outdated): no write is lost or diverges. The dead node started again,
 * DRBD resyncs from it (the write made after the cut reaches the peer's
 * disk) and crm-unfence-peer.9.sh removes the constraint.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../../docker/bed/testbed.js';
import { converged, cli, Nodes, until } from '../storage/support.js';
import { clusterStatus, nodeDiagnostics, type ClusterStatus, startFencedMutualFailover, type FencedMutualFailover } from './support.js';

const run = promisify(execFile);
const docker = (args: string[]) => run('docker', args);
const [FIRST, SECOND] = ['rennes', 'brest'];
const NODES = [FIRST, SECOND];
const GROUP = (n: 1 | 2) => [`mail${n}_fs`, `mail${n}_ip`, `mail${n}_service`];
const fencePassword = randomBytes(12).toString('hex');

let bed: Bed;
let nodes: Nodes;
let fenced: FencedMutualFailover;
let inventory: string;
const t: Record<string, number> = {};
const secs = (a: string, b: string) => `${((t[b]! - t[a]!) / 1000).toFixed(1)} s`;

function instanceAt(s: ClusterStatus, n: 1 | 2): string | undefined {
  const at = new Set(GROUP(n).map((id) => s.resources.find((r) => r.id === id && r.role === 'Started' && !r.failed)?.node ?? '-'));
  const promoted = s.resources.filter((r) => r.id === `drbd_mail${n}` && r.role === 'Promoted').map((r) => r.node);
  if (at.size !== 1 || at.has('-') || promoted.length !== 1 || !at.has(promoted[0]!)) return undefined;
  return promoted[0];
}

/** ids of crm-fence-peer's constraints in the CIB, as `on` reads it. */
async function fenceConstraints(on: string): Promise<string[]> {
  const xml = await nodes.sh(on, 'cibadmin -Q -o constraints');
  // the rsc_location ids (their rule and expression ids have -rule-/-expr- inside)
  return [...xml.matchAll(/<rsc_location\b[^>]*\bid="(drbd-fence-by-handler-[^"]*)"/g)].map((m) => m[1]!);
}

/**
 * A file's content in the ext4 that a node's own backing device of a DRBD
 * resource holds, as a mount after a promotion would see it: a copy of the
 * device with its journal replayed (e2fsck), read with debugfs; beside DRBD,
 * nothing on the node changes. Empty when the file is not there.
 */
async function onDisk(on: string, res: string, file: string): Promise<string> {
  const img = `/var/tmp/${res}-copy.img`;
  const r = await nodes.try(
    on,
    `dd if="$(drbdadm sh-ll-dev ${res})" of=${img} bs=1M status=none && { e2fsck -fy ${img} >/dev/null 2>&1; debugfs -R 'cat /${file}' ${img} 2>/dev/null; }; rm -f ${img}`,
  );
  return r.out;
}

/**
 * What each node's stand-ins and cluster saw, printed when the link cut is not
 * followed by fence-peer: every stand-in thread's stack (SIGUSR1, faulthandler),
 * their journals, DRBD's and the sockets' state.
 */
function standinDiagnostics(): Promise<string> {
  return nodeDiagnostics(nodes, NODES, [
    'systemctl kill -s USR1 drbd-standin-mail1 drbd-standin-mail2; sleep 1',
    'journalctl -u drbd-standin-mail1 -u drbd-standin-mail2 --no-pager -o short-precise | tail -250',
    'drbdsetup status --verbose --statistics',
    'ip -br addr; ss -tnoi',
    'crm_mon -1 -r -f',
    'journalctl --since "-5min" --no-pager | grep -Ei "crm-fence-peer|drbd|fence" | tail -60',
  ]);
}

describe('DRBD resource-level fencing (crm-fence-peer.9.sh) on playbooks/mutual-failover.yaml', () => {
  beforeAll(async () => {
    fenced = await startFencedMutualFailover({
      names: [FIRST, SECOND],
      fencePassword,
      tmpPrefix: 'ha-rfence-',
      domain: 'scalix.demo',
      action: 'off',
      amend: (inv) => {
        // apt's packages step took over 5 min (the default step timeout) on 2 CPUs shared with three other beds
        (inv['settings'] as Record<string, unknown>)['step_timeout'] = '10m';
        (inv['fencing'] as Record<string, unknown>)['drbd'] = 'resource-and-stonith';
      },
    });
    ({ bed, nodes, inventory } = fenced);
  });

  afterAll(async () => {
    await fenced?.stop();
  });

  it('applies in one run: resource files with fencing resource-and-stonith and the crm handlers', async () => {
    const t0 = Date.now();
    const r = await cli(['apply', inventory, '--json']);
    converged(r);
    console.log(`apply: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    for (const n of NODES) {
      const show = await nodes.sh(n, 'drbdsetup show mail1');
      expect(show).toMatch(/fencing\s+resource-and-stonith;/);
      const res = await nodes.sh(n, 'drbdadm dump mail1');
      expect(res).toContain('/usr/lib/drbd/crm-fence-peer.9.sh');
      expect(res).toContain('/usr/lib/drbd/crm-unfence-peer.9.sh');
    }
    await until(
      'mail1 on the first node, mail2 on the second, both UpToDate',
      async () => {
        const st = await clusterStatus(nodes, FIRST);
        if (instanceAt(st, 1) !== FIRST || instanceAt(st, 2) !== SECOND) return undefined;
        for (const r of ['mail1', 'mail2']) if ((await nodes.try(FIRST, `drbdadm dstate ${r}`)).out !== 'UpToDate/UpToDate') return undefined;
        return true;
      },
      90_000,
    );
    expect(await fenceConstraints(FIRST)).toEqual([]);
  }, 900_000); // the apply took ~10 min on 2 CPUs shared with three other beds (~200 s alone)

  it('the replication link cut: the Primary fences mail1 in the CIB (crm-fence-peer.9.sh) and keeps writing', async () => {
    await nodes.sh(FIRST, 'echo before-cut > /srv/mail1/before && sync -f /srv/mail1/before');
    t['cut'] = Date.now();
    await docker(['network', 'disconnect', bed.networks['replication']!, bed.node(FIRST).containerId]);
    const ids = await until(
      'crm-fence-peer constraints for mail1 and mail2',
      async () => {
        const c = await fenceConstraints(SECOND);
        return c.some((id) => id.includes('mail1')) && c.some((id) => id.includes('mail2')) ? c : undefined;
      },
      // crm-fence-peer.9.sh may by design take its --timeout (90 s) before it places the
      // constraint (a peer crmadmin -S cannot reach, or a CIB patch refused as older while
      // the cluster writes, are retried until then), after the 4 s ping timeout
      150_000,
    ).catch(async (e: unknown) => {
      console.log(`link cut at ${new Date(t['cut']!).toISOString()}, no fence-peer:\n${await standinDiagnostics()}`);
      throw e;
    });
    t['constraint'] = Date.now();
    const log = await until(
      'fence-peer returned on the first node, and I/O resumed',
      async () => {
        const j = await nodes.sh(FIRST, 'journalctl -u drbd-standin-mail1 --no-pager -o cat');
        // the stand-in writes the peer's outdated flag to the metadata (drbdmeta) between the two lines
        return /fence-peer helper returned/.test(j) && /resuming I\/O/.test(j) ? j : undefined;
      },
      60_000,
    );
    t['handler'] = Date.now();
    expect(log).toMatch(/suspending I\/O while the fence-peer handler runs/);
    expect(log).toMatch(new RegExp(`${SECOND}: helper command: /sbin/drbdadm fence-peer mail1`));
    expect(log).toMatch(new RegExp(`${SECOND}: fence-peer helper returned 4 \\(peer was fenced\\)`));
    expect(log).toMatch(/resuming I\/O \(peer fenced\)/);
    // writes on the Primary complete once the handler has returned
    await nodes.sh(FIRST, 'echo after-cut > /srv/mail1/after && sync -f /srv/mail1/after', 30_000);
    t['written'] = Date.now();
    expect(await nodes.sh(FIRST, 'cat /srv/mail1/after')).toBe('after-cut');
    expect(await nodes.sh(FIRST, 'drbdsetup events2 --now mail1')).toMatch(/peer-device name:mail1 .*peer-disk:Outdated/);
    expect(await nodes.sh(FIRST, 'drbdadm role mail1')).toBe('Primary');
    console.log(
      `cut -> constraints ${ids.join(', ')} seen ${secs('cut', 'constraint')}, handler done by ${secs('cut', 'handler')}, a write after the cut done ${secs('cut', 'written')} after the cut`,
    );
    console.log(
      log
        .split('\n')
        .filter((l) => /helper|fence|I\/O|lost/.test(l))
        .join('\n'),
    );
  }, 240_000);

  it('the Primary killed: the survivor fences it and does not promote the outdated mail1 (40 s); its copy is the old data', async () => {
    t['kill'] = Date.now();
    await bed.node(FIRST).kill();
    await until(
      'the first node fenced by the second',
      async () => {
        // never promoted, not even before the fencing is done
        expect(await nodes.sh(SECOND, 'drbdadm role mail1')).toBe('Secondary');
        const h = await nodes.try(SECOND, `stonith_admin --history ${FIRST} --output-as=xml`);
        return /status="success"/.test(h.out) && /action="off"/.test(h.out) ? true : undefined;
      },
      120_000,
    );
    t['fenced'] = Date.now();
    const end = Date.now() + 40_000;
    let polls = 0;
    while (Date.now() < end) {
      expect(await nodes.sh(SECOND, 'drbdadm role mail1')).toBe('Secondary');
      const st = await clusterStatus(nodes, SECOND);
      expect(st.resources.filter((r) => r.id === 'drbd_mail1' && r.role === 'Promoted')).toEqual([]);
      expect(instanceAt(st, 2)).toBe(SECOND);
      t['mail2-running'] ??= Date.now();
      polls++;
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect((await fenceConstraints(SECOND)).some((id) => id.includes('mail1'))).toBe(true);
    expect(await onDisk(SECOND, 'mail1', 'before')).toBe('before-cut');
    expect(await onDisk(SECOND, 'mail1', 'after')).toBe('');
    console.log(
      `kill -> fenced ${secs('kill', 'fenced')}, fenced -> mail2 seen running on ${SECOND} ${secs('fenced', 'mail2-running')}; mail1 not promoted on ${SECOND} for 40 s after the fencing (${polls} polls)`,
    );
  }, 200_000);

  it('the killed Primary back: DRBD resyncs from it, the write after the cut reaches the peer, crm-unfence-peer.9.sh removes the constraints', async () => {
    // the container comes back with its replication network (cut before it died)
    await docker(['network', 'connect', '--alias', FIRST, '--ip', bed.node(FIRST).addresses['replication']!, bed.networks['replication']!, bed.node(FIRST).containerId]);
    t['start'] = Date.now();
    await bed.node(FIRST).start();
    await nodes.connect(FIRST);
    await until(
      'mail1 back on the first node, both resources UpToDate on both',
      async () => {
        const st = await clusterStatus(nodes, SECOND);
        if (instanceAt(st, 1) !== FIRST) return undefined;
        for (const r of ['mail1', 'mail2']) if ((await nodes.try(SECOND, `drbdadm dstate ${r}`)).out !== 'UpToDate/UpToDate') return undefined;
        return true;
      },
      240_000,
    );
    t['resynced'] = Date.now();
    await until('no crm-fence-peer constraint left', async () => ((await fenceConstraints(SECOND)).length === 0 ? true : undefined), 60_000);
    t['unfenced'] = Date.now();
    const log = await nodes.sh(FIRST, 'journalctl -u drbd-standin-mail1 --no-pager -o cat');
    // the stand-in names the peer of each resync (one per connection since N-peer support)
    expect(log).toMatch(new RegExp(`resync of volume 0 to ${SECOND} done`));
    expect(log).toMatch(new RegExp(`${SECOND}: helper command: /sbin/drbdadm unfence-peer mail1 exit code 0`));
    expect(await nodes.sh(FIRST, 'cat /srv/mail1/after /srv/mail1/before')).toBe('after-cut\nbefore-cut');
    // the peer's own disk has what the Primary wrote after the cut
    expect(await onDisk(SECOND, 'mail1', 'after')).toBe('after-cut');
    console.log(`start -> mail1 back and resynced ${secs('start', 'resynced')}, constraints gone ${secs('start', 'unfenced')}`);
  }, 300_000);
});
