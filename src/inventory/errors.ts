/** Input errors: one per problem, with file, 1-based line/column and key path. */

/** Stable error codes (closed union). */
export type InputErrorCode =
  | 'FILE_NOT_FOUND'
  | 'YAML_SYNTAX'
  | 'INVENTORY_SCHEMA'
  | 'INVENTORY_UNKNOWN_KEY'
  | 'INVENTORY_LITERAL_SECRET'
  | 'INVENTORY_RULE'
  | 'INVENTORY_SECRET_MISSING'
  /** A file the inventory names (SSH key, known_hosts, agent socket) is missing or unusable (src/inventory/files.ts). */
  | 'INVENTORY_FILE'
  | 'PLAYBOOK_SCHEMA'
  | 'PLAYBOOK_UNKNOWN_KEY'
  | 'PLAYBOOK_LITERAL_SECRET'
  | 'PLAYBOOK_RULE'
  | 'PLAYBOOK_UNKNOWN_KIND'
  | 'PLAYBOOK_REF'
  | 'PLAYBOOK_PARAMS';

/** One problem in one input file. All problems of a file are returned at once. */
export interface InputError {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Key path, e.g. "nodes.bob.networks.lan.address" ("" for the whole document). */
  path: string;
  /** What was expected and what was found. */
  message: string;
  code: InputErrorCode;
}

/** `inventory/lab.yaml:12:5 nodes.bob.ssh.port: expected ..., found ...` */
export function formatInputError(e: InputError): string {
  const where = `${e.file}:${e.line}:${e.column}`;
  return e.path ? `${where} ${e.path}: ${e.message}` : `${where} ${e.message}`;
}

/** Sorts by file, line, column, then path (stable output for humans and tests). */
export function sortInputErrors(errors: readonly InputError[]): InputError[] {
  return [...errors].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.path.localeCompare(b.path),
  );
}

/** Key path as written by humans: a.b[0].c */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    // a key with a control character (a newline...) is quoted, so the path stays on its line
    // eslint-disable-next-line no-control-regex
    else if (typeof seg === 'string' && /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(seg)) out += `[${JSON.stringify(seg)}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** How a found value reads in a message: "twenty-two", 22, a map, a list, nothing. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'not-a-number (.nan)' : v > 0 ? 'infinity (.inf)' : 'minus infinity (-.inf)';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return typeof v;
}

/** Optimal string alignment distance: insert, delete, substitute, swap two neighbours. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate within a small edit distance, if any. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d <= bestD && (best === undefined || d < bestD)) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  const s = suggest(word, candidates);
  return s ? ` (did you mean "${s}"?)` : '';
}
