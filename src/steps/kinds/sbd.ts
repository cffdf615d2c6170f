/**
 * `sbd`: the SBD daemon's configuration on a cluster node, the same on
 * every node: /etc/default/sbd on Debian-family nodes, /etc/sysconfig/sbd
 * on Red Hat-family ones (the family from the package manager, as the
 * packages kind decides it). The whole file is written (src/steps/sbd.ts
 * sbdConfig). sbd.service is enabled by a `service` step; it starts with
 * corosync (RequiredBy=corosync.service), so a running cluster stack must be
 * restarted on the node before sbd watches it.
 *
 * Done: the file holds the wanted configuration.
 * Refused: no apt, dnf or yum; sbd not installed; the watchdog device is
 * not a character device on the node (sbd would not start, and with it
 * neither would corosync): load a watchdog driver first (the hardware's,
 * e.g. iTCO_wdt or ipmi_watchdog, or softdog).
 */
import { z } from 'zod';
import type { Change } from '../contract.js';
import { defineStep, refuse, sudoOf, upload } from '../define.js';
import { fileContentProbe } from '../../facts/file.js';
import { packagesProbe } from '../../facts/packages.js';
import { FAMILY } from './packages.js';
import { unifiedDiff } from '../udiff.js';
import { sbdConfig, SbdParam } from '../sbd.js';

export const sbdParams = z.object({ sbd: SbdParam, sudo: z.boolean().default(false) }).strict();
export type SbdParams = z.infer<typeof sbdParams>;

export const SBD_CONFIG = { debian: '/etc/default/sbd', redhat: '/etc/sysconfig/sbd' } as const;

export const sbdStep = defineStep({
  kind: 'sbd',
  params: sbdParams,
  reads: (p) => [SBD_CONFIG.debian, SBD_CONFIG.redhat, `dev:${p.sbd.watchdog}`, 'pkgdb:'],
  writes: () => [SBD_CONFIG.debian, SBD_CONFIG.redhat],
  probes: (p: SbdParams) => ({
    packages: packagesProbe(['sbd']),
    watchdog: {
      argv: ['sh', '-c', 'if [ -c "$1" ]; then echo char; else echo none; ls -d /dev/watchdog* 2>/dev/null; fi; exit 0', 'sh', p.sbd.watchdog],
      parse: (r) => r.stdout.split('\n').filter((l) => l !== ''),
    },
    debian: fileContentProbe(SBD_CONFIG.debian, p.sudo),
    redhat: fileContentProbe(SBD_CONFIG.redhat, p.sudo),
  }),
  diff(p, facts): Change[] {
    const pk = facts.packages;
    if (pk.manager === 'none') return [refuse('no apt, dnf or yum on this node: cannot tell where its sbd configuration goes')];
    if (!pk.installed.has('sbd')) return [refuse('sbd is not installed on this node: install the sbd package first')];
    const [state, ...others] = facts.watchdog;
    if (state !== 'char') {
      return [
        refuse(
          `${p.sbd.watchdog} is not a watchdog device on this node${others.length ? ` (it has ${others.join(', ')})` : ' (it has none)'}: sbd would not start, and corosync requires it; load the hardware's watchdog driver (iTCO_wdt, ipmi_watchdog...) or softdog first, or name the device in fencing.sbd.watchdog`,
        ),
      ];
    }
    const family = FAMILY[pk.manager];
    const path = SBD_CONFIG[family];
    const f = facts[family];
    const content = sbdConfig(p.sbd);
    if (f.state === 'notfile') return [refuse(`${path} exists and is not a regular file`)];
    const old = f.state === 'file' ? (f.content ?? '') : '';
    if (f.state === 'file' && old === content) return [];
    return [
      upload({
        path,
        content,
        mode: '0644',
        owner: 'root',
        group: 'root',
        ...sudoOf(p.sudo),
        description: `write the SBD configuration ${path} (${p.sbd.devices.length ? `disks ${p.sbd.devices.join(', ')}` : 'watchdog only'}, watchdog ${p.sbd.watchdog} ${p.sbd.watchdog_timeout}s)`,
        diff: unifiedDiff(old, content, f.state === 'file' ? path : '/dev/null', path),
      }),
    ];
  },
});
