/**
 * Text from nodes, files and plan files reaches a terminal only through
 * here (issue 12.3): control characters and escape sequences are shown, not
 * obeyed. Kept: newline and tab. Shown as \xHH / \uHHHH: the other C0
 * controls (ESC starts every escape sequence; CR rewrites a line; BEL,
 * backspace), DEL, the C1 controls (U+0080-U+009F: CSI U+009B is an escape
 * sequence on its own), and the bidirectional overrides and isolates
 * (U+202A-U+202E, U+2066-U+2069: they reorder what is shown). JSON output
 * needs none of this: JSON.stringify escapes control characters itself.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function escapeTerminal(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** The same value with every string in it escaped (events, plans); only plain objects and arrays are copied. */
export function escapeDeep<T>(v: T): T {
  if (typeof v === 'string') return escapeTerminal(v) as T;
  if (Array.isArray(v)) return v.map(escapeDeep) as T;
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, escapeDeep(x)])) as T;
  return v;
}

/** JSON text with the characters JSON.stringify leaves raw but a terminal obeys (C1, bidi) as \uHHHH: the same data. */
export function safeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
