/**
 * What `plan` and `apply` check before they take the lock, open the
 * journal or connect to any node (issue 12.1, 12.2): the plan file (read,
 * parsed, sealed, made from this inventory and playbook for these nodes),
 * the state folder (created, writable) and the folder `-o` writes into.
 * Every problem is a sentence for the user; none throws.
 */
import { accessSync, constants, mkdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { formatPath } from '../inventory/errors.js';
import { encodingProblem, locate, parseYamlSource } from '../inventory/source.js';
import { planIntegrity } from '../plan/seal.js';
import type { Selection } from '../plan/select.js';
import { planSchema, type Plan } from '../plan/types.js';
import type { Project } from '../playbook/resolve.js';

/** Plan files are small (a 200-node plan is a few MB): a larger file is not one. */
export const MAX_PLAN_BYTES = 64 * 1024 * 1024;

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOTDIR: 'a part of the path is not a directory',
    EISDIR: 'is a directory',
    EROFS: 'read-only file system',
    EEXIST: 'exists and is not a directory',
  };
  return (e?.code && why[e.code]) ?? String(e?.message ?? err);
}

/** The plan file as a Plan, or one located message (file:line:column: key: ...). */
/**
 * `integrity`: why the file is not as `plan` wrote it (its seal is checked
 * over the JSON as read, every key included).
 */
export async function readPlanFile(path: string, cwd: string): Promise<{ ok: true; plan: Plan; integrity: string[] } | { ok: false; message: string }> {
  let text: string;
  try {
    const abs = resolve(cwd, path);
    const st = statSync(abs);
    if (st.isDirectory()) return { ok: false, message: `cannot read the plan ${path}: is a directory` };
    if (st.size > MAX_PLAN_BYTES) return { ok: false, message: `${path} is not an ha-provision plan: ${st.size} bytes (a plan is at most ${MAX_PLAN_BYTES})` };
    text = await readFile(abs, 'utf8');
  } catch (err) {
    return { ok: false, message: `cannot read the plan ${path}: ${errnoText(err)}` };
  }
  const enc = encodingProblem(text);
  if (enc) return { ok: false, message: `${path}:1:1: ${enc}` };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const msg = String((err as Error).message);
    // Node 20: "Unexpected token } in JSON at position 12", "Unexpected token 'p', "plan..." is not valid JSON", "Unexpected end of JSON input"
    const pos = /position (\d+)/.exec(msg);
    const token = /^Unexpected token '?(.)'?/.exec(msg);
    const at = pos ? Number(pos[1]) : token && text.includes(token[1]!) ? text.indexOf(token[1]!) : text.length;
    const before = text.slice(0, at).split('\n');
    const where = `${path}:${before.length}:${before[before.length - 1]!.length + 1}`;
    const what = /end of JSON input/.test(msg) ? 'the text ends early' : token ? `unexpected ${JSON.stringify(token[1])}` : 'not valid JSON';
    return { ok: false, message: `${where}: not JSON (${what}): expected an ha-provision plan (made by plan -o FILE)` };
  }
  const r = planSchema.safeParse(data);
  if (!r.success) {
    // JSON is YAML: its parser gives the positions
    const src = parseYamlSource(path, text).source;
    const lines = r.error.issues.slice(0, 5).map((i) => {
      const { line, column } = locate(src, i.path);
      const key = formatPath(i.path);
      return `${path}:${line}:${column}: ${key ? `${key}: ` : ''}${i.message.replace(/received undefined$/, 'found nothing (the key is missing)')}`;
    });
    const more = r.error.issues.length > 5 ? `\n(and ${r.error.issues.length - 5} more)` : '';
    return { ok: false, message: `${path} is not an ha-provision plan:\n${lines.join('\n')}${more}` };
  }
  return { ok: true, plan: r.data, integrity: planIntegrity(data as Plan) };
}

/**
 * Why a saved (and intact: readPlanFile) plan cannot be this project's
 * plan, found without a connection: made from another inventory or playbook or
 * one that changed since, naming nodes or steps the run does not have.
 * With `selection`, the nodes and steps must be the ones the plan's
 * --limit/--from select now.
 */
