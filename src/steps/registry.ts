import type { z } from 'zod';
import type { StepKind } from './contract.js';
import { commandStep } from './kinds/command.js';
import { fileStep } from './kinds/file.js';
import { lineStep } from './kinds/line.js';
import { drbdCreateMdStep } from './kinds/drbd-create-md.js';
import { drbdInitialSyncStep } from './kinds/drbd-initial-sync.js';
import { drbdResourceStep } from './kinds/drbd-resource.js';
import { drbdUpStep } from './kinds/drbd-up.js';
import { hostnameStep } from './kinds/hostname.js';
import { hostsStep } from './kinds/hosts.js';
import { mkfsStep } from './kinds/mkfs.js';
import { packagesStep } from './kinds/packages.js';
import { partitionStep } from './kinds/partition.js';
import { serviceStep } from './kinds/service.js';
import { corosyncStep } from './kinds/corosync.js';
import { crmConfigureStep } from './kinds/crm-configure.js';

/** Which step kinds exist. Satisfies the StepRegistry that loadProject expects. */
export interface StepKinds {
  get(kind: string): { params: z.ZodType } | undefined;
  kinds(): string[];
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

export function builtinRegistry(): StepKinds {
  return createRegistry([
    fileStep,
    lineStep,
    commandStep,
    hostsStep,
    hostnameStep,
    serviceStep,
    packagesStep,
    partitionStep,
    drbdResourceStep,
    drbdCreateMdStep,
    drbdUpStep,
    drbdInitialSyncStep,
    mkfsStep,
    corosyncStep,
    crmConfigureStep,
  ]);
}
