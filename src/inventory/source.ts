/**
 * YAML with positions: parse once, keep the document and a LineCounter, and
 * map key paths (as zod reports them) back to 1-based line/column.
 */
import { createHash } from 'node:crypto';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Tags } from 'yaml';
import { formatPath, type InputError } from './errors.js';

export interface YamlSource {
  /** As given by the caller (shown in messages). */
  file: string;
  text: string;
  digest: string;
  doc: Document.Parsed;
  lines: LineCounter;
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

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function parseYamlSource(file: string, text: string, customTags: Tags = []): ParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, keepSourceTokens: true, prettyErrors: false, customTags, uniqueKeys: true });
  const source: YamlSource = { file, text, digest: sha256(text), doc, lines };
  const errors: InputError[] = [...doc.errors, ...doc.warnings].map((e) => {
    const { line, col } = lines.linePos(e.pos[0]);
    return { file, line, column: col, path: '', message: yamlMessage(e.message), code: 'YAML_SYNTAX' as const };
  });
  if (errors.length > 0) return { source, errors, data: undefined };
  const data: unknown = doc.toJS({ maxAliasCount: 1000 });
  return { source, errors, data };
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
    if (isAlias(node)) node = node.resolve(source.doc);
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

/** The YAML node at an exact path, if the document has one there. */
export function nodeAt(source: YamlSource, path: readonly PropertyKey[]): Node | undefined {
  const n = source.doc.getIn(path as unknown[], true);
  return n && typeof n === 'object' ? (n as Node) : undefined;
}
