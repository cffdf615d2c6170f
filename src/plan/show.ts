import type { Change } from '../steps/contract.js';
import { MASK, maskSecrets } from '../mask.js';
import type { ShownChange } from './types.js';

/** A change as people may see it: secrets masked, file content left out. */
export function showChange(c: Change, secrets: readonly string[]): ShownChange {
  const m = (s: string) => maskSecrets(s, secrets);
  switch (c.kind) {
    case 'exec':
      return {
        kind: 'exec',
        argv: c.secret ? c.argv.map((a) => (m(a) === a ? a : MASK)) : c.argv.map(m),
        ...(c.sudo ? { sudo: true } : {}),
        ...(c.stdin !== undefined ? { stdin: true } : {}),
        description: m(c.description),
      };
    case 'upload':
      return {
        kind: 'upload',
        path: m(c.path),
        mode: c.mode,
        owner: c.owner,
        group: c.group,
        bytes: Buffer.byteLength(c.content),
        ...(c.sudo ? { sudo: true } : {}),
        description: m(c.description),
        diff: m(c.diff),
      };
    case 'carry':
      // where from and where to; never what (the content is read only when it runs)
      return {
        kind: 'carry',
        from: c.from,
        source: m(c.source),
        path: m(c.path),
        mode: c.mode,
        owner: c.owner,
        group: c.group,
        ...(c.sudo ? { sudo: true } : {}),
        description: m(c.description),
      };
    case 'refuse':
      return { kind: 'refuse', reason: m(c.reason) };
    case 'wait':
      return { kind: 'wait', description: m(c.description), ...(c.progress !== undefined ? { progress: c.progress } : {}) };
  }
}
