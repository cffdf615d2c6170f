/**
 * The authoring surface of step kinds (src/steps/define.ts): probes declared
 * as a record whose keys are the probe ids, diffs given parsed facts under
 * the same keys (a misspelt id does not compile: see the @ts-expect-error
 * lines, checked by `npm run typecheck`), each fact parsed when first read.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { FactProbe, ProbeResult, StepNode } from '../../../src/steps/contract.js';
import { commandProbe, defineStep, engineProbes, exec, refuse, wait } from '../../../src/steps/define.js';

const node: StepNode = { name: 'n1', roles: [], groups: [], networks: {}, vars: {}, secrets: [] };
const ok = (stdout: string): ProbeResult => ({ exitCode: 0, stdout, stderr: '' });

function counted(argv: string[]): FactProbe<number> & { calls: number } {
  const p = {
    argv,
    calls: 0,
    parse(r: ProbeResult, id: string) {
      p.calls++;
      const n = Number(r.stdout);
      if (!Number.isFinite(n)) throw new Error(`probe ${id}: not a number`);
      return n;
    },
    digest: (r: ProbeResult, id: string) => `${id}:${r.stdout.trim()}`,
  };
  return p;
}

describe('defineStep', () => {
  it('gives the engine the probes in declaration order, ids from the keys, undefined ones left out', () => {
    const kind = defineStep({
      kind: 't',
      params: z.object({ extra: z.boolean() }),
      probes: (p: { extra: boolean }) => ({ size: counted(['wc', '-c']), maybe: p.extra ? commandProbe(['true'], true) : undefined, last: commandProbe(['false']) }),
      diff: () => [],
    });
    expect(kind.probes({ extra: false }, node).map((p) => p.id)).toEqual(['size', 'last']);
    const withExtra = kind.probes({ extra: true }, node);
    expect(withExtra.map((p) => [p.id, p.argv, p.sudo ?? false])).toEqual([
      ['size', ['wc', '-c'], false],
      ['maybe', ['true'], true],
      ['last', ['false'], false],
    ]);
    // a probe's digest is told its id
    expect(withExtra[0]!.digest!(ok('12\n'))).toBe('size:12');
  });

  it('hands the diff parsed facts, each parsed when first read and only once', () => {
    const small = counted(['a']);
    const big = counted(['b']);
    const kind = defineStep({
      kind: 't',
      params: z.object({ limit: z.number() }),
      probes: () => ({ small, big }),
      diff: (p: { limit: number }, facts) => {
        if (facts.small > p.limit) return [refuse(`small is ${facts.small}`)];
        return facts.big + facts.big > p.limit ? [exec(['shrink'], 'shrink it', { sudo: true })] : [wait('growing')];
      },
    });
    // the big fact is not parsed when the diff does not read it (its output would not parse)
    expect(kind.diff({ limit: 1 }, { small: ok('5'), big: ok('garbage') }, node)).toEqual([{ kind: 'refuse', reason: 'small is 5' }]);
    expect(big.calls).toBe(0);
    expect(kind.diff({ limit: 10 }, { small: ok('1'), big: ok('6') }, node)).toEqual([{ kind: 'exec', argv: ['shrink'], sudo: true, description: 'shrink it' }]);
    expect(big.calls).toBe(1);
    // a parse failure names the probe
    expect(() => kind.diff({ limit: 10 }, { small: ok('1'), big: ok('x') }, node)).toThrow('probe big: not a number');
  });

  it('fails loudly when the engine did not run a declared probe', () => {
    const kind = defineStep({ kind: 't', params: z.object({}), probes: () => ({ x: commandProbe(['true']) }), diff: (_p, { x }) => (x.exitCode === 0 ? [] : [refuse('no')]) });
    expect(() => kind.diff({}, {}, node)).toThrow('missing fact "x"');
  });

  it('does not compile a diff that reads a fact no probe declares', () => {
    const probes = () => ({ events: commandProbe(['drbdsetup', 'events2', '--now']) });
    const kind = defineStep({
      kind: 't',
      params: z.object({}),
      probes,
      diff: (_p, facts) => {
        // @ts-expect-error: "event" is not a declared probe id (the probe is "events")
        const misspelt: unknown = facts.event;
        return misspelt === undefined && facts.events.exitCode === 0 ? [] : [refuse('unreachable')];
      },
    });
    expect(engineProbes(probes()).map((p) => p.id)).toEqual(['events']);
    expect(kind.diff({}, { events: ok('') }, node)).toEqual([]);
  });
});
