/** Exit codes of ha-provision (documented in the README). */
export const EXIT = {
  /** Success; nothing failed (with --detailed-exitcode: and nothing changed / nothing to change). */
  OK: 0,
  /** A node or step failed, a node was unreachable, or an internal error. */
  FAILED: 1,
  /** Invalid input: usage, inventory, playbook or plan file errors. Nothing was contacted. */
  INVALID: 2,
  /** Interrupted (Ctrl-C): stopped between steps; run again to resume. */
  INTERRUPTED: 3,
  /** apply --plan: the plan is stale (inputs or nodes changed since); nothing was changed. */
  STALE: 4,
  /** Another run holds the lock on this inventory. */
  LOCKED: 5,
  /** Only with --detailed-exitcode: success, and changes were made (apply) or are planned (plan). */
  CHANGES: 6,
  /**
   * The plan holds a refusal that no earlier step can lift (a step refuses on
   * what it reads, and nothing before it may change that): `plan` says so;
   * `apply` stops before its first change. Nothing was changed.
   */
  REFUSED: 7,
  /** `status` only: the cluster runs but is not fully healthy (a node unreachable or not online, DRBD not UpToDate/Connected, a resource stopped, a failed action). */
  DEGRADED: 8,
  /** `status` only: no node answers, none that answers has quorum, or Pacemaker runs on none of them. */
  DOWN: 9,
  /** `drill` only: the drill failed (the cluster did not recover within the timeout, or a check failed). */
  DRILL_FAILED: 10,
} as const;
