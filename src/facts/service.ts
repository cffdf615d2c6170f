/**
 * Which init system manages services on the node, and one service's state.
 * Detected, never configured: systemd when PID 1 is systemd
 * (/run/systemd/system exists, as sd_booted() checks), else SysV with
 * chkconfig (Red Hat) or update-rc.d (Debian).
 *
 * Output (first line `init systemd|chkconfig|update-rc.d|none`):
 *  systemd:     `systemctl show -p LoadState,UnitFileState,ActiveState` lines (KEY=value)
 *  chkconfig:   `installed yes|no`, the `chkconfig --list NAME` line, `status N` (`service NAME status` exit)
 *  update-rc.d: `installed yes|no`, `rc L S|K` per /etc/rcL.d link, `status N`
 */
import type { FactProbe, ProbeResult } from '../steps/contract.js';

const SCRIPT = [
  's=$1',
  'if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then',
  '  echo "init systemd"; exec systemctl show -p LoadState,UnitFileState,ActiveState -- "$s"',
  'fi',
  'if command -v chkconfig >/dev/null 2>&1; then t=chkconfig',
  'elif command -v update-rc.d >/dev/null 2>&1; then t=update-rc.d',
  'else echo "init none"; exit 0; fi',
  'echo "init $t"',
  'if [ ! -f "/etc/init.d/$s" ]; then echo "installed no"; exit 0; fi',
  'echo "installed yes"',
  'if [ "$t" = chkconfig ]; then echo "list $(chkconfig --list "$s" 2>/dev/null | head -n 1)"; fi',
  'if [ "$t" = update-rc.d ]; then for l in 2 3 4 5; do for f in /etc/rc$l.d/[SK][0-9][0-9]"$s"; do [ -e "$f" ] && echo "rc $l $(basename "$f" | cut -c1)"; done; done; fi',
  'if command -v service >/dev/null 2>&1; then service "$s" status >/dev/null 2>&1; else "/etc/init.d/$s" status >/dev/null 2>&1; fi',
  'echo "status $?"',
].join('\n');

export function serviceProbe(name: string, sudo: boolean): FactProbe<ServiceFact> {
  return { argv: ['sh', '-c', SCRIPT, 'sh', name], ...(sudo ? { sudo: true } : {}), parse: parseService };
}

export type ServiceTool = 'systemd' | 'chkconfig' | 'update-rc.d';
export type ServiceFact =
  | { init: 'none' }
  | { init: ServiceTool; installed: false }
  | {
      init: ServiceTool;
      installed: true;
      /** null: neither enabled nor disabled can be set (static, indirect, generated...). */
      enabled: boolean | null;
      /** systemd UnitFileState, or "sysv". */
      unitFileState: string;
      /** null: the init script's status answer is not LSB's running (0) / stopped (1-3). */
      running: boolean | null;
    };

export function parseService(r: ProbeResult, probe = 'service'): ServiceFact {
  if (r.exitCode !== 0) throw new Error(`probe ${probe} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  const init = lines[0]?.replace(/^init /, '');
  if (init === 'none') return { init: 'none' };
  if (init === 'systemd') {
    const v: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf('=');
      if (i > 0) v[l.slice(0, i)] = l.slice(i + 1);
    }
    if (v.LoadState === 'not-found') return { init, installed: false };
    const ufs = v.UnitFileState ?? '';
    const enabled = ufs === 'enabled' || ufs === 'enabled-runtime' ? true : ufs === 'disabled' || ufs === 'masked' || ufs === 'masked-runtime' ? false : null;
    const a = v.ActiveState ?? '';
    const running = a === 'active' || a === 'reloading' || a === 'activating' ? true : a === 'inactive' || a === 'failed' || a === 'deactivating' ? false : null;
    return { init, installed: true, enabled, unitFileState: ufs, running };
  }
  if (init !== 'chkconfig' && init !== 'update-rc.d') throw new Error(`probe ${probe}: unexpected output "${(lines[0] ?? '').slice(0, 80)}"`);
  if (lines[1] === 'installed no') return { init, installed: false };
  let enabled = false;
  let status = NaN;
  for (const l of lines.slice(2)) {
    if (l.startsWith('list ')) enabled = /\b[2-5]:on\b/.test(l);
    else if (l.startsWith('rc ')) enabled ||= l.endsWith(' S');
    else if (l.startsWith('status ')) status = Number(l.slice(7));
  }
  const running = status === 0 ? true : status >= 1 && status <= 3 ? false : null;
  return { init, installed: true, enabled, unitFileState: 'sysv', running };
}
