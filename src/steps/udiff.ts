/**
 * A small unified diff (LCS over lines). Inputs are bounded by the caller
 * (file kinds only diff small, non-secret files); larger inputs fall back to
 * "replace everything" hunks rather than quadratic work.
 */
const MAX_CELLS = 4_000_000;
const CONTEXT = 3;

type Op = { t: ' ' | '-' | '+'; line: string };

function splitLines(s: string): string[] {
  if (s === '') return [];
  const lines = s.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function ops(a: string[], b: string[]): Op[] {
  // Trim common prefix/suffix first: typical edits touch a few lines.
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const A = a.slice(pre, a.length - suf);
  const B = b.slice(pre, b.length - suf);
  const mid: Op[] = [];
  if ((A.length + 1) * (B.length + 1) > MAX_CELLS) {
    for (const l of A) mid.push({ t: '-', line: l });
    for (const l of B) mid.push({ t: '+', line: l });
  } else {
    const n = A.length;
    const m = B.length;
    const dp = new Uint32Array((n + 1) * (m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        dp[i * (m + 1) + j] =
          A[i] === B[j] ? dp[(i + 1) * (m + 1) + j + 1]! + 1 : Math.max(dp[(i + 1) * (m + 1) + j]!, dp[i * (m + 1) + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (A[i] === B[j]) {
        mid.push({ t: ' ', line: A[i]! });
        i++;
        j++;
      } else if (dp[(i + 1) * (m + 1) + j]! >= dp[i * (m + 1) + j + 1]!) {
        mid.push({ t: '-', line: A[i++]! });
      } else {
        mid.push({ t: '+', line: B[j++]! });
      }
    }
    while (i < n) mid.push({ t: '-', line: A[i++]! });
    while (j < m) mid.push({ t: '+', line: B[j++]! });
  }
  return [
    ...a.slice(0, pre).map((line): Op => ({ t: ' ', line })),
    ...mid,
    ...a.slice(a.length - suf).map((line): Op => ({ t: ' ', line })),
  ];
}

/** Unified diff of two texts; '' when equal. Labels name the two sides. */
export function unifiedDiff(before: string, after: string, labelA: string, labelB: string): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const all = ops(a, b);
  const out: string[] = [`--- ${labelA}`, `+++ ${labelB}`];
  let k = 0;
  while (k < all.length) {
    while (k < all.length && all[k]!.t === ' ') k++;
    if (k >= all.length) break;
    const start = Math.max(0, k - CONTEXT);
    let end = k;
    // extend the hunk while changes are within 2*CONTEXT of each other
    let last = k;
    while (end < all.length) {
      if (all[end]!.t !== ' ') last = end;
      else if (end - last > 2 * CONTEXT) break;
      end++;
    }
    end = Math.min(all.length, last + CONTEXT + 1);
    let aLine = 1;
    let bLine = 1;
    for (let x = 0; x < start; x++) {
      if (all[x]!.t !== '+') aLine++;
      if (all[x]!.t !== '-') bLine++;
    }
    const hunk = all.slice(start, end);
    const aCount = hunk.filter((o) => o.t !== '+').length;
    const bCount = hunk.filter((o) => o.t !== '-').length;
    out.push(`@@ -${aCount === 0 ? aLine - 1 : aLine},${aCount} +${bCount === 0 ? bLine - 1 : bLine},${bCount} @@`);
    for (const o of hunk) out.push(o.t + o.line);
    k = end;
  }
  const noEol = (s: string) => s !== '' && !s.endsWith('\n');
  if (noEol(before) || noEol(after)) out.push('\\ (newline at end of file differs or is missing)');
  return out.join('\n') + '\n';
}
