/**
 * zod issues -> InputErrors with YAML positions and "expected X, found Y"
 * messages. The error map is built per parse (no global zod config).
 */
import type { z } from 'zod';
import { describeValue, didYouMean, type InputError, type InputErrorCode } from './errors.js';
import { errorAt, type YamlSource } from './source.js';

/** Message marker for a literal secret (set by secret schemas, recognised here). */
export const LITERAL_SECRET =
  'a literal secret is refused: inventories and playbooks are committed and shared; use {env: VAR_NAME} or {prompt: true}';

/** A schema-level error: `expected <what>, found <value>`. */
export function expecting(what: string) {
  return (iss: { input?: unknown }): string => (iss.input === undefined ? 'missing' : `expected ${what}, found ${describeValue(iss.input)}`);
}

interface RawIssue {
  code?: string;
  input?: unknown;
  expected?: string;
  inst?: unknown;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  format?: string;
  values?: unknown[];
  keys?: string[];
}

function shapeKeys(inst: unknown): string[] | undefined {
  const def = (inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def;
  return def?.shape ? Object.keys(def.shape) : undefined;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a map',
  array: 'a list',
  record: 'a map',
  map: 'a map',
  null: 'an empty value',
};

/**
 * A parse context: the error map to pass to safeParse, and a translator of
 * the resulting issues. Remembers the allowed keys of objects with unknown
 * keys, for "did you mean" suggestions.
 */
export function issueContext(kind: 'INVENTORY' | 'PLAYBOOK') {
  const allowed = new WeakMap<object, string[]>();
  const errorMap = (raw: unknown): string | undefined => {
    const iss = raw as RawIssue;
    switch (iss.code) {
      case 'invalid_type':
        if (iss.input === undefined) return 'missing';
        return `expected ${TYPE_WORDS[iss.expected ?? ''] ?? iss.expected}, found ${describeValue(iss.input)}`;
      case 'unrecognized_keys': {
        const keys = shapeKeys(iss.inst);
        if (keys && iss.input && typeof iss.input === 'object') allowed.set(iss.input, keys);
        return 'unknown key';
      }
      case 'too_small':
      case 'too_big': {
        const bound = iss.code === 'too_small' ? iss.minimum : iss.maximum;
        const op = iss.code === 'too_small' ? (iss.inclusive === false ? 'more than' : 'at least') : iss.inclusive === false ? 'less than' : 'at most';
        if (iss.origin === 'array') return `expected a list with ${op} ${String(bound)} item(s), found ${(iss.input as unknown[]).length}`;
        if (iss.origin === 'string') return `expected a string of ${op} ${String(bound)} character(s), found ${describeValue(iss.input)}`;
        return `expected a number ${op} ${String(bound)}, found ${describeValue(iss.input)}`;
      }
      case 'invalid_value':
        return `expected one of ${(iss.values ?? []).map((v) => JSON.stringify(v)).join(', ')}, found ${describeValue(iss.input)}`;
      case 'invalid_format':
        return `expected ${iss.format === 'regex' ? 'a value of the documented form' : `a valid ${iss.format}`}, found ${describeValue(iss.input)}`;
      case 'invalid_key':
        return `expected a valid key, found ${describeValue(iss.input)}`;
      case 'invalid_union':
        return `expected one of the documented forms, found ${describeValue(iss.input)}`;
      default:
        return undefined;
    }
  };

  const toErrors = (source: YamlSource, issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): InputError[] => {
    const out: InputError[] = [];
    for (const issue of issues) {
      const path = [...prefix, ...issue.path];
      const input = (issue as { input?: unknown }).input;
      if (issue.code === 'unrecognized_keys') {
        const keys = input && typeof input === 'object' ? allowed.get(input) ?? [] : [];
        for (const k of issue.keys) {
          out.push(errorAt(source, [...path, k], `${kind}_UNKNOWN_KEY`, `unknown key "${k}"${didYouMean(k, keys)}`, 'key'));
        }
        continue;
      }
      if (issue.code === 'invalid_union') {
        // A union whose input matched one branch's type: report that branch's own errors.
        // (Only for maps and lists: for a scalar, the union's own message says more.)
        const matching = issue.errors.filter((branch) => !branch.some((b) => b.path.length === 0 && (b.code === 'invalid_type' || b.code === 'invalid_value')));
        if (input !== null && typeof input === 'object' && matching.length === 1 && matching[0]!.length > 0) {
          out.push(...toErrors(source, matching[0]!, path));
          continue;
        }
      }
      if (issue.code === 'invalid_key' && issue.path.length > 0) {
        out.push(errorAt(source, path, `${kind}_SCHEMA`, `invalid name "${String(issue.path[issue.path.length - 1])}": ${issue.issues[0]?.message ?? issue.message}`, 'key'));
        continue;
      }
      if (issue.message === 'missing') {
        const key = path[path.length - 1];
        out.push(errorAt(source, path, `${kind}_SCHEMA`, `missing required key "${String(key)}"`));
        continue;
      }
      const code: InputErrorCode = issue.message === LITERAL_SECRET ? `${kind}_LITERAL_SECRET` : `${kind}_SCHEMA`;
      out.push(errorAt(source, path, code, issue.message));
    }
    return out;
  };

  return { errorMap, toErrors };
}

