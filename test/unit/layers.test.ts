/**
 * Every test file is in exactly one layer of vitest.config.ts (unit, loopback,
 * bed): a file no layer includes would never run, not even in `npm test`.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';
import { layers } from '../../vitest.config.js';

const root = join(import.meta.dirname, '../..');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [relative(root, join(dir, e.name))] : [],
  );
}

/** The globs the config uses: `**` (any folders), `*` (within one name), literal text. */
function globToRegExp(glob: string): RegExp {
  const body = glob
    .split(/(\*\*\/|\*)/)
    .map((part) => (part === '**/' ? '(?:.*/)?' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

const matches = (globs: string[], file: string) => globs.some((g) => globToRegExp(g).test(file));

it('every test file is in exactly one layer', () => {
  const files = testFiles(join(root, 'test')).map((f) => f.split('\\').join('/'));
  expect(files.length).toBeGreaterThan(40);
  for (const file of files) {
    const inLayers = Object.entries(layers)
      .filter(([, l]) => matches(l.include, file) && !matches(l.exclude, file))
      .map(([name]) => name);
    expect(inLayers, file).toHaveLength(1);
  }
});

it('the unit layer holds exactly test/unit/', () => {
  for (const file of testFiles(join(root, 'test'))) {
    const isUnit = matches(layers.unit.include, file) && !matches(layers.unit.exclude, file);
    expect(isUnit, file).toBe(file.startsWith('test/unit/'));
  }
});
