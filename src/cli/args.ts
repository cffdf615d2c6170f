/** argv -> a command, with node:util parseArgs. Pure. */
import { parseArgs } from 'node:util';

export type Cli =
  | { cmd: 'help'; topic?: string }
  | { cmd: 'version' }
  /** validate and schema parse their own arguments: only reached for --help. */
  | { cmd: 'validate' }
  | { cmd: 'schema' }
  | { cmd: 'plan'; inventory: string; playbook?: string; out?: string; json: boolean; run: RunFlags }
  | { cmd: 'apply'; inventory?: string; playbook?: string; dryRun: boolean; plan?: string; out?: string; json: boolean; run: RunFlags }
  | { cmd: 'status'; inventory: string; json: boolean; watch: boolean; interval: number }
  | { cmd: 'drill'; inventory: string; drill: DrillSpec; force: boolean; yes: boolean; json: boolean; timeoutS: number; dryRun: boolean };

/** What `drill` does (src/drill/model.ts). */
export type DrillSpec =
  { kind: 'node-failure'; node: string; action?: 'reboot' | 'off'; method?: 'kill-stack' } | { kind: 'resource-failure'; resource: string } | { kind: 'switchover'; node?: string };

export interface RunFlags {
  limit: string[];
  from?: string;
  acceptNewHostKeys: boolean;
  concurrency?: number;
  detailedExitcode: boolean;
  verbose: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

const options = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  plan: { type: 'string' },
  out: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  limit: { type: 'string', short: 'l', multiple: true },
  from: { type: 'string' },
  'accept-new-host-keys': { type: 'boolean' },
  concurrency: { type: 'string' },
  'detailed-exitcode': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  watch: { type: 'boolean', short: 'w' },
  interval: { type: 'string' },
  'node-failure': { type: 'string' },
  'resource-failure': { type: 'string' },
  switchover: { type: 'boolean' },
  action: { type: 'string' },
  method: { type: 'string' },
  force: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  timeout: { type: 'string' },
} as const;

const allowed: Record<string, readonly string[]> = {
  validate: [],
  schema: [],
  plan: ['out', 'json', 'limit', 'from', 'accept-new-host-keys', 'concurrency', 'detailed-exitcode', 'verbose'],
  apply: ['dry-run', 'plan', 'out', 'json', 'limit', 'from', 'accept-new-host-keys', 'concurrency', 'detailed-exitcode', 'verbose'],
  status: ['json', 'watch', 'interval'],
  drill: ['node-failure', 'resource-failure', 'switchover', 'action', 'method', 'force', 'yes', 'timeout', 'json', 'dry-run'],
};

/** Seconds from "300", "300s", "5m", "1h". */
export function parseDuration(flag: string, v: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|h)?\s*$/.exec(v);
  const n = m ? Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1) : NaN;
  if (!Number.isFinite(n) || n < 1) throw new UsageError(`${flag} must be a duration of at least 1 s (300, 300s, 5m), got "${v}"`);
  return n;
}

