/** Control characters from nodes, files and plan files are shown escaped by every renderer (issue 12.3). */
import { describe, expect, it } from 'vitest';
import { renderPlan } from '../../../src/plan/render.js';
import type { Plan } from '../../../src/plan/types.js';
import { escapeDeep, escapeTerminal, safeJson } from '../../../src/report/escape.js';
import { plainReporter } from '../../../src/report/plain.js';

const HOSTILE = 'ok\x1b]0;pwned\x07\x1b[2J\r\x08\x7f\u009b31m\u202egnp.exe\u2066x';
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('escapeTerminal', () => {
  it('shows every control character and bidi override as an escape', () => {
    expect(escapeTerminal(HOSTILE)).toBe('ok\\x1b]0;pwned\\x07\\x1b[2J\\x0d\\x08\\x7f\\x9b31m\\u202egnp.exe\\u2066x');
  });
  it('keeps text, newlines, tabs and non-ASCII letters', () => {
    expect(escapeTerminal('a\tb\nc é 日本 ✓')).toBe('a\tb\nc é 日本 ✓');
  });
  it('every code point below U+00A0 but \\t and \\n is escaped', () => {
    for (let c = 0; c < 0xa0; c++) {
      const s = String.fromCharCode(c);
      const shown = escapeTerminal(s);
      if (c === 9 || c === 10 || (c >= 0x20 && c < 0x7f)) expect(shown).toBe(s);
      else expect(shown).toMatch(/^\\x[0-9a-f]{2}$/);
    }
  });
  it('escapeDeep copies plain data only', () => {
    const buf = Buffer.from('\x1b');
    const out = escapeDeep({ a: ['\x1b'], b: { c: '\r' }, n: 1, buf });
    expect(out).toEqual({ a: ['\\x1b'], b: { c: '\\x0d' }, n: 1, buf });
    expect(out.buf).toBe(buf);
  });
});

describe('renderers', () => {
  it('plain lines: node output in messages, errors and changes', () => {
    let out = '';
    const emit = plainReporter({ write: (s) => void (out += s), verbose: true });
    emit({ type: 'message', level: 'warn', node: 'bob', text: HOSTILE });
    emit({ type: 'node-failed', node: 'bob', error: HOSTILE });
    emit({ type: 'step-result', node: 'bob', step: 's', outcome: 'failed', message: HOSTILE, changes: [{ kind: 'refuse', reason: HOSTILE }], durationMs: 1 });
    emit({ type: 'step-progress', node: 'bob', step: 's', description: HOSTILE });
    expect(out).toContain('\\x1b]0;pwned');
    expect(out).not.toMatch(RAW);
  });
  it('the plan as text: diffs, descriptions, reasons and node errors from a plan file', () => {
    const plan: Plan = {
      format: 'ha-provision/plan',
      version: 1,
      createdAt: '2026-01-01T00:00:00Z',
      inventoryPath: `/x/inv${HOSTILE}.yaml`,
      playbookPath: '/x/pb.yaml',
      inventoryDigest: 'a',
      playbookDigest: 'b',
      nodes: [
        { name: 'alice', error: HOSTILE, steps: [] },
        {
          name: 'bob',
          steps: [
            {
              id: 's',
              kind: 'file',
              title: HOSTILE,
              status: 'change',
              factsDigest: '',
              changesDigest: '',
              reason: HOSTILE,
              changes: [
                { kind: 'upload', path: '/etc/x', mode: '0644', owner: 'root', group: 'root', bytes: 1, description: HOSTILE, diff: `-old\n+${HOSTILE}\n` },
                { kind: 'exec', argv: ['echo', HOSTILE], description: HOSTILE },
              ],
            },
          ],
        },
      ],
    };
    const text = renderPlan(plan);
    expect(text).toContain('+ok\\x1b]0;pwned');
    expect(text).not.toMatch(RAW);
    // JSON stays JSON: the same data, every control character and override as \uHHHH
    expect(JSON.parse(safeJson(plan, 2))).toEqual(plan);
    expect(safeJson(plan, 2)).not.toMatch(RAW);
  });
});
