/**
 * `ssh.become` elevates (issue 11, point 1): on a node whose inventory sets
 * become, every step of a kind that takes `sudo` runs elevated unless the
 * step says `sudo: false`; on a node without become nothing is elevated.
 * Real step kinds (the built-in registry), so their probes and changes are
 * what the engine would run.
 */
import { describe, expect, it } from 'vitest';
import { formatInputError } from '../../../src/inventory/errors.js';
import { loadProject } from '../../../src/playbook/resolve.js';
import { stepNode } from '../../../src/plan/select.js';
import { builtinRegistry } from '../../../src/steps/builtin.js';

const INVENTORY = `
cluster: c
playbook: playbook.yaml
ssh: {user: admin, auth: {agent: true}, become: {method: sudo, password: {env: SUDO_PW}}}
networks:
  lan: {cidr: 127.0.0.0/8}
nodes:
  web1:
    ssh: {host: 127.0.0.1, port: 2201}
    networks: {lan: {address: 127.0.0.11}}
  web2:
    ssh: {host: 127.0.0.1, port: 2202, user: root, become: sudo}
    networks: {lan: {address: 127.0.0.12}}
  web3:
    ssh: {host: 127.0.0.1, port: 2203}
    networks: {lan: {address: 127.0.0.13}}
`;

const PLAYBOOK = `
name: p
steps:
  - {id: motd, kind: file, with: {path: /etc/motd, content: "hello\\n"}}
  - {id: own, kind: file, with: {path: /tmp/mine, content: "x\\n", sudo: false}}
  - {id: svc, kind: service, with: {name: corosync, enabled: true}}
`;

async function load(inventory: string) {
  const registry = builtinRegistry();
  const files: Record<string, string> = { 'inventory.yaml': inventory, 'playbook.yaml': PLAYBOOK };
  const r = await loadProject({
    inventoryPath: 'inventory.yaml',
    registry,
    env: { SUDO_PW: 'pw-not-in-output' },
    homeDir: '/home/test',
    readFile: async (p) => {
      const f = files[p];
      if (f === undefined) throw Object.assign(new Error(`no file ${p}`), { code: 'ENOENT' });
      return f;
    },
  });
  if (!r.ok) throw new Error(r.errors.map(formatInputError).join('\n'));
  return { project: r.project, registry };
}

describe('become', () => {
  it('elevates every command of every step on a node with become, unless the step opts out', async () => {
    const { project, registry } = await load(INVENTORY);
    const motd = project.steps.find((s) => s.id === 'motd')!;
    const own = project.steps.find((s) => s.id === 'own')!;
    const svc = project.steps.find((s) => s.id === 'svc')!;
    for (const node of ['web1', 'web2', 'web3']) {
      expect((motd.paramsByNode[node] as { sudo: boolean }).sudo, node).toBe(true);
      expect((svc.paramsByNode[node] as { sudo: boolean }).sudo, node).toBe(true);
      expect((own.paramsByNode[node] as { sudo: boolean }).sudo, node).toBe(false);
    }
    const n = project.nodes.find((x) => x.name === 'web1')!;
    const kind = registry.kind('service');
    const probes = kind.probes(svc.paramsByNode['web1'], stepNode(n));
    expect(probes.length).toBeGreaterThan(0);
    for (const p of probes) expect(p.sudo, p.id).toBe(true);
    const fileKind = registry.kind('file');
    for (const p of fileKind.probes(own.paramsByNode['web1'], stepNode(n))) expect(p.sudo ?? false, p.id).toBe(false);
  });

  it('elevates nothing when no node has become', async () => {
    const { project } = await load(INVENTORY.replace(/, become: \{method: sudo, password: \{env: SUDO_PW\}\}/, '').replace(', become: sudo', ''));
    for (const s of project.steps) for (const node of s.targets) expect((s.paramsByNode[node] as { sudo: boolean }).sudo, `${s.id}@${node}`).toBe(false);
  });
});