function parseDrill(v: Record<string, string | boolean | string[] | undefined>, rest: string[]): Cli {
  const [inventory, ...more] = rest;
  if (!inventory) throw new UsageError('drill needs INVENTORY and one of --node-failure NODE, --resource-failure RESOURCE, --switchover [NODE]');
  const chosen = (['node-failure', 'resource-failure', 'switchover'] as const).filter((k) => v[k] !== undefined && v[k] !== false);
  if (chosen.length === 0) throw new UsageError('drill needs one of --node-failure NODE, --resource-failure RESOURCE, --switchover [NODE]');
  if (chosen.length > 1) throw new UsageError(`one drill at a time: --${chosen.join(' and --')} given`);
  const kind = chosen[0]!;
  if (more.length > (kind === 'switchover' ? 1 : 0)) throw new UsageError(`too many arguments for "drill": ${rest.join(' ')}`);
  for (const k of ['node-failure', 'resource-failure'] as const) {
    const x = v[k];
    if (typeof x === 'string' && x.trim() === '') throw new UsageError(`--${k} needs a name, found an empty one`);
  }
  if ((v['action'] !== undefined || v['method'] !== undefined) && kind !== 'node-failure') throw new UsageError('--action and --method go with --node-failure');
  let drill: DrillSpec;
  if (kind === 'node-failure') {
    const action = v['action'] as string | undefined;
    if (action !== undefined && action !== 'reboot' && action !== 'off') throw new UsageError(`--action must be reboot or off, got "${action}"`);
    const method = v['method'] as string | undefined;
    if (method !== undefined && method !== 'kill-stack' && method !== 'fence')
      throw new UsageError(`--method must be fence (the default, through the cluster's fencing) or kill-stack, got "${method}"`);
    if (method === 'kill-stack' && action !== undefined) throw new UsageError('--action goes with fencing, not with --method kill-stack');
    drill = { kind, node: (v['node-failure'] as string).trim(), ...(action ? { action } : {}), ...(method === 'kill-stack' ? { method } : {}) };
  } else if (kind === 'resource-failure') drill = { kind, resource: (v['resource-failure'] as string).trim() };
  else {
    const node = more[0];
    if (node !== undefined && node.trim() === '') throw new UsageError('--switchover NODE: found an empty node name');
    drill = { kind, ...(node !== undefined ? { node } : {}) };
  }
  const timeoutS = v['timeout'] !== undefined ? parseDuration('--timeout', v['timeout'] as string) : 300;
  return { cmd: 'drill', inventory, drill, force: v['force'] === true, yes: v['yes'] === true, json: v['json'] === true, timeoutS, dryRun: v['dry-run'] === true };
}

