/**
 * Every built-in step kind, imported up front (tests, tools). The CLI uses
 * lazyBuiltinRegistry (./registry.ts), which imports only the kinds a
 * playbook uses; test/unit/steps/registry.test.ts keeps the two lists equal.
 */
import { commandStep } from './kinds/command.js';
import { fileStep } from './kinds/file.js';
import { lineStep } from './kinds/line.js';
import { drbdCreateMdStep } from './kinds/drbd-create-md.js';
import { drbdInitialSyncStep } from './kinds/drbd-initial-sync.js';
import { drbdResourceStep } from './kinds/drbd-resource.js';
import { drbdUpStep } from './kinds/drbd-up.js';
import { drbdGrowStep } from './kinds/drbd-grow.js';
import { hostnameStep } from './kinds/hostname.js';
import { hostsStep } from './kinds/hosts.js';
import { mkfsStep } from './kinds/mkfs.js';
import { packagesStep } from './kinds/packages.js';
import { partitionStep } from './kinds/partition.js';
import { serviceStep } from './kinds/service.js';
import { corosyncStep } from './kinds/corosync.js';
import { crmConfigureStep } from './kinds/crm-configure.js';
import { qnetdCertsStep } from './kinds/qnetd-certs.js';
import { qdeviceCertsStep } from './kinds/qdevice-certs.js';
import { sbdStep } from './kinds/sbd.js';
import { sbdDeviceStep } from './kinds/sbd-device.js';
import { createRegistry, type StepKinds } from './registry.js';

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
    drbdGrowStep,
    mkfsStep,
    corosyncStep,
    crmConfigureStep,
    qnetdCertsStep,
    qdeviceCertsStep,
    sbdStep,
    sbdDeviceStep,
  ]);
}
