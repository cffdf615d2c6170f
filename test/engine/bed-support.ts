/**
 * Shared by test/engine/bed-*.test.ts and cli-refusals.test.ts: the BUILT CLI (`node bin/ha-provision.js`)
 * as a child process (run to the end, or SIGKILLed when the journal shows a
 * step started), a build that runs only when src/ is newer than the bundle, and
 * SSH to test-bed nodes (strict host keys, the bed's key), as ha-provision
 * reaches them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isScalar, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { BIN, ROOT } from '../support/bed-cli.js';

export { BedShell, BIN, cli, json, ROOT, until, type CliResult } from '../support/bed-cli.js';

function files(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name), ext) : e.name.endsWith(ext) ? [join(dir, e.name)] : []));
}

/** The bundle (`node scripts/build.mjs`, what `npm run build` runs after its type check) unless dist/cli.cjs is newer than every src/ file. */
export function ensureBuilt(): void {
  const src = Math.max(...files(join(ROOT, 'src'), '.ts').map((f) => statSync(f).mtimeMs));
  const bundle = join(ROOT, 'dist', 'cli.cjs');
  if (existsSync(bundle) && statSync(bundle).mtimeMs > src) return;
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'pipe' });
}

export interface ReportChange {
  kind: 'exec' | 'upload' | 'refuse' | 'wait';
  argv?: string[];
  description?: string;
}
export interface ApplyReport {
  outcome?: string;
  steps: { node: string; step: string; outcome: string; message?: string; changes: ReportChange[] }[];
  unreachable: { node: string; error: string }[];
}

/** Every exec of an apply report, as `node: argv...`. */
export const execsOf = (r: ApplyReport): string[] => r.steps.flatMap((s) => s.changes.flatMap((c) => (c.kind === 'exec' && c.argv ? [`${s.node}: ${c.argv.join(' ')}`] : [])));

export interface KilledRun {
  /** True when the signal was sent (the trigger fired before the CLI ended by itself). */
  sent: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The journal text this run wrote. */
  journal: string;
}

/**
 * Spawns `node bin/ha-provision.js ARGS` and SIGKILLs it as soon as the
 * journal (stateDir/journal.jsonl) shows step-start of `step` on some node,
 * after `then` (if given) resolved: e.g. "and the sync is seen running".
 */
export function killAtStep(args: string[], cwd: string, stateDir: string, step: string, then?: () => Promise<boolean>): Promise<KilledRun> {
  const journalPath = join(stateDir, 'journal.jsonl');
  const read = () => readJournalText(journalPath);
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let sent = false;
  let seen = false;
  let busy = false;
  let runId: string | undefined;
  const timer = setInterval(() => {
    if (sent || busy) return;
    const lines = read()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l) as { type: string; runId: string; step?: string };
        } catch {
          return undefined;
        }
      });
    // the journal starts with carried-over results of earlier runs: only this run's run-start counts
    runId ??= lines.find((e) => e?.type === 'run-start' && child.pid !== undefined && (e as { pid?: number }).pid === child.pid)?.runId;
    if (!runId) return;
    seen ||= lines.some((e) => e?.type === 'step-start' && e.runId === runId && e.step === step);
    if (!seen) return;
    if (!then) {
      sent = child.kill('SIGKILL');
      return;
    }
    busy = true;
    then().then(
      (go) => {
        busy = false;
        if (go && !sent) sent = child.kill('SIGKILL');
      },
      () => void (busy = false),
    );
  }, 2);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolve({ sent, code, signal, stdout, stderr, journal: read() });
    });
  });
}

/**
 * playbooks/storage.yaml without the steps in `drop` (and the waits on them),
 * packages cut to drbd-utils: the storage path with less to install.
 */
export async function trimmedStoragePlaybook(drop: ReadonlySet<string>, name: string): Promise<string> {
  const doc = parseDocument(await readFile(join(ROOT, 'playbooks/storage.yaml'), 'utf8'));
  const steps = doc.get('steps') as YAMLSeq<YAMLMap>;
  steps.items = steps.items.filter((s) => !drop.has(String(s.get('id'))));
  for (const s of steps.items) {
    if (s.get('id') === 'packages') s.setIn(['with', 'names'], doc.createNode(['drbd-utils']));
    const waits = s.get('wait_for');
    if (isSeq(waits)) waits.items = waits.items.filter((w) => !(isScalar(w) && drop.has(String(w.value))));
  }
  doc.set('name', name);
  const ids = steps.items.map((s) => String(s.get('id')));
  const waits = steps.items.flatMap((s) => ((s.get('wait_for') as YAMLSeq | undefined)?.items ?? []).map((w) => String(isScalar(w) ? w.value : w)));
  if (ids.some((i) => drop.has(i)) || waits.some((w) => !ids.includes(w))) throw new Error(`trimming storage.yaml went wrong: ids ${ids}, wait_for ${waits}`);
  return doc.toString();
}

/** A journal event as the tests read it. */
export interface JournalEvent {
  type: string;
  runId: string;
  pid?: number;
  node?: string;
  step?: string;
  outcome?: string;
}

/** The journal's text, '' when it does not exist (or was rotated away between two looks). */
function readJournalText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** The events of `<stateDir>/journal.jsonl` (none when it does not exist; a line cut by a kill is skipped). */
export function readJournal(stateDir: string): JournalEvent[] {
  const p = join(stateDir, 'journal.jsonl');
  // absent, or rotated away by a new run between two looks (seen under load)
  return readJournalText(p)
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as JournalEvent];
      } catch {
        return [];
      }
    });
}
