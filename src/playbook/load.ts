/** Playbook file -> schema-valid playbook, checked on its own (no inventory needed). */
import { didYouMean, type InputError } from '../inventory/errors.js';
import { issueContext } from '../inventory/issues.js';
import { dedupeErrors, type Loaded } from '../inventory/load.js';
import { errorAt, parseYamlSource, type YamlSource } from '../inventory/source.js';
import { misplacedTags, playbookTags, readParamTree } from './refs.js';
import { Playbook, type PlaybookFile } from './schema.js';

export interface LoadedPlaybook {
  file: string;
  digest: string;
  source: YamlSource;
  raw: PlaybookFile;
}

export function parsePlaybook(file: string, text: string, kinds: readonly string[] | undefined): Loaded<LoadedPlaybook> {
  const parsed = parseYamlSource(file, text, playbookTags);
  if (parsed.errors.length > 0) return { ok: false, errors: dedupeErrors(parsed.errors) };
  const { source } = parsed;
  if (parsed.data === null || parsed.data === undefined) {
    return {
      ok: false,
      errors: [{ file, line: 1, column: 1, path: '', message: 'expected a playbook (a map with name and steps), found an empty file', code: 'PLAYBOOK_SCHEMA' }],
    };
  }
  const errors: InputError[] = misplacedTags(source).map((p) => errorAt(source, p.docPath, 'PLAYBOOK_REF', p.message));
  const ctx = issueContext('PLAYBOOK');
  const result = Playbook.safeParse(parsed.data, { error: ctx.errorMap, reportInput: true });
  if (!result.success) errors.push(...ctx.toErrors(source, result.error.issues));
  // Reference syntax inside every step's `with:` (resolution per node happens with the inventory).
  const rawSteps = (parsed.data as { steps?: unknown }).steps;
  if (Array.isArray(rawSteps)) {
    rawSteps.forEach((step, i) => {
      if (step === null || typeof step !== 'object' || !('with' in step)) return;
      for (const p of readParamTree(source, ['steps', i, 'with']).problems) errors.push(errorAt(source, p.docPath, 'PLAYBOOK_REF', p.message));
    });
  }
  // The rules read the data leniently, so they run even when the schema failed: all errors at once.
  errors.push(...playbookRules(parsed.data, source, kinds));
  if (!result.success || errors.length > 0) return { ok: false, errors: dedupeErrors(errors) };
  return { ok: true, value: { file, digest: source.digest, source, raw: result.data } };
}

interface LooseStep {
  id?: unknown;
  kind?: unknown;
  wait_for?: unknown;
}

/** Unique ids, known kinds, wait_for naming earlier steps. Reads possibly schema-invalid data. */
function playbookRules(data: unknown, source: YamlSource, kinds: readonly string[] | undefined): InputError[] {
  const errors: InputError[] = [];
  const err = (path: (string | number)[], code: InputError['code'], message: string) => errors.push(errorAt(source, path, code, message));
  const rawSteps = (data as { steps?: unknown } | null)?.steps;
  if (!Array.isArray(rawSteps)) return errors;
  const steps = rawSteps.map((s): LooseStep => (s !== null && typeof s === 'object' ? (s as LooseStep) : {}));
  const ids = steps.map((s) => (typeof s.id === 'string' ? s.id : undefined));
  const firstIndex = new Map<string, number>();
  steps.forEach((step, i) => {
    const id = ids[i];
    if (id !== undefined) {
      const prev = firstIndex.get(id);
      if (prev !== undefined) err(['steps', i, 'id'], 'PLAYBOOK_RULE', `expected a unique step id, found "${id}" which steps[${prev}] already uses`);
      else firstIndex.set(id, i);
    }
    if (kinds && typeof step.kind === 'string' && step.kind !== '' && !kinds.includes(step.kind)) {
      err(['steps', i, 'kind'], 'PLAYBOOK_UNKNOWN_KIND', `unknown step kind "${step.kind}"${didYouMean(step.kind, kinds)} (known kinds: ${[...kinds].sort().join(', ')})`);
    }
    if (!Array.isArray(step.wait_for)) return;
    step.wait_for.forEach((w: unknown, j: number) => {
      if (typeof w !== 'string') return;
      const at = firstIndex.get(w);
      if (at !== undefined && at < i) return;
      const later = ids.findIndex((x, k) => x === w && k > i);
      if (w === id) err(['steps', i, 'wait_for', j], 'PLAYBOOK_RULE', `a step cannot wait for itself ("${w}")`);
      else if (later > i)
        err(
          ['steps', i, 'wait_for', j],
          'PLAYBOOK_RULE',
          `expected an earlier step, found "${w}" which comes later (steps[${later}]); steps run in order, so move it before this one`,
        );
      else
        err(
          ['steps', i, 'wait_for', j],
          'PLAYBOOK_RULE',
          `expected the id of an earlier step, found "${w}"${didYouMean(
            w,
            [...firstIndex.keys()].filter((k) => k !== id),
          )}`,
        );
    });
  });
  return errors;
}
