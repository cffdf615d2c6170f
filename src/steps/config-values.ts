/**
 * What a value written into a configuration file cannot hold (issue 12.4).
 * A character that ends the value, starts a new statement or section, or
 * comments out the rest lets a value add structure of its own: a DRBD disk
 * "/dev/sdb1;\n  handlers { split-brain \"...\"; }" adds a handler that DRBD
 * runs as root. Each writer's parameters carry these checks as zod
 * refinements (`.superRefine(inDrbdWord)`), so such a value is refused at
 * validation, before anything connects; the inventory's schema uses them for
 * the values it hands to those files (DRBD disks).
 *
 * The error names the character and where it is (never the value: it may be
 * a secret); the located error line names the key.
 */
import type { z } from 'zod';

interface Format {
  /** What the value is written into. */
  what: string;
  /** The characters refused. */
  refused: RegExp;
}

// C0 controls (newline, carriage return, NUL, escape...), DEL, C1 controls, the line separators U+2028/U+2029
const CONTROL = '\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029';
const refusing = (chars: string) => new RegExp(`[${CONTROL}${chars}]`);

const FORMATS = {
  /** A bare word of DRBD's .res syntax (disk, address, host name): white space and `;` end it, braces open and close sections, quotes and `#` start strings and comments. */
  'drbd-word': { what: 'a DRBD .res file', refused: refusing(`\\s;{}"'#\\\\`) },
  /** A double-quoted DRBD string (shared-secret "..."). */
  'drbd-string': { what: 'a quoted string of a DRBD .res file', refused: refusing('"\\\\') },
  /** A corosync.conf value (`key: value` to the end of the line; braces open and close sections, `#` starts a comment). */
  corosync: { what: 'corosync.conf', refused: refusing('{}#') },
  /** A field of an /etc/hosts line: white space separates fields, `#` starts a comment. */
  hosts: { what: '/etc/hosts', refused: refusing('\\s#') },
  /** A crm shell value or name (quoted when it is not a bare word) that becomes CIB text. */
  crm: { what: 'crm shell syntax', refused: refusing('"\\\\') },
  /** One line of a file (`line` kind): what ends a line, and NUL; other control characters are the file's business. */
  line: { what: 'one line of a file', refused: /[\n\r\0]/ },
} satisfies Record<string, Format>;

export type ConfigFormat = keyof typeof FORMATS;

const NAMES: Record<string, string> = {
  '\n': 'a newline (\\n)',
  '\r': 'a carriage return (\\r)',
  '\0': 'a NUL byte (\\0)',
  '\t': 'a tab (\\t)',
  ' ': 'a space',
  ';': 'a semicolon (;)',
  '{': 'a brace ({)',
  '}': 'a brace (})',
  '"': 'a double quote (")',
  "'": "a single quote (')",
  '#': 'a "#" (a comment)',
  '\\': 'a backslash (\\)',
};

function describeChar(c: string): string {
  const named = NAMES[c];
  if (named !== undefined) return named;
  const code = c.codePointAt(0)!;
  if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return `a control character (\\x${code.toString(16).padStart(2, '0')})`;
  const u = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return code === 0x2028 || code === 0x2029 ? `a line separator (${u})` : `white space (${u})`;
}

/** Why `value` cannot be written into `format`, or undefined when it can. */
export function configValueProblem(format: ConfigFormat, value: string): string | undefined {
  const f: Format = FORMATS[format];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (f.refused.test(c)) {
      return `expected a value that ${f.what} can hold, found ${describeChar(c)} at character ${i + 1}: it would end the value there and let the rest add configuration of its own`;
    }
  }
  return undefined;
}

function check(format: ConfigFormat) {
  return (value: string, ctx: z.core.$RefinementCtx<string>): void => {
    const problem = configValueProblem(format, value);
    // fatal: the format's own checks after it would only repeat that the value is wrong
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, continue: false });
  };
}

/** Refinements, one per format: `schema.superRefine(inDrbdWord)`. */
export const inDrbdWord = check('drbd-word');
export const inDrbdString = check('drbd-string');
export const inCorosync = check('corosync');
export const inHosts = check('hosts');
export const inCrm = check('crm');
export const inLine = check('line');

/** For renderers: throws when a value slipped past validation (never expected). */
export function assertConfigValue(format: ConfigFormat, key: string, value: string): string {
  const problem = configValueProblem(format, value);
  if (problem !== undefined) throw new Error(`${key}: ${problem}`);
  return value;
}
