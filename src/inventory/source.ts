/**
 * YAML with positions: parse once, keep the document and a LineCounter, and
 * map key paths (as zod reports them) back to 1-based line/column.
 */
import { sha256 } from '../hash.js';
import { Composer, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Parser, YAMLParseError, type Alias, type CST, type Document, type Node, type Tags } from 'yaml';
import { formatPath, type InputError } from './errors.js';

export interface YamlSource {
  /** As given by the caller (shown in messages). */
  file: string;
  text: string;
  digest: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** Each alias's anchored node (what `alias.resolve(doc)` returns, found once for the whole document). */
  aliases: Map<Alias, Node>;
}

export interface Position {
  line: number;
  column: number;
}

export interface ParseResult {
  source: YamlSource;
  /** YAML syntax errors and warnings (unknown tags, duplicate keys...). */
  errors: InputError[];
  /** The document as plain data (undefined when there were syntax errors). */
  data: unknown;
}

/** Values an alias may add to a document (an alias-expansion bomb adds billions). */
export const MAX_ALIAS_EXPANSION = 100_000;

export function parseYamlSource(file: string, text: string, customTags: Tags = []): ParseResult {
  const lines = new LineCounter();
  const encoding = encodingProblem(text);
  // the syntax tree first (yaml's parser is iterative), its depth checked before the recursive composer sees it
  const tokens = encoding ? [] : [...new Parser(lines.addNewLine).parse(text)];
  const deep = encoding ? undefined : tooDeep(tokens);
  const doc = composeDocument(deep === undefined ? tokens : [], deep === undefined ? text.length : 0, { keepSourceTokens: true, customTags, uniqueKeys: true });
  const source: YamlSource = { file, text, digest: sha256(text), doc, lines, aliases: new Map() };
  if (encoding) return { source, errors: [{ file, line: 1, column: 1, path: '', message: encoding, code: 'YAML_SYNTAX' }], data: undefined };
  if (deep !== undefined) {
    const { line, col } = lines.linePos(deep);
    return { source, errors: [{ file, line, column: col, path: '', message: `invalid YAML: nested more than ${MAX_DEPTH} levels deep`, code: 'YAML_SYNTAX' }], data: undefined };
  }
  const errors: InputError[] = [...doc.errors, ...doc.warnings].map((e) => {
    const { line, col } = lines.linePos(e.pos[0]);
    const dup = e.code === 'DUPLICATE_KEY' ? (duplicateKey(doc, e.pos[0]) ?? keyAt(text, e.pos[0])) : undefined;
    if (dup) {
      const first = dup.first !== e.pos[0] ? ` (the first is at line ${lines.linePos(dup.first).line})` : '';
      return { file, line, column: col, path: formatPath(dup.path), message: `duplicate key "${dup.key}": a key may appear only once in a map${first}`, code: 'YAML_SYNTAX' as const };
    }
    return { file, line, column: col, path: '', message: yamlMessage(e.message), code: 'YAML_SYNTAX' as const };
  });
  if (errors.length > 0) return { source, errors, data: undefined };
  const shape = checkAliases(doc, source.aliases);
  if (shape) {
    const { line, col } = lines.linePos(shape.offset);
    return { source, errors: [{ file, line, column: col, path: formatPath(shape.path), message: shape.message, code: 'YAML_SYNTAX' }], data: undefined };
  }
  let data: unknown;
  try {
    // expansion is bounded by checkAliases (yaml's own count would refuse documents it allows)
    data = doc.toJS({ maxAliasCount: -1 });
  } catch (err) {
    return { source, errors: [{ file, line: 1, column: 1, path: '', message: yamlMessage(String((err as Error)?.message ?? err)), code: 'YAML_SYNTAX' }], data: undefined };
  }
  return { source, errors, data };
}

/** Deeper than any inventory or playbook; far below what would exhaust the stack. */
export const MAX_DEPTH = 200;

