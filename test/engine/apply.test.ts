/**
 * The engine against REAL loopback sshd daemons (test/support/sshd.ts): plan,
 * apply, idempotence, saved plans, failures, host keys, the lock.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { JsonReport } from '../../src/report/json.js';
import type { Plan } from '../../src/plan/types.js';
import { startBed, type Bed } from './fixture.js';

const SLOW = `name: slow
steps:
  - id: first
    kind: file
    with: {path: !concat [!ref vars.root, /first], content: "1\\n"}
  - id: slow
    kind: command
    with:
      shell: !concat ["sleep 2; touch ", !ref vars.root, /slow]
      creates: !concat [!ref vars.root, /slow]
  - id: last
    kind: file
    with: {path: !concat [!ref vars.root, /last], content: "3\\n"}
`;

let bed: Bed | undefined;

/**
 * Until `node` is inside SLOW's 2 s `slow` step: its `first` file written,
 * then 300 ms (that step's verification and `slow`'s check are round trips
 * of a few ms). A fixed delay from the CLI's start was not enough on a
 * loaded machine: the kill came before the run reached the node.
 */
async function insideSlowStep(b: Bed, node: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (b.snapshot()[`${node}:first`] === undefined) {
    if (Date.now() > deadline) throw new Error(`${node}'s first step did not run in 30 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 300));
}
afterEach(async () => {
  await bed?.stop();
  bed = undefined;
});

describe('plan and apply on loopback sshd nodes', () => {
  it('plan lists exactly the changes apply makes; a second apply changes nothing', async () => {
    bed = await startBed(3);
    const p = await bed.cli(['plan', bed.inventory, '--json']);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    const plan = JSON.parse(p.stdout) as Plan;
    expect(plan.nodes.map((n) => n.name)).toEqual(['bob', 'alice', 'carol']);
    const dry = await bed.cli(['apply', bed.inventory, '--dry-run', '--json', '--detailed-exitcode']);
    expect(dry.code).toBe(6);
    const dryPlan = JSON.parse(dry.stdout) as Plan;
    expect(dryPlan.nodes).toEqual(plan.nodes); // apply --dry-run is the plan
    expect(bed.snapshot()).toEqual({}); // and changes nothing

    const a = await bed.cli(['apply', bed.inventory, '--json', '--detailed-exitcode']);
    expect(a.code, a.stderr).toBe(6);
    const report = JSON.parse(a.stdout) as JsonReport;
    expect(report.outcome).toBe('changed');
    const applied = new Map(report.steps.map((s) => [`${s.node}/${s.step}`, s]));
    let exact = 0;
    for (const n of plan.nodes) {
      for (const s of n.steps) {
        const r = applied.get(`${n.name}/${s.id}`)!;
        expect(r, `${n.name}/${s.id}`).toBeDefined();
        if (s.status === 'change') {
          // known before apply: exactly these changes ran
          expect(r.outcome).toBe('changed');
          expect(r.changes).toEqual(s.changes);
          exact++;
        } else if (s.status === 'ok') expect(r.outcome).toBe('ok');
        else expect(s.status).toBe('pending');
        if (r.outcome === 'changed') expect(['change', 'pending']).toContain(s.status);
      }
    }
    expect(exact).toBe(15); // motd, base-conf, app-port, hosts, dirs on each node are known in advance
    expect(report.summary).toEqual({
      bob: { ok: 1, changed: 7, failed: 0, skipped: 0 },
      alice: { ok: 1, changed: 7, failed: 0, skipped: 0 },
      carol: { ok: 1, changed: 7, failed: 0, skipped: 0 },
    });

    const again = await bed.cli(['apply', bed.inventory, '--detailed-exitcode']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).not.toContain('changed:');
    expect(again.stdout).toMatch(/bob\s+8\s+0\s+0\s+0/);
    const plan2 = JSON.parse((await bed.cli(['plan', bed.inventory, '--json'])).stdout) as Plan;
    expect(plan2.nodes.flatMap((n) => n.steps.map((s) => s.status)).every((s) => s === 'ok')).toBe(true);
    expect(bed.snapshot()['bob:var/lib/app/runs']).toBe('644 x\n');
  });

  it('apply --plan applies a saved plan once; the same plan is then stale', async () => {
    bed = await startBed(2);
    const p = await bed.cli(['plan', bed.inventory, '-o', 'plan.json']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain('Plan written to plan.json');
    const a = await bed.cli(['apply', '--plan', 'plan.json']);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(a.stdout).toContain('bob: motd: changed');
    const again = await bed.cli(['apply', '--plan', 'plan.json']);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('is stale; nothing was changed');
    expect(again.stderr).toContain('step motd on bob: the node changed since the plan was made (now ok, already right)');
  });

  it('a plan is stale when a node changed by hand, and when the inventory changed', async () => {
    bed = await startBed(2);
    await bed.cli(['apply', bed.inventory]);
    writeFileSync(join(bed.root(1), 'etc/motd'), 'edited by hand\n');
    const p = await bed.cli(['plan', bed.inventory, '-o', 'plan.json']);
    expect(p.stdout).toContain('-edited by hand');
    expect(p.stdout).toContain('+hello from alice');
    writeFileSync(join(bed.root(1), 'etc/motd'), 'edited again\n');
    const a = await bed.cli(['apply', '--plan', 'plan.json']);
    expect(a.code).toBe(4);
    expect(a.stderr).toContain('step motd on alice: the node changed since the plan was made');
    expect(bed.snapshot()['alice:etc/motd']).toBe('644 edited again\n');

    const p2 = await bed.cli(['plan', bed.inventory, '-o', 'plan2.json']);
    expect(p2.code).toBe(0);
    writeFileSync(bed.inventory, (await import('node:fs')).readFileSync(bed.inventory, 'utf8') + '\n# touched\n');
    const a2 = await bed.cli(['apply', '--plan', 'plan2.json']);
    expect(a2.code).toBe(4);
    expect(a2.stderr).toContain('inventory.yaml changed since the plan was made');
  });

  it('a node whose sshd dies fails; the others finish', async () => {
    bed = await startBed(3, { playbook: SLOW });
    const run = bed.cli(['apply', bed.inventory, '--json']);
    await insideSlowStep(bed, 'alice');
    await bed.sshd.kill(1);
    const a = await run;
    expect(a.code).toBe(1);
    const report = JSON.parse(a.stdout) as JsonReport;
    expect(report.outcome).toBe('failed');
    expect(report.summary!.alice!.failed).toBe(1);
    expect(report.summary!.alice!.skipped).toBe(1);
    expect(report.summary!.bob).toEqual({ ok: 0, changed: 3, failed: 0, skipped: 0 });
    expect(report.summary!.carol).toEqual({ ok: 0, changed: 3, failed: 0, skipped: 0 });
    const failed = report.steps.find((s) => s.node === 'alice' && s.outcome === 'failed')!;
    expect(failed.step).toBe('slow');
    expect(failed.message).toMatch(/lost the SSH connection|connect/i);
  });

  it('a connection lost mid-step is reopened; the step is re-checked and finished', async () => {
    bed = await startBed(2, { playbook: SLOW });
    const run = bed.cli(['apply', bed.inventory, '--json']);
    await insideSlowStep(bed, 'alice');
    await bed.sshd.restart(1); // kills alice's connection and the command it ran
    const a = await run;
    expect(a.code, a.stdout + a.stderr).toBe(0);
    const report = JSON.parse(a.stdout) as JsonReport;
    expect(report.summary!.alice).toEqual({ ok: 0, changed: 3, failed: 0, skipped: 0 });
    expect(bed.snapshot()['alice:slow']).toBe('644 ');
    expect(bed.snapshot()['alice:last']).toBe('644 3\n');
  });

  it('refuses a changed host key, even with --accept-new-host-keys', async () => {
    bed = await startBed(2);
    await bed.sshd.restart(0, { newHostKey: true });
    for (const extra of [[], ['--accept-new-host-keys']]) {
      const a = await bed.cli(['apply', bed.inventory, '--json', ...extra]);
      expect(a.code).toBe(1);
      const report = JSON.parse(a.stdout) as JsonReport;
      expect(report.summary!.bob!.failed).toBe(1);
      expect(report.summary!.alice!.failed).toBe(0);
      expect(JSON.stringify(report)).toMatch(/host key/i);
    }
    expect(bed.snapshot()['bob:etc/motd']).toBeUndefined();
    expect(bed.snapshot()['alice:etc/motd']).toBe('644 hello from alice\n');
  });

  it('a second run on the same inventory is refused, naming the first; a dead holder is taken over', async () => {
    bed = await startBed(1);
    mkdirSync(bed.stateDir, { recursive: true });
    const lock = join(bed.stateDir, 'lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', runId: 'other-run' }));
    const a = await bed.cli(['apply', bed.inventory]);
    expect(a.code).toBe(5);
    expect(a.stderr).toContain(`another run holds the lock on this inventory: pid ${process.pid} on ${hostname()}, run other-run`);
    expect(bed.snapshot()).toEqual({});

    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', runId: 'dead-run' }));
    const b = await bed.cli(['apply', bed.inventory]);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(b.stdout).toContain('took over a stale lock left by pid');
  });
});

describe('selection and secrets', () => {
  it('--limit touches only the named nodes; --from starts at a step', async () => {
    bed = await startBed(3);
    const a = await bed.cli(['apply', bed.inventory, '--limit', 'alice', '--from', 'hosts', '--json']);
    expect(a.code, a.stderr).toBe(0);
    const report = JSON.parse(a.stdout) as JsonReport;
    expect(Object.keys(report.summary!)).toEqual(['alice']);
    expect([...new Set(report.steps.map((s) => s.step))]).toEqual(['hosts', 'dirs', 'state-file', 'counter', 'no-debug']);
    const snap = bed.snapshot();
    expect(Object.keys(snap).filter((k) => !k.startsWith('alice:'))).toEqual([]);
    expect(snap['alice:etc/motd']).toBeUndefined();
    expect(snap['alice:etc/hosts']).toBe('644 127.0.1.1 cluster\n');
    const bad = await bed.cli(['plan', bed.inventory, '--limit', 'mallory']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--limit: unknown node(s) mallory');
  });

  it('a secret from the environment never shows in plan, output, log or journal', async () => {
    const secret = 'Sup3r-S3cret-Value';
    bed = await startBed(2, {
      playbook: `name: secrets
steps:
  - id: key-file
    kind: file
    with:
      path: !concat [!ref vars.root, /etc/app/key]
      content: !concat ["key=", !ref cluster.drbd.r0.shared_secret, "\\n"]
      mode: "0600"
  - id: key-line
    kind: line
    with:
      path: !concat [!ref vars.root, /etc/app/app.conf]
      regexp: "^secret="
      line: !concat ["secret=", !ref cluster.drbd.r0.shared_secret]
      create: true
  - id: key-cmd
    kind: command
    with:
      argv: [sh, -c, 'echo "$1" > "$0"', !concat [!ref vars.root, /var/lib/app/copy], !ref cluster.drbd.r0.shared_secret]
      creates: !concat [!ref vars.root, /var/lib/app/copy]
`,
      extra: `networks:\n  lan: {cidr: 127.0.0.0/8}\ndrbd:\n  - {name: r0, minor: 0, port: 7788, network: lan, disk: /dev/loop7, nodes: {bob: {}, alice: {}}, shared_secret: {env: HAPV_TEST_SECRET}}\n`,
      nodeExtra: (i) => `    networks: {lan: {address: 127.0.0.${i + 2}}}\n`,
    });
    const env = { HAPV_TEST_SECRET: secret };
    const outputs: string[] = [];
    for (const args of [
      ['plan', bed.inventory],
      ['plan', bed.inventory, '--json', '-o', 'plan.json'],
      ['apply', bed.inventory, '--json'],
      ['apply', bed.inventory, '-v'],
    ]) {
      const r = await bed.cli(args, env);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      outputs.push(r.stdout, r.stderr);
    }
    const { readdirSync, readFileSync } = await import('node:fs');
    const files = [join(bed.dir, 'plan.json'), join(bed.stateDir, 'journal.jsonl'), ...readdirSync(join(bed.stateDir, 'logs')).map((f) => join(bed!.stateDir, 'logs', f))];
    const all = outputs.join('\n') + files.map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(all).toContain('********');
    expect(all).not.toContain(secret);
    expect(bed.snapshot()['bob:etc/app/key']).toBe(`600 key=${secret}\n`);
    expect(bed.snapshot()['alice:var/lib/app/copy']).toBe(`644 ${secret}\n`);
  });
});
