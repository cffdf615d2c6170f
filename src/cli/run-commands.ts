/**
 * `plan` and `apply`: load and validate, select, run, report. Imported by
 * main() only for these commands (--version, help, validate and schema load
 * none of this: no SSH, no run log, no engine).
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { planHasChanges, type Plan } from '../plan/types.js';
import { renderPlan } from '../plan/render.js';
import { selectWork, type SelectOptions } from '../plan/select.js';
import { loadProject, type Project } from '../playbook/resolve.js';
import { runApply } from '../run/apply.js';
import type { RunDeps } from '../run/context.js';
import { fanOut, type Emit } from '../run/events.js';
import { makePlan } from '../run/plan-run.js';
import { openSession } from '../ssh/index.js';
import type { StepKinds } from '../steps/registry.js';
import { jsonCollector } from '../report/json.js';
import { openRunLog } from '../report/log.js';
import { escapeTerminal, safeJson } from '../report/escape.js';
import { plainReporter } from '../report/plain.js';
import type { Cli, RunFlags } from './args.js';
import { EXIT } from './exit-codes.js';
import { formatInputError, type CliIO } from './main.js';
import { outFileProblem, planPrecheck, readPlanFile, stateDirProblem } from './preflight.js';
import { ttyPrompt } from './prompt.js';

function newRunId(now: Date): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

async function load(inventory: string, playbook: string | undefined, io: CliIO, registry: StepKinds): Promise<Project | undefined> {
  const prompt = io.prompt ?? ttyPrompt();
  const r = await loadProject({
    inventoryPath: resolve(io.cwd, inventory),
    ...(playbook !== undefined ? { playbookPath: resolve(io.cwd, playbook) } : {}),
    registry,
    env: io.env,
    ...(prompt ? { prompt } : {}),
  });
  if (!r.ok) {
    for (const e of r.errors) io.stderr(formatInputError(e) + '\n');
    io.stderr(`${r.errors.length} error(s); nothing was contacted.\n`);
    return undefined;
  }
  return r.project;
}

function deps(project: Project, flags: RunFlags, emit: Emit, io: CliIO, hard: AbortSignal, registry: StepKinds): RunDeps {
  const now = io.now ?? (() => new Date());
  return {
    registry,
    emit,
    now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    newRunId: () => newRunId(now()),
    host: hostname(),
    pid: process.pid,
    connect: (node) =>
      openSession(node.endpoint, {
        hostKeys: flags.acceptNewHostKeys && node.hostKeys.mode === 'strict' ? { ...node.hostKeys, mode: 'accept-new' } : node.hostKeys,
        signal: hard,
      }),
  };
}

/** Ctrl-C once: stop starting steps. Twice: abort commands in flight too. */
function interrupts(io: CliIO, readOnly = false): { soft: AbortSignal; hard: AbortSignal; dispose: () => void } {
  const soft = new AbortController();
  const hard = new AbortController();
  setMaxListeners(0, soft.signal, hard.signal); // one listener per node session
  // a read-only run (plan) has nothing to finish: stop at once
  if (readOnly) soft.signal.addEventListener('abort', () => hard.abort(), { once: true });
  if (io.signal) {
    io.signal.addEventListener('abort', () => soft.abort(), { once: true });
    return { soft: soft.signal, hard: hard.signal, dispose: () => {} };
  }
  const onSigint = () => {
    if (!soft.signal.aborted) {
      if (!readOnly) io.stderr('\ninterrupt: finishing running steps, starting no new ones (Ctrl-C again to abort them)\n');
      soft.abort();
    } else hard.abort();
  };
  process.on('SIGINT', onSigint);
  return { soft: soft.signal, hard: hard.signal, dispose: () => process.off('SIGINT', onSigint) };
}

function selection(project: Project, opts: SelectOptions, io: CliIO) {
  const sel = selectWork(project, opts);
  if (!sel.ok) io.stderr(`ha-provision: ${sel.message}\n`);
  return sel.ok ? sel.selection : undefined;
}