/** parseDocument's composition step, from tokens already parsed. */
function composeDocument(tokens: readonly CST.Token[], length: number, options: ConstructorParameters<typeof Composer>[0]): Document.Parsed {
  const composer = new Composer(options);
  let doc: Document.Parsed | undefined;
  for (const d of composer.compose(tokens, true, length)) {
    if (!doc) doc = d as Document.Parsed;
    else {
      doc.errors.push(new YAMLParseError([d.range[0], d.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents; expected one'));
      break;
    }
  }
  return doc!;
}

/** Offset of the first syntax-tree node nested deeper than MAX_DEPTH (an explicit stack: no recursion). */
function tooDeep(tokens: readonly CST.Token[]): number | undefined {
  const stack: [unknown, number][] = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [t, d] = stack.pop()!;
    if (t === null || typeof t !== 'object') continue;
    if (d > MAX_DEPTH) return (t as { offset?: number }).offset ?? 0;
    const tok = t as { value?: unknown; items?: { key?: unknown; value?: unknown }[] };
    if (tok.value && typeof tok.value === 'object') stack.push([tok.value, d + 1]);
    for (const it of tok.items ?? []) {
      if (it.key) stack.push([it.key, d + 1]);
      if (it.value) stack.push([it.value, d + 1]);
    }
  }
  return undefined;
}

/** A file read as UTF-8 that is not text YAML can hold: UTF-16 (a byte-order mark, NULs between characters) or NUL bytes. */
export function encodingProblem(text: string): string | undefined {
  const head = text.slice(0, 256);
  const bom = head.startsWith('\uFFFD\uFFFD') || head.startsWith('\uFEFF\u0000') || head.startsWith('\u0000\uFEFF');
  const nul = head.indexOf('\u0000');
  // eslint-disable-next-line no-control-regex -- NUL bytes are what this looks for
  if (bom || (nul >= 0 && nul <= 2 && /^(?:[^\u0000]\u0000|\u0000[^\u0000]){4}/.test(head.slice(nul <= 1 ? 0 : 1)))) {
    return 'the file looks UTF-16 encoded (a byte-order mark or NUL bytes between the characters); save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 FILE)';
  }
  const at = text.indexOf('\u0000');
  if (at >= 0) return `the file holds a NUL byte (at character ${at + 1}): expected UTF-8 text`;
  return undefined;
}

interface ShapeProblem {
  offset: number;
  path: (string | number)[];
  message: string;
}

function keyName(key: unknown): string {
  return isScalar(key) ? String(key.value) : isAlias(key) ? `*${key.source}` : String(key);
}

/** The key whose node starts at `offset`, its parent's path, and where the first one of that name is. */
function duplicateKey(doc: Document.Parsed, offset: number): { key: string; path: (string | number)[]; first: number } | undefined {
  let found: { key: string; path: (string | number)[]; first: number } | undefined;
  const walk = (node: unknown, p: (string | number)[], depth: number): void => {
    if (found || depth > 500) return;
    if (isMap(node)) {
      const firsts = new Map<string, number>();
      for (const pair of node.items) {
        const name = keyName(pair.key);
        const start = startOf(pair.key);
        if (start === offset) {
          found = { key: name, path: [...p, name], first: firsts.get(name) ?? offset };
          return;
        }
        if (start !== undefined && !firsts.has(name)) firsts.set(name, start);
        walk(pair.value, [...p, name], depth + 1);
      }
    } else if (isSeq(node)) node.items.forEach((item, i) => walk(item, [...p, i], depth + 1));
  };
  walk(doc.contents, [], 0);
  return found;
}

/** The key written at `offset` (when the composer could not place it: the document is broken around it). */
function keyAt(text: string, offset: number): { key: string; path: (string | number)[]; first: number } | undefined {
  const m = /^["']?([^"':\n{}[\],#]+)/.exec(text.slice(offset, offset + 200));
  const key = m?.[1]?.trim();
  return key ? { key, path: [], first: offset } : undefined;
}

/**
 * Finds every alias's node (in document order, as the YAML spec says: the
 * last node with that anchor before the alias), refuses an alias inside the
 * node it names (a cycle) and a document that aliases make larger than
 * MAX_ALIAS_EXPANSION values beyond what is written. Linear in the document.
 */
function checkAliases(doc: Document.Parsed, targets: Map<Alias, Node>): ShapeProblem | undefined {
  const anchors = new Map<string, Node>();
  const aliasPaths = new Map<Alias, (string | number)[]>();
  let literal = 0;
  let deepProblem: ShapeProblem | undefined;
  const index = (node: unknown, p: (string | number)[], depth: number): void => {
    if (node === null || node === undefined || deepProblem) return;
    if (depth > MAX_DEPTH * 2) {
      deepProblem = { offset: startOf(node) ?? 0, path: p, message: `the document is nested more than ${MAX_DEPTH} levels deep` };
      return;
    }
    literal++;
    if (isAlias(node)) {
      const t = anchors.get(node.source);
      if (t) targets.set(node, t);
      aliasPaths.set(node, p);
      return;
    }
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor) anchors.set(anchor, node as Node);
    if (isMap(node)) for (const pair of node.items) {
      index(pair.key, p, depth + 1);
      index(pair.value, [...p, keyName(pair.key)], depth + 1);
    }
    else if (isSeq(node)) node.items.forEach((item, i) => index(item, [...p, i], depth + 1));
  };
  index(doc.contents, [], 0);
  if (deepProblem) return deepProblem;
  if (aliasPaths.size === 0) return undefined;
  const limit = literal + MAX_ALIAS_EXPANSION;
  // expanded size of each node, memoised; saturates just above the limit
  const size = new Map<unknown, number>();
  const open = new Set<unknown>();
  let cycle: ShapeProblem | undefined;
  const sizeOf = (node: unknown): number => {
    if (node === null || node === undefined) return 0;
    const known = size.get(node);
    if (known !== undefined) return known;
    let n = 1;
    if (isAlias(node)) {
      const t = targets.get(node);
      if (t && open.has(t)) {
        cycle ??= { offset: startOf(node) ?? 0, path: aliasPaths.get(node) ?? [], message: `alias *${node.source} refers to a node that contains it (a cycle): it would never end` };
        n = 1;
      } else n = t ? sizeOf(t) : 1;
    } else if (isMap(node) || isSeq(node)) {
      open.add(node);
      const items: unknown[] = isMap(node) ? node.items.flatMap((pair) => [pair.key, pair.value]) : node.items;
      for (const item of items) n = Math.min(limit + 1, n + sizeOf(item));
      open.delete(node);
    }
    size.set(node, n);
    return n;
  };
  for (const [alias, p] of aliasPaths) {
    if (!targets.has(alias)) return { offset: startOf(alias) ?? 0, path: p, message: `alias *${alias.source} names no anchor before it (write &${alias.source} on a value above it)` };
  }
  const total = sizeOf(doc.contents);
  if (cycle) return cycle;
  if (total <= limit) return undefined;
  // the first alias, in document order, at which the expanded document passes the limit
  let count = 0;
  let at: Alias | undefined;
  const find = (node: unknown): void => {
    if (at || node === null || node === undefined) return;
    const s = size.get(node) ?? 1;
    if (count + s <= limit) {
      count += s;
      return;
    }
    if (isAlias(node)) {
      at = node;
      return;
    }
    count++;
    const items: unknown[] = isMap(node) ? node.items.flatMap((pair) => [pair.key, pair.value]) : isSeq(node) ? node.items : [];
    for (const item of items) find(item);
  };
  find(doc.contents);
  const a = at;
  return {
    offset: a ? (startOf(a) ?? 0) : 0,
    path: a ? (aliasPaths.get(a) ?? []) : [],
    message: `aliases expand the document to more than ${MAX_ALIAS_EXPANSION} values beyond what is written${a ? ` (here, alias *${a.source} passes the limit)` : ''}: an alias-expansion bomb?`,
  };
}

function yamlMessage(m: string): string {
  // yaml's messages start with an upper-case letter and may end with a period.
  const first = m.split('\n')[0] ?? m;
  const trimmed = first.replace(/\.$/, '');
  return `invalid YAML: ${trimmed.charAt(0).toLowerCase()}${trimmed.slice(1)}`;
}

export function positionOf(source: YamlSource, offset: number): Position {
  const { line, col } = source.lines.linePos(offset);
  return { line, column: col };
}

function startOf(node: unknown): number | undefined {
  if (node && typeof node === 'object' && 'range' in node) {
    const r = (node as { range?: [number, number, number] | null }).range;
    if (r) return r[0];
  }
  return undefined;
}

/**
 * Position of the value at `path` (or of its key with `at: 'key'`). When the
 * path goes further than the document (a missing key, a value built by a
 * reference), the deepest existing node is used: for a missing key that is
 * the key of its parent.
 */
export function locate(source: YamlSource, path: readonly PropertyKey[], at: 'value' | 'key' = 'value'): Position {
  let node: unknown = source.doc.contents;
  let best = startOf(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isAlias(node)) node = source.aliases.get(node) ?? node.resolve(source.doc);
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return positionOf(source, best);
      const keyStart = startOf(pair.key);
      if (keyStart !== undefined) best = keyStart;
      if (last && at === 'key') return positionOf(source, best);
      const value = pair.value;
      const vs = startOf(value);
      if (value === null || vs === undefined) return positionOf(source, best);
      node = value;
      if (last) best = vs;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      const s = startOf(item);
      if (item === undefined || s === undefined) return positionOf(source, best);
      best = s;
      node = item;
    } else {
      return positionOf(source, best);
    }
  }
  const s = startOf(node);
  return positionOf(source, path.length === 0 ? (s ?? 0) : best);
}

/** Builds an InputError at the position of `path`. */
export function errorAt(
  source: YamlSource,
  path: readonly PropertyKey[],
  code: InputError['code'],
  message: string,
  at: 'value' | 'key' = 'value',
): InputError {
  const { line, column } = locate(source, path, at);
  return { file: source.file, line, column, path: formatPath(path), message, code };
}