export function parseCli(argv: readonly string[]): Cli {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  const [cmd, ...rest] = positionals;
  if (v.version) return { cmd: 'version' };
  if (v.help || cmd === undefined || cmd === 'help') return { cmd: 'help', ...(cmd === 'help' && rest[0] ? { topic: rest[0] } : cmd && cmd !== 'help' ? { topic: cmd } : {}) };
  const ok = allowed[cmd];
  if (!ok) throw new UsageError(`unknown command "${cmd}" (commands: validate, schema, plan, apply, status, drill; see --help)`);
  for (const k of Object.keys(v)) {
    if (!ok.includes(k)) throw new UsageError(`option --${k} does not apply to "${cmd}"`);
  }
  if (cmd === 'drill') return parseDrill(v, rest);
  if (rest.length > 2) throw new UsageError(`too many arguments for "${cmd}": ${rest.join(' ')}`);
  // an empty name (`--limit ""`, `--limit ,`, `--limit bob,`: an unset $NODE in a script) never means "every node"
  for (const l of v.limit ?? []) {
    if (l.split(',').some((s) => s.trim() === ''))
      throw new UsageError(`--limit needs node names, found ${JSON.stringify(l)} (an empty name; to run on every node, leave --limit out)`);
  }
  const limit = (v.limit ?? []).flatMap((l) => l.split(',')).map((s) => s.trim());
  for (const [flag, value] of [
    ['--from', v.from],
    ['--plan', v.plan],
    ['-o/--out', v.out],
  ] as const) {
    if (value !== undefined && value.trim() === '') throw new UsageError(`${flag} needs a value, found an empty one`);
  }
  let concurrency: number | undefined;
  if (v.concurrency !== undefined) {
    concurrency = Number(v.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be an integer >= 1, got "${v.concurrency}"`);
  }
  const run: RunFlags = {
    limit,
    ...(v.from !== undefined ? { from: v.from } : {}),
    acceptNewHostKeys: v['accept-new-host-keys'] === true,
    ...(concurrency !== undefined ? { concurrency } : {}),
    detailedExitcode: v['detailed-exitcode'] === true,
    verbose: v.verbose === true,
  };
  const [inventory, playbook] = rest;
  const pb = playbook !== undefined ? { playbook } : {};
  switch (cmd) {
    case 'status': {
      if (!inventory) throw new UsageError('status needs INVENTORY');
      if (playbook !== undefined) throw new UsageError(`too many arguments for "status": ${rest.join(' ')} (the playbook is the one the inventory names)`);
      let interval = 5;
      if (v.interval !== undefined) {
        interval = Number(v.interval);
        if (!Number.isFinite(interval) || interval < 1) throw new UsageError(`--interval must be a number of seconds >= 1, got "${v.interval}"`);
        if (!v.watch) throw new UsageError('--interval goes with --watch');
      }
      return { cmd, inventory, json: v.json === true, watch: v.watch === true, interval };
    }
    case 'validate':
    case 'schema':
      return { cmd };
    case 'plan':
      if (!inventory) throw new UsageError('plan needs INVENTORY');
      return { cmd, inventory, ...pb, ...(v.out ? { out: v.out } : {}), json: v.json === true, run };
    case 'apply':
      if (!inventory && !v.plan) throw new UsageError('apply needs INVENTORY (or --plan FILE)');
      if (v.plan && v['dry-run']) throw new UsageError('--plan and --dry-run cannot be used together');
      if (v.out && !v['dry-run']) throw new UsageError('-o/--out writes a plan: use it with plan or apply --dry-run');
      if (v.plan && (limit.length > 0 || v.from !== undefined)) throw new UsageError('--limit/--from come from the plan file with --plan');
      return {
        cmd,
        ...(inventory ? { inventory } : {}),
        ...pb,
        dryRun: v['dry-run'] === true,
        ...(v.plan ? { plan: v.plan } : {}),
        ...(v.out ? { out: v.out } : {}),
        json: v.json === true,
        run,
      };
  }
  throw new UsageError(`unknown command "${cmd}"`);
}

export const HELP = `ha-provision: agentless SSH provisioning of Pacemaker/Corosync + DRBD clusters

Usage:
  ha-provision validate INVENTORY [--playbook FILE] [--check-secrets] [--json]
                                                         check files, contact nothing
  ha-provision schema inventory|playbook                 print the JSON Schema
  ha-provision plan INVENTORY [PLAYBOOK] [-o plan.json] [--json]
  ha-provision apply INVENTORY [PLAYBOOK] [--dry-run] [--json]
  ha-provision apply --plan plan.json [--json]           apply exactly a saved plan
  ha-provision status INVENTORY [--json] [--watch [--interval S]]
                                                         the cluster at a glance (read-only)
  ha-provision drill INVENTORY --node-failure NODE [--action reboot|off | --method kill-stack]
  ha-provision drill INVENTORY --resource-failure RESOURCE
  ha-provision drill INVENTORY --switchover [NODE]
                      [--yes] [--force] [--timeout 300s] [--json] [--dry-run]
                                                         prove failover: inject a fault, time the recovery

Options for plan/apply:
  -l, --limit NODE[,NODE]     only these nodes (repeatable)
      --from STEP             start at this step (earlier steps are not run)
      --concurrency N         nodes worked on at once (default: inventory settings)
      --accept-new-host-keys  record unknown host keys (changed keys are still refused)
      --detailed-exitcode     exit 6 when changes were made (apply) or are planned (plan)
  -o, --out FILE              write the plan as JSON (plan, apply --dry-run)
      --json                  machine-readable output on stdout
  -v, --verbose               also show steps already right
  -h, --help, --version

Exit codes: 0 ok, 1 failed, 2 invalid input, 3 interrupted (run again to resume),
4 plan stale, 5 locked by another run, 6 changes (only with --detailed-exitcode),
7 refused; status: 0 healthy, 8 degraded, 9 down (2 invalid input);
drill: 0 passed, 10 failed, 8/9 refused (the cluster is not healthy), 2 invalid input or refused.
`;