export async function planCommand(
  inventory: string,
  playbook: string | undefined,
  out: string | undefined,
  json: boolean,
  flags: RunFlags,
  io: CliIO,
  registry: StepKinds,
): Promise<number> {
  // checked before loading (a prompt for a secret) and before any connection
  const outProblem = out !== undefined ? outFileProblem(out, io.cwd) : undefined;
  if (outProblem) {
    io.stderr(`ha-provision: ${outProblem}\n`);
    return EXIT.INVALID;
  }
  const project = await load(inventory, playbook, io, registry);
  if (!project) return EXIT.INVALID;
  const options: SelectOptions = { limit: flags.limit, ...(flags.from !== undefined ? { from: flags.from } : {}) };
  const sel = selection(project, options, io);
  if (!sel) return EXIT.INVALID;
  const stateProblem = stateDirProblem(project);
  if (stateProblem) {
    io.stderr(`ha-provision: ${stateProblem}\n`);
    return EXIT.INVALID;
  }
  const ints = interrupts(io, true);
  const now = io.now ?? (() => new Date());
  const log = openRunLog(project.settings.stateDir, `plan-${newRunId(now())}`, project.secrets);
  try {
    const emit = fanOut([log.emit]);
    const plan = await makePlan(
      { project, selection: sel, options, ...(flags.concurrency ? { concurrency: flags.concurrency } : {}) },
      deps(project, flags, emit, io, ints.hard, registry),
    );
    if (ints.soft.aborted) {
      io.stderr('interrupted: no plan made.\n');
      return EXIT.INTERRUPTED;
    }
    if (out !== undefined) await writeFile(resolve(io.cwd, out), safeJson(plan, 2) + '\n', { mode: 0o600 });
    if (json) io.stdout(safeJson(plan, 2) + '\n');
    else io.stdout(renderPlan(plan, { showOk: flags.verbose }) + (out !== undefined ? `Plan written to ${out}; apply it with: ha-provision apply --plan ${out}\n` : ''));
    const refused = plan.nodes.reduce((k, n) => k + n.steps.filter((s) => s.status === 'refused').length, 0);
    if (refused > 0) {
      io.stderr(`ha-provision: the plan holds ${refused} refusal(s) that no earlier step can lift: apply would stop before its first change.\n`);
      return EXIT.REFUSED;
    }
    const bad = plan.nodes.some((n) => n.error !== undefined || n.steps.some((s) => s.status === 'error'));
    if (bad) return EXIT.FAILED;
    return flags.detailedExitcode && planHasChanges(plan) ? EXIT.CHANGES : EXIT.OK;
  } finally {
    await log.close();
    ints.dispose();
  }
}

/** A plan refused before the lock, the journal or any connection (src/cli/preflight.ts). */
function refusePlan(path: string, reasons: readonly string[], json: boolean, io: CliIO): number {
  if (json) io.stdout(safeJson({ outcome: 'stale', reasons }, 2) + '\n');
  io.stderr(`ha-provision: the plan ${path} cannot be applied; nothing was contacted or changed. Make a new plan.\n${reasons.map((r) => `  - ${escapeTerminal(r)}\n`).join('')}`);
  return EXIT.STALE;
}

