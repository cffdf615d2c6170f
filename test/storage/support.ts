/**
 * Shared by the storage and cluster tests: the bed helpers of
 * test/support/bed-cli.ts, and the shapes of the CLI's --json output.
 */
import { expect } from 'vitest';
import { json, type CliResult } from '../support/bed-cli.js';

export { BedShell as Nodes, BIN, cli, json, ROOT, until, type CliResult } from '../support/bed-cli.js';

export interface ApplyReport {
  outcome?: string;
  summary?: Record<string, { ok: number; changed: number; failed: number; skipped: number }>;
  steps: {
    node: string;
    step: string;
    outcome: string;
    message?: string;
    changes: (
      | { kind: 'exec'; argv: string[]; description: string }
      | { kind: 'upload'; path: string; description: string }
      | { kind: 'refuse'; reason: string }
      | { kind: 'wait'; description: string }
    )[];
  }[];
  unreachable: { node: string; error: string }[];
}

/**
 * The report of an `apply --json` that must have converged: every step ok or
 * changed (the others shown, with stderr, when not) and exit 0.
 */
export function converged(r: CliResult): ApplyReport {
  const report = json<ApplyReport>(r);
  const failed = report.steps.filter((s) => s.outcome !== 'ok' && s.outcome !== 'changed');
  expect(failed, JSON.stringify(failed, null, 2) + r.stderr).toEqual([]);
  expect(r.code, r.stderr).toBe(0);
  return report;
}

export interface PlanDoc {
  nodes: {
    name: string;
    error?: string;
    steps: { id: string; kind: string; status: string; reason?: string; changes: { kind: string; argv?: string[]; reason?: string; description?: string }[] }[];
  }[];
}

export function planKeys(plan: PlanDoc, statuses: readonly string[]): string[] {
  return plan.nodes.flatMap((n) => n.steps.filter((s) => statuses.includes(s.status)).map((s) => `${n.name}/${s.id}`)).sort();
}

/** `node/step` keys of the apply report's steps with this outcome. */
export function applyKeys(report: ApplyReport, outcome: string): string[] {
  return report.steps
    .filter((s) => s.outcome === outcome)
    .map((s) => `${s.node}/${s.step}`)
    .sort();
}

/** Playbook steps for the DRBD resource `data` of an inventory (packages, the resource file), for tests that write their own playbook. */
export const DRBD_RESOURCE_STEPS = `  - id: packages
    kind: packages
    with: {names: [drbd-utils]}
  - id: drbd-data
    kind: drbd-resource
    on: group:storage
    wait_for: [packages]
    with:
      name: !ref cluster.drbd.data.name
      minor: !ref cluster.drbd.data.minor
      port: !ref cluster.drbd.data.port
      protocol: !ref cluster.drbd.data.protocol
      resync_rate: !ref cluster.drbd.data.sync_rate
      hosts: !ref cluster.drbd.data.members
      quorum: !ref cluster.drbd.data.quorum
      on_no_quorum: !ref cluster.drbd.data.on_no_quorum
`;

/** DRBD_RESOURCE_STEPS, then metadata, up on every node of group storage, and the initial sync from the primary. */
export const DRBD_DATA_STEPS = `${DRBD_RESOURCE_STEPS}  - id: md-data
    kind: drbd-create-md
    on: group:storage
    wait_for: [drbd-data]
    with:
      resource: !ref cluster.drbd.data.name
      max_peers: !ref cluster.drbd.data.max_peers
  - id: up-data
    kind: drbd-up
    on: group:storage
    wait_for: [md-data]
    with:
      resource: !ref cluster.drbd.data.name
  - id: sync-data
    kind: drbd-initial-sync
    on: role:primary
    wait_for: [up-data]
    timeout: 3m
    with:
      resource: !ref cluster.drbd.data.name
`;

/** The commands a run executed to change something, per node: `step: argv`. */
export function execsByNode(report: ApplyReport, names: readonly string[]): Record<string, string[]> {
  return Object.fromEntries(
    names.map((n) => [n, report.steps.filter((s) => s.node === n).flatMap((s) => s.changes.flatMap((c) => (c.kind === 'exec' ? [`${s.step}: ${c.argv.join(' ')}`] : [])))]),
  );
}
