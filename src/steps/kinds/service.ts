/**
 * `service`: a service enabled/disabled at boot and started/stopped, with
 * the node's own tool, DETECTED by the probe (never configured): systemctl
 * when PID 1 is systemd, else chkconfig (Red Hat SysV, as in the Kopano
 * chapter: `chkconfig mysqld off`) or update-rc.d (Debian SysV); starting and
 * stopping on SysV use `service NAME start|stop`.
 *
 * Done: enablement and running state are as asked (each is optional).
 * A service that is not installed counts as disabled and stopped: fine when
 * that is what is asked (nothing to do), refused when it must be enabled or
 * started (install its package first). Refused too: no known init tool; a
 * systemd unit whose enablement cannot be set (static, indirect, generated)
 * when enablement is asked; a masked unit that must be enabled or started;
 * an init script whose status answer is not LSB's when a state is asked.
 */
import { z } from 'zod';
import { UNIT_FILES, type Change } from '../contract.js';
import { defineStep, exec, refuse } from '../define.js';
import { serviceProbe } from '../../facts/service.js';

export const serviceParams = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9@_.:-]+$/, 'a service name (such as "corosync" or "drbd.service")'),
    enabled: z.boolean().optional(),
    state: z.enum(['started', 'stopped']).optional(),
    sudo: z.boolean().default(false),
  })
  .strict()
  .refine((p) => p.enabled !== undefined || p.state !== undefined, { message: 'give "enabled" and/or "state"', path: ['enabled'] });
export type ServiceParams = z.infer<typeof serviceParams>;

export const serviceStep = defineStep({
  kind: 'service',
  params: serviceParams,
  // the unit, where units are defined, and the init tools (pkgdb:)
  reads: (p) => [`unit:${p.name}`, ...UNIT_FILES, 'pkgdb:'],
  // Enabling writes links; starting or stopping runs the unit's programs: its
  // files, units it pulls in or that depend on it (any unit:), DRBD (drbd.service
  // brings resources up and down), and the cluster acts when one of its
  // services, or a service it manages, starts or stops. Never a block device's
  // content (no unit a service step manages writes partition tables or filesystems).
  writes: (p) => (p.state === undefined ? ['unit:', ...UNIT_FILES] : ['unit:', '/', 'drbd:', 'cluster:']),
  probes: (p: ServiceParams) => ({ service: serviceProbe(p.name, p.sudo) }),
  diff(p, { service: s }): Change[] {
    if (s.init === 'none') return [refuse(`no systemd, chkconfig or update-rc.d on this node: cannot manage service ${p.name}`)];
    if (!s.installed) {
      if (p.enabled === true || p.state === 'started') return [refuse(`service ${p.name} is not installed (${s.init}): install its package first`)];
      return [];
    }
    const changes: Change[] = [];
    const base = p.name.replace(/\.service$/, '');
    if (p.enabled !== undefined && s.enabled !== p.enabled) {
      if (s.enabled === null) return [refuse(`service ${p.name} is "${s.unitFileState}": its enablement cannot be set with systemctl ${p.enabled ? 'enable' : 'disable'}`)];
      if (p.enabled && s.unitFileState.startsWith('masked')) return [refuse(`service ${p.name} is masked: unmask it first (systemctl unmask ${p.name})`)];
      const verb = p.enabled ? 'enable' : 'disable';
      const argv = s.init === 'systemd' ? ['systemctl', verb, p.name] : s.init === 'chkconfig' ? ['chkconfig', base, p.enabled ? 'on' : 'off'] : ['update-rc.d', base, verb];
      changes.push(exec(argv, `${verb} ${p.name} at boot (${s.init})`, { sudo: p.sudo }));
    }
    if (p.state !== undefined) {
      const want = p.state === 'started';
      if (s.running === null) return [refuse(`cannot tell whether ${p.name} runs (its status answer is not LSB's 0 = running, 1-3 = stopped)`)];
      if (want && s.unitFileState.startsWith('masked')) return [refuse(`service ${p.name} is masked: unmask it first (systemctl unmask ${p.name})`)];
      if (s.running !== want) {
        const verb = want ? 'start' : 'stop';
        const argv = s.init === 'systemd' ? ['systemctl', verb, p.name] : ['service', base, verb];
        changes.push(exec(argv, `${verb} ${p.name}`, { sudo: p.sudo }));
      }
    }
    return changes;
  },
});
