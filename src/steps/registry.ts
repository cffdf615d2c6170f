/**
 * Which step kinds exist. The CLI loads a kind's module (its code and its
 * zod parameter schema) only when the playbook uses it: `lazyBuiltinRegistry`
 * knows every built-in kind by name and `prepare(kinds)` imports the ones
 * asked for. `builtinRegistry` (./builtin.ts) imports them all up front.
 */
import type { StepRegistry } from '../playbook/resolve.js';
import type { StepKind } from './contract.js';

/**
 * Which step kinds exist: the StepRegistry that loadProject expects (names,
 * parameter schemas, prepare loads the modules of the kinds asked for;
 * unknown names are ignored: the playbook rules report them), plus each kind.
 */
export interface StepKinds extends StepRegistry {
  kind(kind: string): StepKind<unknown>;
}

export function createRegistry(list: readonly StepKind<unknown>[]): StepKinds {
  const map = new Map(list.map((k) => [k.kind, k]));
  if (map.size !== list.length) throw new Error('duplicate step kind in registry');
  return {
    get: (kind) => map.get(kind),
    kinds: () => [...map.keys()],
    kind(kind) {
      const k = map.get(kind);
      if (!k) throw new Error(`unknown step kind "${kind}" (known: ${[...map.keys()].join(', ')})`);
      return k;
    },
  };
}

/** The built-in kinds, in the order the registry lists them, each with the import of its module. */
const BUILTIN: readonly (readonly [string, () => Promise<StepKind<unknown>>])[] = [
  ['file', () => import('./kinds/file.js').then((m) => m.fileStep)],
  ['line', () => import('./kinds/line.js').then((m) => m.lineStep)],
  ['command', () => import('./kinds/command.js').then((m) => m.commandStep)],
  ['hosts', () => import('./kinds/hosts.js').then((m) => m.hostsStep)],
  ['hostname', () => import('./kinds/hostname.js').then((m) => m.hostnameStep)],
  ['service', () => import('./kinds/service.js').then((m) => m.serviceStep)],
  ['packages', () => import('./kinds/packages.js').then((m) => m.packagesStep)],
  ['partition', () => import('./kinds/partition.js').then((m) => m.partitionStep)],
  ['drbd-resource', () => import('./kinds/drbd-resource.js').then((m) => m.drbdResourceStep)],
  ['drbd-create-md', () => import('./kinds/drbd-create-md.js').then((m) => m.drbdCreateMdStep)],
  ['drbd-up', () => import('./kinds/drbd-up.js').then((m) => m.drbdUpStep)],
  ['drbd-initial-sync', () => import('./kinds/drbd-initial-sync.js').then((m) => m.drbdInitialSyncStep)],
  ['drbd-grow', () => import('./kinds/drbd-grow.js').then((m) => m.drbdGrowStep)],
  ['mkfs', () => import('./kinds/mkfs.js').then((m) => m.mkfsStep)],
  ['corosync', () => import('./kinds/corosync.js').then((m) => m.corosyncStep)],
  ['crm-configure', () => import('./kinds/crm-configure.js').then((m) => m.crmConfigureStep)],
  ['qnetd-certs', () => import('./kinds/qnetd-certs.js').then((m) => m.qnetdCertsStep)],
  ['qdevice-certs', () => import('./kinds/qdevice-certs.js').then((m) => m.qdeviceCertsStep)],
  ['sbd', () => import('./kinds/sbd.js').then((m) => m.sbdStep)],
  ['sbd-device', () => import('./kinds/sbd-device.js').then((m) => m.sbdDeviceStep)],
];

/**
 * Every built-in kind by name; a kind's module is imported by `prepare`.
 * `get`/`kind` of a known kind that was not prepared throw (a caller bug, not
 * a user error): loadProject prepares the kinds its playbook names.
 */
export function lazyBuiltinRegistry(): StepKinds & { prepare(kinds: readonly string[]): Promise<void> } {
  const loaders = new Map(BUILTIN);
  const loaded = new Map<string, StepKind<unknown>>();
  const names = BUILTIN.map(([n]) => n);
  const loadedKind = (kind: string): StepKind<unknown> | undefined => {
    const k = loaded.get(kind);
    if (k) return k;
    if (loaders.has(kind)) throw new Error(`step kind "${kind}" was not loaded (registry.prepare)`);
    return undefined;
  };
  return {
    kinds: () => [...names],
    get: loadedKind,
    kind(kind) {
      const k = loadedKind(kind);
      if (!k) throw new Error(`unknown step kind "${kind}" (known: ${names.join(', ')})`);
      return k;
    },
    async prepare(kinds) {
      await Promise.all(
        [...new Set(kinds)].map(async (name) => {
          const load = loaders.get(name);
          if (!load || loaded.has(name)) return;
          const k = await load();
          if (k.kind !== name) throw new Error(`step kind module for "${name}" defines "${k.kind}"`);
          loaded.set(name, k);
        }),
      );
    },
  };
}
