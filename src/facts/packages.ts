/**
 * Which package manager the node has and which of the wanted packages are
 * installed, checked locally (dpkg-query / rpm -q): no network.
 * With apt, also whether a package manager is running now (`busy PID ARGS`
 * lines: apt-get, apt, aptitude, dpkg, unattended-upgrades; e.g. one left
 * running by a run that was killed) and whether dpkg was interrupted
 * (`interrupted`: its journal /var/lib/dpkg/updates is not empty, the state
 * `dpkg --audit` reports and `dpkg --configure -a` repairs).
 * Output: `manager apt|dnf|yum|none`, then the lines above, then the query's lines:
 *  apt: `NAME<TAB>STATUS-ABBREV<TAB>VERSION` (installed when the status starts "ii")
 *  dnf/yum: `NAME<TAB>VERSION-RELEASE`, or `package NAME is not installed`
 */
import type { FactProbe, ProbeResult } from '../steps/contract.js';

const SCRIPT = [
  'if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then',
  '  echo "manager apt"',
  '  pgrep -a -x "apt-get|apt|aptitude|dpkg|unattended-upgr" 2>/dev/null | sed "s/^/busy /"',
  '  [ -n "$(ls -A /var/lib/dpkg/updates 2>/dev/null)" ] && echo interrupted',
  '  dpkg-query -W -f=\'${Package}\\t${db:Status-Abbrev}\\t${Version}\\n\' -- "$@" 2>/dev/null; exit 0',
  'fi',
  'if command -v dnf >/dev/null 2>&1; then echo "manager dnf"',
  'elif command -v yum >/dev/null 2>&1; then echo "manager yum"',
  'else echo "manager none"; exit 0; fi',
  'rpm -q --qf \'%{NAME}\\t%{VERSION}-%{RELEASE}\\n\' -- "$@"',
  'exit 0',
].join('\n');

export function packagesProbe(names: readonly string[]): FactProbe<PackagesFact> {
  return { argv: ['sh', '-c', SCRIPT, 'sh', ...names], parse: parsePackages };
}

export type PackageManager = 'apt' | 'dnf' | 'yum';
export type PackagesFact =
  | { manager: 'none' }
  | {
      manager: PackageManager;
      installed: Map<string, string>;
      /** Package manager processes running now, `PID ARGS` (apt only). */
      busy: string[];
      /** dpkg was interrupted: `dpkg --configure -a` first (apt only). */
      interrupted: boolean;
    };

export function parsePackages(r: ProbeResult, probe = 'packages'): PackagesFact {
  if (r.exitCode !== 0) throw new Error(`probe ${probe} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  const m = /^manager (apt|dnf|yum|none)$/.exec(lines[0] ?? '');
  if (!m) throw new Error(`probe ${probe}: unexpected output "${(lines[0] ?? '').slice(0, 80)}"`);
  if (m[1] === 'none') return { manager: 'none' };
  const manager = m[1] as PackageManager;
  const installed = new Map<string, string>();
  const busy: string[] = [];
  let interrupted = false;
  for (const l of lines.slice(1)) {
    if (manager === 'apt' && l.startsWith('busy ')) {
      busy.push(l.slice(5).trim());
      continue;
    }
    if (manager === 'apt' && l === 'interrupted') {
      interrupted = true;
      continue;
    }
    const f = l.split('\t');
    if (manager === 'apt') {
      if (f.length >= 3 && f[1]!.startsWith('ii')) installed.set(f[0]!, f[2]!);
    } else if (f.length >= 2) installed.set(f[0]!, f[1]!);
  }
  return { manager, installed, busy, interrupted };
}
