/** Which facts read earlier in an apply run survive which changes (src/run/fact-cache.ts). */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FactCache, RECENT_MS } from '../../../src/run/fact-cache.js';
import type { Facts, StepKind } from '../../../src/steps/contract.js';
import { createRegistry } from '../../../src/steps/registry.js';
import { fakeNode, fakeStep } from '../plan/fake-project.js';

const path = (p: unknown) => (p as { path: string }).path;
/** Reads and writes one file. */
const fileKind: StepKind = {
  kind: 'f',
  params: z.object({ path: z.string() }),
  reads: (p) => [path(p)],
  writes: (p) => [path(p)],
  probes: (p) => [{ id: 'f', argv: ['cat', path(p)] }],
  diff: () => [],
};
/** Reads undeclared, writes undeclared (a guarded command). */
const anyKind: StepKind = { kind: 'any', params: z.object({}), probes: () => [{ id: 'x', argv: ['true'] }], diff: () => [] };
/** Reads and writes the CIB (shared between nodes). */
const cibKind: StepKind = {
  kind: 'cib',
  params: z.object({}),
  reads: () => ['cib:'],
  writes: () => ['cib:'],
  probes: () => [{ id: 'c', argv: ['cibadmin', '-Q'] }],
  diff: () => [],
};

const facts = (s: string): Facts => ({ f: { exitCode: 0, stdout: s, stderr: '' } });

function setup(now = { t: 0 }) {
  const nodes = [fakeNode('bob'), fakeNode('alice')];
  const both = ['bob', 'alice'];
  const steps = [
    fakeStep('a', 'f', { path: '/etc/a' }, both),
    fakeStep('b', 'f', { path: '/etc/b' }, both),
    fakeStep('anything', 'any', {}, both),
    fakeStep('cib', 'cib', {}, both),
  ];
  const cache = new FactCache(nodes, steps, createRegistry([fileKind, anyKind, cibKind]), () => now.t);
  for (const n of both) for (const s of steps) cache.seed(n, s.id, facts(`${n}/${s.id}`), 0);
  return { cache, now };
}

describe('FactCache', () => {
  it('gathered facts are handed out once, not as a re-check', () => {
    const { cache } = setup();
    expect(cache.take('bob', 'a')).toEqual({ facts: facts('bob/a'), recent: false });
    expect(cache.take('bob', 'a')).toBeUndefined();
  });

  it("a change of one file drops that file's facts on its node only", () => {
    const { cache } = setup();
    cache.changed('bob', 'a');
    expect(cache.take('bob', 'a')).toBeUndefined();
    expect(cache.take('bob', 'b')).toBeDefined(); // another file
    expect(cache.take('alice', 'a')).toBeDefined(); // the same path on another node
    expect(cache.take('bob', 'cib')).toBeDefined();
    expect(cache.take('bob', 'anything')).toBeUndefined(); // undeclared reads: may depend on anything
    expect(cache.take('alice', 'anything')).toBeUndefined();
  });

  it('a local change reaches, on the other nodes, only steps with reads of other forms (a node with none is left alone)', () => {
    const nodes = [fakeNode('bob'), fakeNode('alice'), fakeNode('carol')];
    const steps = [fakeStep('a', 'f', { path: '/etc/a' }, ['bob', 'alice', 'carol']), fakeStep('anything', 'any', {}, ['alice'])];
    const cache = new FactCache(nodes, steps, createRegistry([fileKind, anyKind]), () => 0);
    for (const n of ['bob', 'alice', 'carol']) cache.seed(n, 'a', facts(n), 0);
    cache.seed('alice', 'anything', facts('alice/anything'), 0);
    cache.changed('bob', 'a');
    expect(cache.take('bob', 'a')).toBeUndefined();
    expect(cache.take('alice', 'anything')).toBeUndefined();
    expect(cache.take('alice', 'a')).toBeDefined();
    expect(cache.take('carol', 'a')).toBeDefined();
  });

  it('an undeclared write drops everything, on every node', () => {
    const { cache } = setup();
    cache.changed('alice', 'anything');
    for (const n of ['bob', 'alice']) for (const s of ['a', 'b', 'anything', 'cib']) expect(cache.take(n, s), `${n}/${s}`).toBeUndefined();
  });

  it('a shared write (cib:) reaches the other nodes', () => {
    const { cache } = setup();
    cache.changed('bob', 'cib');
    expect(cache.take('alice', 'cib')).toBeUndefined();
    expect(cache.take('alice', 'a')).toBeDefined();
  });

  it('facts read after a change count as the re-check while recent; a read under way when a change comes is dropped', () => {
    const { cache, now } = setup();
    now.t = 100;
    const read = cache.begin('bob', 'b');
    read.store(facts('fresh'));
    expect(cache.take('bob', 'b')).toEqual({ facts: facts('fresh'), recent: true });

    cache.begin('bob', 'b').store(facts('fresh'));
    now.t = 100 + RECENT_MS;
    expect(cache.take('bob', 'b')).toEqual({ facts: facts('fresh'), recent: false });

    const under = cache.begin('bob', 'b');
    cache.changed('bob', 'b'); // a change ends while the read is under way
    under.store(facts('maybe half'));
    expect(cache.take('bob', 'b')).toBeUndefined();

    const after = cache.begin('bob', 'b'); // read in the change's own round trip, after it
    cache.changed('bob', 'b', after);
    after.store(facts('after'));
    expect(cache.take('bob', 'b')?.facts).toEqual(facts('after'));
  });

  it('after a step waited, nothing is kept', () => {
    const { cache } = setup();
    cache.waited();
    expect(cache.take('bob', 'a')).toBeUndefined();
    cache.begin('bob', 'a').store(facts('x'));
    expect(cache.take('bob', 'a')).toBeUndefined();
  });
});
