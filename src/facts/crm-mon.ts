/**
 * Cluster status as facts: `crm_mon -1 --output-as=xml` (Pacemaker 2.1)
 * parsed into the nodes (online or not) and every resource instance with
 * its role. Also usable when pacemaker is down: the probe then fails and
 * `parseCrmMon` says so instead of throwing.
 */
import type { Probe, ProbeResult } from '../steps/contract.js';
import { normalizeRole } from './cib.js';
import { child, children, parseXml, type XmlElement } from './xml.js';

export interface MonNode {
  name: string;
  online: boolean;
  standby: boolean;
  maintenance: boolean;
  unclean: boolean;
  pending: boolean;
}

export interface MonInstance {
  /** Primitive id (clone instances share it). */
  id: string;
  role: string;
  active: boolean;
  failed: boolean;
  managed: boolean;
  /** Node names the instance runs on. */
  nodes: string[];
}

export type CrmMon =
  | { state: 'down'; message: string }
  | { state: 'up'; dc: string | undefined; quorum: boolean; nodes: MonNode[]; instances: MonInstance[] };

export function crmMonProbe(id: string, sudo?: boolean): Probe {
  // only the sections read here (no node attributes, operation history)
  return {
    id,
    argv: ['crm_mon', '-1', '--output-as=xml', '--include=none', '--include=summary,nodes,resources'],
    ...(sudo ? { sudo } : {}),
    // the parsed status: without the summary's last_update/last_change times
    digest: (r) => parseCrmMon(r),
  };
}

const yes = (v: string | undefined) => v === 'true';

function collect(el: XmlElement, out: MonInstance[]): void {
  for (const c of el.children) {
    if (c.name === 'resource') {
      out.push({
        id: c.attrs['id'] ?? '',
        role: normalizeRole(c.attrs['role']) ?? 'Unknown',
        active: yes(c.attrs['active']),
        failed: yes(c.attrs['failed']),
        managed: c.attrs['managed'] !== 'false',
        nodes: children(c, 'node').map((n) => n.attrs['name'] ?? ''),
      });
    } else if (c.name === 'group' || c.name === 'clone' || c.name === 'bundle') collect(c, out);
  }
}

export function parseCrmMon(r: ProbeResult): CrmMon {
  // crm_mon prints an XML error document on stdout when it cannot connect
  const text = r.stdout.trim();
  if (text === '') return { state: 'down', message: (r.stderr.trim() || `crm_mon exit ${r.exitCode}`).slice(0, 300) };
  const root = parseXml(text);
  const status = child(root, 'status');
  const pacemakerd = child(root, 'pacemakerd');
  const summary = child(root, 'summary');
  if (r.exitCode !== 0 || !summary || (pacemakerd && pacemakerd.attrs['state'] !== 'running')) {
    // (the <error> elements carry text, which parseXml skips; the status message names the problem)
    const msg = [status?.attrs['message'], pacemakerd && pacemakerd.attrs['state'] !== 'running' ? `pacemakerd ${pacemakerd.attrs['state']}` : undefined].filter(Boolean).join('; ');
    return { state: 'down', message: (msg || r.stderr.trim() || `crm_mon exit ${r.exitCode}`).slice(0, 300) };
  }
  const dc = child(summary, 'current_dc');
  const nodesEl = child(root, 'nodes');
  const nodes = (nodesEl ? children(nodesEl, 'node') : []).map((n) => ({
    name: n.attrs['name'] ?? '',
    online: yes(n.attrs['online']),
    standby: yes(n.attrs['standby']),
    maintenance: yes(n.attrs['maintenance']),
    unclean: yes(n.attrs['unclean']),
    pending: yes(n.attrs['pending']),
  }));
  const instances: MonInstance[] = [];
  const res = child(root, 'resources');
  if (res) collect(res, instances);
  return {
    state: 'up',
    dc: dc && yes(dc.attrs['present']) ? dc.attrs['name'] : undefined,
    quorum: dc ? yes(dc.attrs['with_quorum']) : false,
    nodes,
    instances,
  };
}

/** What the scheduler would still do now: `crm_simulate -LS` (live CIB, simulate). */
export function transitionProbe(id: string, sudo?: boolean): Probe {
  return { id, argv: ['crm_simulate', '-LS'], ...(sudo ? { sudo } : {}), digest: (r) => parseTransition(r, id) };
}

export interface Transition {
  /** Actions the cluster will run (it has not settled yet). */
  pending: string[];
  /** Actions it cannot run ("(blocked)": e.g. after a stopped dependency). */
  blocked: string[];
}

/** The "Transition Summary:" block; its absence means nothing to do. */
export function parseTransition(r: ProbeResult, probe = 'transition'): Transition {
  if (r.exitCode !== 0) throw new Error(`probe ${probe} failed (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 200)}`);
  const lines = r.stdout.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'Transition Summary:');
  const out: Transition = { pending: [], blocked: [] };
  if (start < 0) return out;
  for (const l of lines.slice(start + 1)) {
    const m = /^\s*\*\s+(.*\S)\s*$/.exec(l);
    if (!m) break;
    const item = m[1]!.replace(/\s+/g, ' ');
    (/\(blocked\)$/.test(item) ? out.blocked : out.pending).push(item);
  }
  return out;
}
