/**
 * `hostname`: the node's host name, persistent (/etc/hostname) and current
 * (`hostname NAME`, which works with and without systemd; hostnamectl would
 * need dbus). DRBD's `on <host>` sections and corosync match `uname -n`.
 * Done: /etc/hostname holds exactly NAME and `uname -n` prints NAME.
 * Refused: /etc/hostname is not a regular file.
 */
import { z } from 'zod';
import { OWNER_NAMES, type Change } from '../contract.js';
import { commandProbe, defineStep, exec, refuse, sudoOf, upload } from '../define.js';
import { fileContentProbe, formatMode } from '../../facts/file.js';
import { unifiedDiff } from '../udiff.js';

export const hostnameParams = z
  .object({
    name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, 'a host name (one label: letters, digits and "-", at most 63)'),
    sudo: z.boolean().default(false),
  })
  .strict();
export type HostnameParams = z.infer<typeof hostnameParams>;

export const hostnameStep = defineStep({
  kind: 'hostname',
  params: hostnameParams,
  reads: () => ['/etc/hostname', 'host:name', ...OWNER_NAMES],
  writes: () => ['/etc/hostname', 'host:name'],
  probes: (p: HostnameParams) => ({ file: fileContentProbe('/etc/hostname', p.sudo), uname: commandProbe(['uname', '-n']) }),
  diff(p, { file: f, uname: u }): Change[] {
    if (u.exitCode !== 0) throw new Error(`probe uname failed (exit ${u.exitCode}): ${u.stderr.trim().slice(0, 200)}`);
    if (f.state === 'notfile') return [refuse('/etc/hostname exists and is not a regular file')];
    const changes: Change[] = [];
    const want = `${p.name}\n`;
    const before = f.state === 'file' ? (f.content ?? '') : '';
    if (before !== want) {
      changes.push(
        upload({
          path: '/etc/hostname',
          content: want,
          mode: f.state === 'file' ? formatMode(f.stat.mode) : '0644',
          owner: f.state === 'file' ? f.stat.owner : 'root',
          group: f.state === 'file' ? f.stat.group : 'root',
          ...sudoOf(p.sudo),
          description: `write /etc/hostname (${p.name})`,
          diff: unifiedDiff(before, want, f.state === 'file' ? '/etc/hostname' : '/dev/null', '/etc/hostname'),
        }),
      );
    }
    const current = u.stdout.trim();
    if (current !== p.name) changes.push(exec(['hostname', p.name], `set the host name ${current} -> ${p.name}`, { sudo: p.sudo }));
    return changes;
  },
});
