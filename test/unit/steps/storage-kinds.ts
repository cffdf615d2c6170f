/** The node and storage step kinds, for their fixture runner (and for the lead to register). */
import type { StorageStepKind } from '../../../src/steps/kinds/wait.js';
import { hostsStep } from '../../../src/steps/kinds/hosts.js';
import { hostnameStep } from '../../../src/steps/kinds/hostname.js';
import { serviceStep } from '../../../src/steps/kinds/service.js';
import { packagesStep } from '../../../src/steps/kinds/packages.js';
import { partitionStep } from '../../../src/steps/kinds/partition.js';
import { drbdResourceStep } from '../../../src/steps/kinds/drbd-resource.js';
import { drbdCreateMdStep } from '../../../src/steps/kinds/drbd-create-md.js';
import { drbdUpStep } from '../../../src/steps/kinds/drbd-up.js';
import { drbdInitialSyncStep } from '../../../src/steps/kinds/drbd-initial-sync.js';
import { mkfsStep } from '../../../src/steps/kinds/mkfs.js';

export const storageKinds: readonly StorageStepKind<unknown>[] = [
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
];