export async function applyCommand(cli: Extract<Cli, { cmd: 'apply' }>, io: CliIO, registry: StepKinds): Promise<number> {
  let plan: Plan | undefined;
  let inventory = cli.inventory;
  let playbook = cli.playbook;
  let flags = cli.run;
  if (cli.plan !== undefined) {
    const read = await readPlanFile(cli.plan, io.cwd);
    if (!read.ok) {
      io.stderr(`ha-provision: ${read.message}\n`);
      return EXIT.INVALID;
    }
    if (read.integrity.length > 0) return refusePlan(cli.plan, read.integrity, cli.json, io);
    plan = read.plan;
    inventory ??= plan.inventoryPath;
    playbook ??= plan.playbookPath;
    flags = { ...flags, limit: plan.limit ?? [], ...(plan.from !== undefined ? { from: plan.from } : {}) };
  }
  const project = await load(inventory!, playbook, io, registry);
  if (!project) return EXIT.INVALID;
  if (plan) {
    const reasons = planPrecheck(plan, project);
    if (reasons.length > 0) return refusePlan(cli.plan!, reasons, cli.json, io);
  }
  const options: SelectOptions = { limit: flags.limit, ...(flags.from !== undefined ? { from: flags.from } : {}) };
  const sel = selection(project, options, io);
  if (!sel) return EXIT.INVALID;
  if (plan) {
    const reasons = planPrecheck(plan, project, sel);
    if (reasons.length > 0) return refusePlan(cli.plan!, reasons, cli.json, io);
  }
  const stateProblem = stateDirProblem(project);
  if (stateProblem) {
    io.stderr(`ha-provision: ${stateProblem}\n`);
    return EXIT.INVALID;
  }

  const ints = interrupts(io);
  const now = io.now ?? (() => new Date());
  const d0 = deps(project, flags, () => {}, io, ints.hard, registry);
  const runId = d0.newRunId();
  const log = openRunLog(project.settings.stateDir, runId, project.secrets);
  const collector = cli.json ? jsonCollector() : undefined;
  // listr2 is loaded only for a terminal
  const live = !cli.json && io.stdoutTTY ? (await import('../report/live.js')).liveReporter({ write: io.stdout, stream: io.stdoutTTY }) : undefined;
  const view: Emit = collector?.emit ?? live?.emit ?? plainReporter({ write: io.stdout, verbose: flags.verbose });
  const emit = fanOut([log.emit, view], (err) => log.error(err, 'reporter failed'));
  try {
    const result = await runApply(
      { project, selection: sel, options, ...(plan ? { plan } : {}), signal: ints.soft, ...(flags.concurrency ? { concurrency: flags.concurrency } : {}) },
      { ...d0, emit, newRunId: () => runId, now },
    );
    await live?.finished();
    switch (result.kind) {
      case 'locked':
        io.stderr(`ha-provision: ${escapeTerminal(result.message)}\n`);
        return EXIT.LOCKED;
      case 'stale':
        // reasons quote what nodes answer: escaped for the terminal (issue 12.3)
        if (collector) io.stdout(safeJson({ outcome: 'stale', reasons: result.reasons }, 2) + '\n');
        io.stderr(`ha-provision: the plan ${cli.plan} is stale; nothing was changed. Make a new plan.\n${result.reasons.map((r) => `  - ${escapeTerminal(r)}\n`).join('')}`);
        return EXIT.STALE;
      case 'refused':
        if (collector) io.stdout(safeJson({ outcome: 'refused', refusals: result.refusals }, 2) + '\n');
        // the refusals themselves were reported as messages (above, or in the JSON report)
        io.stderr(
          `ha-provision: stopped before the first change: the plan holds ${result.refusals.length} refusal(s) that no earlier step can lift (${result.refusals.map((r) => `${r.node}: ${r.step}`).join(', ')}); nothing was changed.\nlog: ${log.path}\n`,
        );
        return EXIT.REFUSED;
      case 'done':
        if (collector) io.stdout(safeJson(collector.report, 2) + '\n');
        io.stderr(`log: ${log.path}\n`);
        switch (result.outcome) {
          case 'ok':
            return EXIT.OK;
          case 'changed':
            return flags.detailedExitcode ? EXIT.CHANGES : EXIT.OK;
          case 'failed':
            return EXIT.FAILED;
          case 'interrupted':
            io.stderr('interrupted: run the same command again to resume.\n');
            return EXIT.INTERRUPTED;
          case 'stale':
            return EXIT.STALE;
          case 'refused':
            return EXIT.REFUSED;
        }
    }
  } finally {
    await log.close();
    ints.dispose();
  }
}
