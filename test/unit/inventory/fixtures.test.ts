/**
 * Data-driven: every file in test/fixtures/inventory/invalid/ has a sibling
 * `.expected` with the exact error lines (file:line:col path: message);
 * every file in valid/ loads without errors.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatInputError } from '../../../src/inventory/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';

const root = join(import.meta.dirname, '../../fixtures/inventory');
const yamlFiles = (dir: string) => readdirSync(join(root, dir)).filter((f) => f.endsWith('.yaml')).sort();
const load = (dir: string, file: string) =>
  loadInventory({ path: file, secrets: 'skip', homeDir: '/home/test', readFile: (p) => readFile(join(root, dir, p), 'utf8') });

describe('invalid inventories report every error with file, line, column and key path', () => {
  const files = yamlFiles('invalid');
  it('has fixtures', () => expect(files.length).toBeGreaterThanOrEqual(6));
  for (const file of files) {
    it(file, async () => {
      const expected = readFileSync(join(root, 'invalid', file.replace(/\.yaml$/, '.expected')), 'utf8').trimEnd().split('\n');
      const r = await load('invalid', file);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.errors.map(formatInputError)).toEqual(expected);
    });
  }
});

describe('valid inventories load', () => {
  for (const file of yamlFiles('valid')) {
    it(file, async () => {
      const r = await load('valid', file);
      expect(r.ok ? [] : r.errors.map(formatInputError)).toEqual([]);
    });
  }
});
