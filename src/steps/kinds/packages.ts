/**
 * `packages`: packages installed with the node's own manager, detected
 * (apt, else dnf, else yum). "Installed" is checked locally (dpkg-query -W /
 * rpm -q), never over the network. Only when something is missing: apt
 * refreshes its index (`apt-get update`; an index it cannot fetch, e.g. the
 * mirror unreachable, fails the step with apt's reason) and installs with
 * DEBIAN_FRONTEND=noninteractive, `--no-install-recommends` (unless
 * `install_recommends: true`) and keeps changed configuration files; dnf
 * installs without weak dependencies unless asked; yum has none.
 * Done: every named package is installed (any version).
 * Wait (apt): another package manager runs on the node (apt-get, dpkg, ...;
 * e.g. one a killed run left running): its locks would fail the install.
 * With apt, when dpkg was interrupted (a run killed during the install),
 * `dpkg --configure -a` comes first, as apt itself asks.
 * Names: `names` for every node, plus `debian` (apt) or `redhat` (dnf,
 * yum) for the node's family, since the families name some packages
 * differently (fence-agents / fence-agents-all, drbd-utils / drbd9x-utils
 * with kmod-drbd9x, fdisk / util-linux). A step that gives either family
 * key supports only the families it names.
 * Refused: no apt, dnf or yum on the node; a family the step has no names for.
 */
import { z } from 'zod';
import type { Change } from '../contract.js';
import { defineStep, refuse, sudoOf, wait } from '../define.js';
import { packagesProbe, type PackageManager } from '../../facts/packages.js';

const Names = z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+._-]*$/, 'a package name'));

/** The OS family a package manager belongs to (the keys a step names packages under). */
export const FAMILY: Record<PackageManager, 'debian' | 'redhat'> = { apt: 'debian', dnf: 'redhat', yum: 'redhat' };

export const packagesParams = z
  .object({
    /** Installed on every node. */
    names: Names.default([]),
    /** Also installed on Debian-family nodes (apt). */
    debian: Names.optional(),
    /** Also installed on Red Hat-family nodes (dnf, yum). */
    redhat: Names.optional(),
    install_recommends: z.boolean().default(false),
    sudo: z.boolean().default(false),
  })
  .strict()
  .refine((p) => p.names.length + (p.debian?.length ?? 0) + (p.redhat?.length ?? 0) > 0, {
    message: 'expected at least one package name (names, debian or redhat)',
    path: ['names'],
  });
export type PackagesParams = z.infer<typeof packagesParams>;

/** The names for a node of this family, or undefined when the step supports other families only. */
function namesFor(p: PackagesParams, family: 'debian' | 'redhat'): string[] | undefined {
  if ((p.debian !== undefined || p.redhat !== undefined) && p[family] === undefined) return undefined;
  return [...p.names, ...(p[family] ?? [])];
}

export const packagesStep = defineStep({
  kind: 'packages',
  params: packagesParams,
  reads: () => ['pkgdb:'],
  // Installing writes the package database and files anywhere, installs,
  // enables and starts services (Debian starts what it installs: a one-node
  // corosync/pacemaker, MariaDB, drbd.service), hence DRBD and the cluster.
  // Package scripts do not write block devices (partition tables, filesystems).
  writes: () => ['pkgdb:', '/', 'unit:', 'drbd:', 'cluster:'],
  // every family's names: one query answers whichever family the node is
  probes: (p: PackagesParams) => ({ packages: packagesProbe([...new Set([...p.names, ...(p.debian ?? []), ...(p.redhat ?? [])])]) }),
  diff(p, { packages: f }): Change[] {
    if (f.manager === 'none') return [refuse('no apt, dnf or yum on this node')];
    const family = FAMILY[f.manager];
    const names = namesFor(p, family);
    if (names === undefined)
      return [
        refuse(`this step names packages for ${p.debian ? 'debian' : 'redhat'}-family nodes only, and this node is ${family}-family (${f.manager}): add a "${family}" list to it`),
      ];
    const missing = names.filter((n) => !f.installed.has(n));
    if (missing.length === 0) return [];
    const sudo = sudoOf(p.sudo);
    const what = `install ${missing.join(', ')} (${f.manager})`;
    if (f.busy.length > 0) return [wait(`another package manager is running (${f.busy.map((b) => b.slice(0, 100)).join('; ')}): waiting for it to end`)];
    switch (f.manager) {
      case 'apt':
        return [
          ...(f.interrupted
            ? [
                {
                  kind: 'exec',
                  argv: ['env', 'DEBIAN_FRONTEND=noninteractive', 'dpkg', '--configure', '-a', '--force-confdef', '--force-confold'],
                  ...sudo,
                  description: 'finish the interrupted dpkg run (dpkg --configure -a)',
                } satisfies Change,
              ]
            : []),
          // Error-Mode=any: an index that cannot be fetched (mirror unreachable) fails here, with apt's
          // reason, instead of a later "Unable to locate package" (Debian 12's apt 2.6 has it; an apt without it ignores the setting)
          { kind: 'exec', argv: ['apt-get', 'update', '-q', '-o', 'APT::Update::Error-Mode=any'], ...sudo, description: 'refresh the apt package index' },
          {
            kind: 'exec',
            argv: [
              'env',
              'DEBIAN_FRONTEND=noninteractive',
              'apt-get',
              'install',
              '-y',
              '-q',
              '-o',
              'Dpkg::Options::=--force-confdef',
              '-o',
              'Dpkg::Options::=--force-confold',
              ...(p.install_recommends ? [] : ['--no-install-recommends']),
              '--',
              ...missing,
            ],
            ...sudo,
            description: what,
          },
        ];
      case 'dnf':
        return [
          { kind: 'exec', argv: ['dnf', 'install', '-y', ...(p.install_recommends ? [] : ['--setopt=install_weak_deps=False']), '--', ...missing], ...sudo, description: what },
        ];
      case 'yum':
        return [{ kind: 'exec', argv: ['yum', 'install', '-y', '--', ...missing], ...sudo, description: what }];
    }
  },
});
