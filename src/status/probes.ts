/** What `status` runs on each node: read-only, in one round trip with the plan's probes (src/cli/status.ts). */
import { CRM_MON_STATUS_ARGV } from '../facts/crm-mon.js';
import { QUORUM_ARGV } from '../facts/quorum.js';
import type { Probe, ProbeResult } from '../steps/contract.js';
import { SECOND_LOOK, SECOND_LOOK_SECONDS, type NodeAnswer } from './model.js';

/**
 * `drbdsetup events2 --now --statistics`; while a resync runs (a `done:`
 * key), a second look 0.5 s later, after a line SECOND_LOOK: the rate of
 * `done` between the two gives the estimate of the time left (drbd 9.2's
 * events2 has no rate of its own: out-of-sync stays at its value when the
 * resync began, measured on the lab). Its exit code is the first look's.
 */
const DRBD_SCRIPT = [
  'out=$(drbdsetup events2 --now --statistics); rc=$?',
  'printf "%s\\n" "$out"',
  '[ $rc -eq 0 ] || exit $rc',
  `case "$out" in *" done:"*) sleep ${SECOND_LOOK_SECONDS}; echo '${SECOND_LOOK}'; drbdsetup events2 --now --statistics ;; esac`,
  'exit 0',
].join('\n');

/** Elevated when the node's inventory sets `ssh.become` (crm_mon, drbdsetup and corosync-quorumtool need root). */
export function statusProbes(sudo: boolean): Probe[] {
  const s = sudo ? { sudo: true } : {};
  return [
    { id: 'status:quorum', argv: [...QUORUM_ARGV], ...s },
    { id: 'status:crm_mon', argv: [...CRM_MON_STATUS_ARGV], ...s },
    { id: 'status:drbd', argv: ['sh', '-c', DRBD_SCRIPT], ...s },
  ];
}

export function toAnswer(name: string, results: readonly ProbeResult[]): NodeAnswer {
  const [quorum, crmMon, drbd] = results;
  return { name, ...(quorum ? { quorum } : {}), ...(crmMon ? { crmMon } : {}), ...(drbd ? { drbd } : {}) };
}
