/** `line`: one line in a file, like Ansible's lineinfile. */
import { RE2JS } from 're2js';
import { z } from 'zod';
import { OWNER_NAMES, type Change } from '../contract.js';
import { defineStep, refuse, sudoOf, upload } from '../define.js';
import { fileContentProbe, formatMode } from '../../facts/file.js';
import { containsSecret, maskSecrets } from '../../mask.js';
import { unifiedDiff } from '../udiff.js';
import { absolutePath, modeString, userName } from '../params.js';
import { inLine } from '../config-values.js';

/**
 * A user's regexp runs on RE2 (re2js, pure JS): matching takes time linear
 * in the line's length whatever the pattern, so no pattern (`^(a+)+$`
 * against a long line) can hang plan (issue 12.5). JavaScript syntax is
 * translated (named groups, `\/`); what RE2 cannot match in linear time
 * (backreferences, lookahead and lookbehind) is refused at validation.
 */
export function compileUserRegexp(pattern: string): RE2JS {
  return RE2JS.compile(RE2JS.translateRegExp(pattern));
}

const regexpString = z.string().superRefine((s, ctx) => {
  try {
    compileUserRegexp(s);
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).replace(/^error parsing regexp: /, '');
    ctx.addIssue({
      code: 'custom',
      message: `expected a regular expression without backreferences or lookaround (matched by RE2, in time linear in the line's length), found one it cannot compile: ${why}`,
    });
  }
});

export const lineParams = z
  .object({
    path: absolutePath,
    /** The wanted line: one line (no newline, carriage return or NUL). Required for state present. */
    line: z.string().superRefine(inLine).optional(),
    /** Lines matching this are replaced (present: the last match) or removed (absent). */
    regexp: regexpString.optional(),
    state: z.enum(['present', 'absent']).default('present'),
    /** Create the file when missing (present only). Otherwise a missing file is refused. */
    create: z.boolean().default(false),
    mode: modeString.default('0644'),
    owner: userName.default('root'),
    group: userName.default('root'),
    sudo: z.boolean().default(false),
  })
  .strict()
  .refine((p) => p.state === 'absent' || p.line !== undefined, { message: 'state present needs "line"', path: ['line'] })
  .refine((p) => p.line !== undefined || p.regexp !== undefined, { message: 'give "line" or "regexp"', path: ['regexp'] });
export type LineParams = z.infer<typeof lineParams>;

function splitLines(content: string): { lines: string[]; finalNewline: boolean } {
  if (content === '') return { lines: [], finalNewline: true };
  const finalNewline = content.endsWith('\n');
  const lines = (finalNewline ? content.slice(0, -1) : content).split('\n');
  return { lines, finalNewline };
}

/** Pure edit: the new content, or the same string when nothing changes. */
export function editLines(content: string, p: LineParams): string {
  const { lines } = splitLines(content);
  const re = p.regexp !== undefined ? compileUserRegexp(p.regexp) : undefined;
  const matches = (l: string) => (re ? re.test(l) : l === p.line);
  let out: string[];
  if (p.state === 'absent') {
    out = lines.filter((l) => !matches(l));
  } else {
    const line = p.line as string;
    let last = -1;
    if (re) lines.forEach((l, i) => (re.test(l) ? (last = i) : undefined));
    out = [...lines];
    if (last >= 0) out[last] = line;
    else if (!lines.includes(line)) out.push(line);
  }
  if (out.length === lines.length && out.every((l, i) => l === lines[i])) return content;
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

export const lineStep = defineStep({
  kind: 'line',
  params: lineParams,
  reads: (p) => [p.path, ...OWNER_NAMES],
  writes: (p) => [p.path],
  probes: (p: LineParams) => ({ file: fileContentProbe(p.path, p.sudo) }),
  diff(p, { file: f }, node) {
    const secret = p.line !== undefined && containsSecret(p.line, node.secrets);
    const show = (before: string, after: string) =>
      secret
        ? `(line with a secret value in ${p.path}, diff hidden)\n`
        : unifiedDiff(maskSecrets(before, node.secrets), maskSecrets(after, node.secrets), f.state === 'absent' ? '/dev/null' : p.path, p.path);
    const write = (before: string, after: string, mode: string, owner: string, group: string, verb: string): Change =>
      upload({
        path: p.path,
        content: after,
        mode,
        owner,
        group,
        ...sudoOf(p.sudo),
        description: `${verb} ${p.path}`,
        diff: show(before, after),
        ...(secret ? { secret: true } : {}),
      });
    switch (f.state) {
      case 'notfile':
        return [refuse(`${p.path} exists and is not a regular file`)];
      case 'absent': {
        if (p.state === 'absent') return [];
        if (!p.create) return [refuse(`${p.path} does not exist (set create: true to create it)`)];
        const after = editLines('', p);
        return [write('', after, p.mode, p.owner, p.group, 'create')];
      }
      case 'file': {
        const before = f.content ?? '';
        const after = editLines(before, p);
        if (after === before) return [];
        const verb = p.state === 'absent' ? 'remove line(s) from' : 'set line in';
        // keep the file's own mode and ownership
        return [write(before, after, formatMode(f.stat.mode), f.stat.owner, f.stat.group, verb)];
      }
    }
  },
});
