/**
 * `wait` changes through the library API (runApply) on a real loopback sshd:
 * a test step kind waits for a file that appears by itself; the engine polls
 * until the diff is empty, or fails the step at its timeout.
 */
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { selectWork } from '../../src/plan/select.js';
import { loadProject } from '../../src/playbook/resolve.js';
import { runApply } from '../../src/run/apply.js';
import type { RunEvent } from '../../src/run/events.js';
import { openSession } from '../../src/ssh/index.js';
import { commandProbe, defineStep, wait } from '../../src/steps/define.js';
import { commandStep } from '../../src/steps/kinds/command.js';
import { createRegistry } from '../../src/steps/registry.js';
import { startBed, type Bed } from './fixture.js';

const appearsStep = defineStep({
  kind: 'appears',
  params: z.object({ path: z.string() }).strict(),
  probes: (p: { path: string }) => ({ exists: commandProbe(['test', '-e', p.path]) }),
  diff: (p, { exists }) => (exists.exitCode === 0 ? [] : [wait(`waiting for ${p.path}`)]),
});
const registry = createRegistry([appearsStep, commandStep]);

let bed: Bed | undefined;
afterEach(async () => {
  await bed?.stop();
  bed = undefined;
});

async function apply(b: Bed, timeout: string) {
  b.writePlaybook(`name: wait
steps:
  - id: start
    kind: command
    with:
      shell: !concat ["touch ", !ref vars.root, "/started; (sleep 0.7; touch ", !ref vars.root, "/ready) >/dev/null 2>&1 &"]
      creates: !concat [!ref vars.root, /started]
      description: start something slow
  - id: ready
    kind: appears
    timeout: ${timeout}
    with: {path: !concat [!ref vars.root, /ready]}
`);
  const loaded = await loadProject({ inventoryPath: b.inventory, registry, env: {} });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const project = loaded.project;
  const sel = selectWork(project, {});
  if (!sel.ok) throw new Error(sel.message);
  const events: RunEvent[] = [];
  const result = await runApply(
    { project, selection: sel.selection, options: {}, signal: new AbortController().signal },
    {
      registry,
      emit: (e) => events.push(e),
      now: () => new Date(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      newRunId: () => `wait-${Date.now()}`,
      host: hostname(),
      pid: process.pid,
      connect: (node) => openSession(node.endpoint, { hostKeys: node.hostKeys }),
    },
  );
  return { result, events };
}

describe('wait changes', () => {
  it('polls until the state arrives by itself', async () => {
    bed = await startBed(2);
    const { result, events } = await apply(bed, '20s');
    expect(result.kind).toBe('done');
    if (result.kind !== 'done') return;
    expect(result.outcome).toBe('changed');
    const ready = events.filter((e) => e.type === 'step-result' && e.step === 'ready');
    expect(ready.map((e) => (e.type === 'step-result' ? e.outcome : ''))).toEqual(['ok', 'ok']);
    expect(events.some((e) => e.type === 'step-progress' && e.description.endsWith('/ready') && e.description.startsWith('waiting for'))).toBe(true);
  });

  it('fails the step at its timeout when the state never arrives', async () => {
    bed = await startBed(1);
    writeFileSync(join(bed.root(0), 'started'), ''); // `start` looks done: nothing will create /ready
    const { result, events } = await apply(bed, '1500ms');
    expect(result.kind === 'done' && result.outcome).toBe('failed');
    const r = events.find((e) => e.type === 'step-result' && e.step === 'ready');
    expect(r && r.type === 'step-result' && r.message).toMatch(/^step timed out after 1500 ms \(still waiting for .*\/ready\)$/);
  });
});
