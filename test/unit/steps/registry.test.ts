/** The lazy registry the CLI uses knows the same kinds, in the same order, as the eager one. */
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../../src/steps/builtin.js';
import { lazyBuiltinRegistry } from '../../../src/steps/registry.js';

describe('lazyBuiltinRegistry', () => {
  it('lists every built-in kind, in builtinRegistry order, and loads the same modules', async () => {
    const eager = builtinRegistry();
    const lazy = lazyBuiltinRegistry();
    expect(lazy.kinds()).toEqual(eager.kinds());
    await lazy.prepare(lazy.kinds());
    for (const k of eager.kinds()) expect(lazy.kind(k)).toBe(eager.kind(k));
  });

  it('loads only what is prepared; unknown kinds are simply unknown', async () => {
    const lazy = lazyBuiltinRegistry();
    expect(() => lazy.get('file')).toThrow(/not loaded/);
    await lazy.prepare(['file', 'no-such-kind']);
    expect(lazy.get('file')?.params).toBeDefined();
    expect(lazy.get('no-such-kind')).toBeUndefined();
    expect(() => lazy.kind('no-such-kind')).toThrow(/unknown step kind/);
    expect(() => lazy.kind('line')).toThrow(/not loaded/);
  });
});
