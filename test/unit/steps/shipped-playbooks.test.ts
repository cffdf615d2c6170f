/**
 * Issue 11.4: no shipped playbook runs a data-destroying command through a
 * `command` step without saying so (`destructive: true`), and the check
 * (a refinement of the command kind's parameters) stops a playbook that
 * does at validation: exit 2, the file, line and key named.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runValidate } from '../../../src/cli/validate.js';
import { formatInputError } from '../../../src/inventory/errors.js';
import { loadProject } from '../../../src/playbook/resolve.js';
import { builtinRegistry } from '../../../src/steps/builtin.js';
import { findInArgv, findInScript } from '../../../src/steps/destructive.js';
import type { CommandParams } from '../../../src/steps/kinds/command.js';
import { sink } from '../../support/sink.js';

const repo = join(import.meta.dirname, '../../..');

/** Each shipped playbook with the inventories it is validated against (every playbook must be listed). */
const INVENTORIES: Record<string, string[]> = {
  'kopano-drbd.yaml': ['inventory/kopano-bob-alice.yaml', 'inventory/lab.yaml'],
  'storage.yaml': ['inventory/kopano-bob-alice.yaml', 'inventory/lab.yaml'],
  'lab.yaml': ['inventory/lab.yaml'],
  'mutual-failover.yaml': ['inventory/lab-mutual-failover.yaml'],
  'arbitrator.yaml': ['test/fixtures/playbooks/arbitrator-inventory.yaml'],
  'three-nodes.yaml': ['inventory/three-nodes.yaml'],
};

describe('shipped playbooks', async () => {
  const playbooks = (await readdir(join(repo, 'playbooks'))).filter((f) => f.endsWith('.yaml')).sort();

  it('are all listed here with an inventory of their shape', () => {
    expect(playbooks.filter((p) => INVENTORIES[p] === undefined)).toEqual([]);
    expect(playbooks).not.toContain('kopano.yaml'); // the early, unsafe one (issue 11.4)
  });

  for (const playbook of playbooks) {
    for (const inventory of INVENTORIES[playbook] ?? []) {
      it(`${playbook} (with ${inventory}) runs no data-destroying command step without destructive: true`, async () => {
        const r = await loadProject({
          inventoryPath: inventory,
          playbookPath: `playbooks/${playbook}`,
          registry: builtinRegistry(),
          secrets: 'skip',
          cwd: repo,
          homeDir: '/home/test',
        });
        if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
        const found: string[] = [];
        for (const step of r.project.steps.filter((s) => s.kind === 'command')) {
          for (const [node, params] of Object.entries(step.paramsByNode)) {
            const p = params as CommandParams;
            const f = p.argv !== undefined ? findInArgv(p.argv, p.stdin) : findInScript(p.shell ?? '');
            if (f && !p.destructive) found.push(`${step.id} on ${node}: ${f.command}`);
            const g = p.unless !== undefined ? findInArgv(p.unless) : undefined;
            if (g) found.push(`${step.id} on ${node} (guard): ${g.command}`);
          }
        }
        expect(found).toEqual([]);
      });
    }
  }
});

describe('a command step that destroys data', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ha-destructive-'));
    await writeFile(
      join(dir, 'inventory.yaml'),
      [
        'cluster: c',
        'playbook: playbook.yaml',
        'ssh: {user: root, auth: {agent: true}, host_key_policy: accept-new}',
        'nodes:',
        '  bob: {ssh: {host: 192.0.2.10}, roles: [primary]}',
        '  alice: {ssh: {host: 192.0.2.11}}',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const validate = async (playbook: string) => {
    await writeFile(join(dir, 'playbook.yaml'), playbook);
    const out = sink();
    const err = sink();
    const code = await runValidate(['inventory.yaml'], { stdout: out.stream, stderr: err.stream }, { registry: builtinRegistry(), cwd: dir, homeDir: dir });
    return { code, stdout: out.text(), stderr: err.text() };
  };

  it('fails validation with exit 2, naming the file, line and key, what it found and what to do', async () => {
    const r = await validate(
      [
        'name: unsafe',
        'steps:',
        '  - id: first-sync',
        '    kind: command',
        '    on: role:primary',
        '    with:',
        '      argv: [drbdadm, --, --overwrite-data-of-peer, primary, all]',
        "      unless: [grep, -q, 'ro:Primary', /proc/drbd]",
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'playbook.yaml:7:13 steps[0].with.argv: refused: runs `drbdadm -- --overwrite-data-of-peer primary all`, which destroys data ' +
        "(drbdadm primary --overwrite-data-of-peer makes this node's data win, overwriting the peer's (or promotes data that is not up to date)); " +
        'use the partition/mkfs/drbd-create-md/drbd-initial-sync/sbd-device step kinds, which check the device first, or set destructive: true with a guard (creates/unless) that proves the data is not there\n' +
        '1 error\n',
    );
  });

  it('points into an inline script, and at `shell:`', async () => {
    const r = await validate(
      [
        'name: unsafe',
        'steps:',
        '  - id: fs',
        '    kind: command',
        '    with:',
        '      creates: /srv/done',
        '      argv:',
        '        - sh',
        '        - -c',
        '        - |',
        '          set -e',
        '          mkfs.ext4 -F /dev/vdb1',
        '  - id: wipe',
        '    kind: command',
        '    with: {shell: "wipefs -a /dev/vdb", unless: [test, -e, /srv/wiped]}',
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^playbook\.yaml:10:11 steps\[0\]\.with\.argv\[2\]: refused: runs `mkfs\.ext4 -F \/dev\/vdb1`, which destroys data \(mkfs\.ext4 creates a new file system/,
    );
    expect(lines[1]).toMatch(/^playbook\.yaml:15:19 steps\[1\]\.with\.shell: refused: runs `wipefs -a \/dev\/vdb`, which destroys data \(wipefs -a erases/);
    expect(lines[2]).toBe('2 errors');
  });

  it('is accepted with destructive: true and its guard', async () => {
    const r = await validate(
      [
        'name: knowingly',
        'steps:',
        '  - id: fs',
        '    kind: command',
        '    with:',
        '      argv: [mkfs.ext4, /dev/vdb1]',
        '      unless: [blkid, /dev/vdb1]',
        '      destructive: true',
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('inventory.yaml: valid (2 nodes: bob, alice; 1 steps)\n');
  });

  it('a guard that destroys data is refused even with destructive: true', async () => {
    const r = await validate(
      ['name: guard', 'steps:', '  - id: g', '    kind: command', '    with: {argv: ["true"], unless: [sgdisk, -Z, /dev/vdb], destructive: true}', ''].join('\n'),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^playbook\.yaml:5:36 steps\[0\]\.with\.unless: refused: the guard runs `sgdisk -Z \/dev\/vdb`/);
  });
});
