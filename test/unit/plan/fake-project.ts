/** A Project built in memory for pure planning tests (no files, no SSH). */
import type { Project, ResolvedNode, ResolvedStep } from '../../../src/playbook/resolve.js';

export function fakeNode(name: string, secrets: string[] = []): ResolvedNode {
  return {
    name,
    endpoint: { name, host: '127.0.0.1', port: 22, user: 'root', auth: { kind: 'agent' } },
    hostKeys: { knownHostsPath: '/dev/null', mode: 'strict' },
    roles: [],
    groups: [],
    networks: {},
    vars: {},
    secrets,
  };
}

export function fakeStep(id: string, kind: string, params: Record<string, unknown>, targets: string[], waitFor: string[] = []): ResolvedStep {
  return { id, kind, title: id, targets, waitFor, paramsByNode: Object.fromEntries(targets.map((t) => [t, params])), source: { file: 'pb.yaml', line: 1, column: 1 } };
}

export function fakeProject(nodes: ResolvedNode[], steps: ResolvedStep[]): Project {
  return {
    inventoryPath: '/inv.yaml',
    playbookPath: '/pb.yaml',
    inventoryDigest: 'i'.repeat(64),
    playbookDigest: 'p'.repeat(64),
    cluster: { name: 'c', vars: {}, networks: [], drbd: [], filesystems: [], vips: [], fencing: { enabled: false, devices: [], action: 'reboot', delayMaxS: 0, drbd: 'off' } },
    nodes,
    steps,
    settings: { concurrency: 5, maxFailPercent: 0, stepTimeoutMs: 60_000, strategy: 'linear', stateDir: '/tmp/x' },
    secrets: nodes.flatMap((n) => n.secrets),
  };
}
