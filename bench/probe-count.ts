/**
 * Remote commands per node in one gather round of `plan` (one batch per
 * node, src/run/gather.ts): how many the playbook's steps ask for and how
 * many run once a command asked for twice runs once (src/run/link.ts).
 * Offline: nothing is contacted; the inventory must load (its secret files
 * exist: for inventory/lab.yaml, after `npm run lab`).
 *
 *   npx tsx bench/probe-count.ts inventory/lab.yaml
 */
import { resolve } from 'node:path';
import { formatInputError } from '../src/inventory/errors.js';
import { loadProject } from '../src/playbook/resolve.js';
import { selectWork } from '../src/plan/select.js';
import { distinctProbes } from '../src/run/link.js';
import { stepProbes } from '../src/run/gather.js';
import { builtinRegistry } from '../src/steps/builtin.js';

const inventory = process.argv[2];
if (!inventory) {
  console.error('usage: npx tsx bench/probe-count.ts INVENTORY');
  process.exit(2);
}
const registry = builtinRegistry();
const loaded = await loadProject({ inventoryPath: resolve(inventory), registry, env: process.env });
if (!loaded.ok) {
  console.error(loaded.errors.map(formatInputError).join('\n'));
  process.exit(2);
}
const sel = selectWork(loaded.project, {});
if (!sel.ok) {
  console.error(sel.message);
  process.exit(2);
}
console.log('| node | commands asked | commands run | `drbdsetup events2` asked -> run | `drbdadm get-gi` asked -> run |');
console.log('|---|---|---|---|---|');
for (const node of loaded.project.nodes) {
  const asked = sel.selection.steps.filter((s) => s.targets.includes(node.name)).flatMap((s) => stepProbes(registry, s, node));
  const { unique } = distinctProbes(asked);
  const count = (re: RegExp) => `${asked.filter((p) => re.test(p.argv.join(' '))).length} -> ${unique.filter((p) => re.test(p.argv.join(' '))).length}`;
  console.log(`| ${node.name} | ${asked.length} | ${unique.length} | ${count(/^drbdsetup events2/)} | ${count(/^drbdadm get-gi/)} |`);
}