export function planPrecheck(plan: Plan, project: Project, selection?: Selection): string[] {
  const reasons: string[] = [];
  const invSame = resolve(plan.inventoryPath) === resolve(project.inventoryPath);
  if (plan.inventoryDigest !== project.inventoryDigest) {
    reasons.push(
      invSame
        ? `inventory ${project.inventoryPath} changed since the plan was made`
        : `the plan was made from another inventory (${plan.inventoryPath}), not ${project.inventoryPath}`,
    );
  }
  if (plan.playbookDigest !== project.playbookDigest) {
    reasons.push(
      resolve(plan.playbookPath) === resolve(project.playbookPath)
        ? `playbook ${project.playbookPath} changed since the plan was made`
        : `the plan was made from another playbook (${plan.playbookPath}), not ${project.playbookPath}`,
    );
  }
  const known = new Set(project.nodes.map((n) => n.name));
  const unknown = [...new Set([...(plan.limit ?? []), ...plan.nodes.map((n) => n.name)])].filter((n) => !known.has(n));
  if (unknown.length > 0) reasons.push(`the plan names node(s) the inventory does not have: ${unknown.join(', ')}`);
  const stepIds = new Set(project.steps.map((s) => s.id));
  if (plan.from !== undefined && !stepIds.has(plan.from)) reasons.push(`the plan starts --from step "${plan.from}", which the playbook does not have`);
  const dup = plan.nodes.map((n) => n.name).filter((n, i, a) => a.indexOf(n) !== i);
  if (dup.length > 0) reasons.push(`the plan lists node(s) twice: ${[...new Set(dup)].join(', ')}`);
  if (reasons.length > 0 || !selection) return reasons;
  const selected = new Set(selection.nodes.map((n) => n.name));
  const planned = new Set(plan.nodes.map((n) => n.name));
  const missing = [...selected].filter((n) => !planned.has(n));
  const extra = [...planned].filter((n) => !selected.has(n));
  if (missing.length > 0 || extra.length > 0) {
    reasons.push(
      `the set of nodes differs from the plan${missing.length ? ` (not in the plan: ${missing.join(', ')})` : ''}${extra.length ? ` (not in this run: ${extra.join(', ')})` : ''}`,
    );
  }
  for (const pn of plan.nodes) {
    if (!selected.has(pn.name)) continue;
    const want = selection.steps.filter((s) => s.targets.includes(pn.name)).map((s) => s.id);
    const have = pn.steps.map((s) => s.id);
    if (want.join('\0') !== have.join('\0'))
      reasons.push(`node ${pn.name}: the steps differ from the plan (plan: ${have.join(', ') || 'none'}; now: ${want.join(', ') || 'none'})`);
  }
  return reasons;
}

/**
 * mkdir -p, one level at a time: Node's `mkdirSync(dir, { recursive: true })`
 * never returns when a parent refuses with ENOENT although it exists (under
 * /proc, for one), which hung `plan` on such a state_dir.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let cur = resolve(dir);
  for (;;) {
    try {
      statSync(cur);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      missing.push(cur);
      const up = dirname(cur);
      if (up === cur) break;
      cur = up;
    }
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** The state folder exists (created if need be) and can be written; else why not. */
export function stateDirProblem(project: Project): string | undefined {
  const dir = project.settings.stateDir;
  const where = (): string => {
    try {
      const src = parseYamlSource(project.inventoryPath, readFileSync(project.inventoryPath, 'utf8')).source;
      const { line, column } = locate(src, ['settings', 'state_dir']);
      return `${project.inventoryPath}:${line}:${column}: settings.state_dir`;
    } catch {
      return `${project.inventoryPath}: settings.state_dir`;
    }
  };
  try {
    makeDirs(dir);
    if (!statSync(dir).isDirectory()) return `${where()}: ${dir} is not a directory`;
    accessSync(dir, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    return `${where()}: cannot use ${dir} as the state folder (the run's lock, journal and logs go there): ${errnoText(err)}`;
  }
}

/** `-o FILE` can be written: its folder exists and is writable, and FILE is not a folder. */
export function outFileProblem(out: string, cwd: string): string | undefined {
  const abs = resolve(cwd, out);
  const dir = dirname(abs);
  try {
    if (!statSync(dir).isDirectory()) return `-o ${out}: ${dir} is not a directory`;
  } catch (err) {
    return `-o ${out}: the folder ${dir} ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be used: ${errnoText(err)}`} (nothing was contacted)`;
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    return `-o ${out}: cannot write into ${dir}: ${errnoText(err)}`;
  }
  try {
    if (statSync(abs).isDirectory()) return `-o ${out}: is a directory (expected a file name)`;
    accessSync(abs, constants.W_OK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `-o ${out}: cannot write it: ${errnoText(err)}`;
  }
  return undefined;
}
