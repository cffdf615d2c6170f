/**
 * The unified diff a plan shows for a file change, made by jsdiff (`diff`):
 * `--- labelA` / `+++ labelB`, hunks with 3 lines of context, and the
 * standard `\ No newline at end of file` after a last line that has none.
 * Inputs are bounded by the caller (file kinds only diff small, non-secret
 * files); an edit longer than MAX_EDIT_LINES lines stops the search and the
 * diff replaces everything, rather than spending seconds on a rewrite.
 */
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch } from 'diff';

const CONTEXT = 3;
const MAX_EDIT_LINES = 1000;

function lines(s: string): string[] {
  if (s === '') return [];
  const l = s.split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
}

/** One hunk that removes every line of `before` and adds every line of `after`. */
function replaceAll(before: string, after: string, labelA: string, labelB: string): string {
  const out = [`--- ${labelA}`, `+++ ${labelB}`];
  const a = lines(before);
  const b = lines(after);
  out.push(`@@ -${a.length === 0 ? 0 : 1},${a.length} +${b.length === 0 ? 0 : 1},${b.length} @@`);
  for (const [text, sign, side] of [
    [before, '-', a],
    [after, '+', b],
  ] as const) {
    for (const l of side) out.push(sign + l);
    if (text !== '' && !text.endsWith('\n')) out.push('\\ No newline at end of file');
  }
  return out.join('\n') + '\n';
}

/** Unified diff of two texts; '' when equal. Labels name the two sides. */
export function unifiedDiff(before: string, after: string, labelA: string, labelB: string): string {
  if (before === after) return '';
  const patch = structuredPatch(labelA, labelB, before, after, undefined, undefined, { context: CONTEXT, maxEditLength: MAX_EDIT_LINES });
  return patch ? formatPatch(patch, FILE_HEADERS_ONLY) : replaceAll(before, after, labelA, labelB);
}
