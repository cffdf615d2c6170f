/**
 * Cluster status as facts: `crm_mon -1 --output-as=xml` (Pacemaker 2.1)
 * parsed into the nodes (online or not) and every resource instance with
 * its role. Also usable when pacemaker is down: the probe then fails and
 * `parseCrmMon` says so instead of throwing.
 */
import type { FactProbe, ProbeResult } from '../steps/contract.js';
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
  | { state: 'down'; message: string; /** crm_mon itself is missing (exit 127): waiting will not help. */ notInstalled?: true }
  | { state: 'up'; dc: string | undefined; quorum: boolean; nodes: MonNode[]; instances: MonInstance[]; failed: FailedOp[] };

/** A failed operation crm_mon lists (its time left out: a fact, not a log). */
export interface FailedOp {
  resource: string;
  node: string;
  task: string;
  /** "not running", "error"... and the agent's exit reason when it gave one. */
  why: string;
}

export function crmMonProbe(sudo?: boolean): FactProbe<CrmMon> {
  // only the sections read here (no node attributes, operation history)
  return {
    argv: ['crm_mon', '-1', '--output-as=xml', '--include=none', '--include=summary,nodes,resources,failures'],
    ...(sudo ? { sudo } : {}),
    // the parsed status: without the summary's last_update/last_change times
    parse: parseCrmMon,
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

/** Where Pacemaker's command-line tools (crm_mon, cibadmin, crm_diff) come from. */
export const PACEMAKER_CLI = "install Pacemaker's command-line tools (Debian: pacemaker-cli-utils, which pacemaker only recommends; Red Hat: pacemaker-cli)";

export function parseCrmMon(r: ProbeResult): CrmMon {
  // crm_mon prints an XML error document on stdout when it cannot connect
  const text = r.stdout.trim();
  if (r.exitCode === 127 && text === '') return { state: 'down', message: `crm_mon is not installed: ${PACEMAKER_CLI}`, notInstalled: true };
  if (text === '') return { state: 'down', message: (r.stderr.trim() || `crm_mon exit ${r.exitCode}`).slice(0, 300) };
  const root = parseXml(text);
  const status = child(root, 'status');
  const pacemakerd = child(root, 'pacemakerd');
  const summary = child(root, 'summary');
  if (r.exitCode !== 0 || !summary || (pacemakerd && pacemakerd.attrs['state'] !== 'running')) {
    // (the <error> elements carry text, which parseXml skips; the status message names the problem)
    const msg = [status?.attrs['message'], pacemakerd && pacemakerd.attrs['state'] !== 'running' ? `pacemakerd ${pacemakerd.attrs['state']}` : undefined]
      .filter(Boolean)
      .join('; ');
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
  const failed = children(child(root, 'failures') ?? { name: '', attrs: {}, children: [] }, 'failure').map((f) => {
    const task = f.attrs['task'] ?? '';
    // op_key is <resource>_<task>_<interval ms>
    const key = f.attrs['op_key'] ?? '';
    const m = /^(.+)_([A-Za-z_-]+)_([0-9]+)$/.exec(key);
    const reason = f.attrs['exitreason'] ?? '';
    return {
      resource: m ? m[1]! : key,
      node: f.attrs['node'] ?? '',
      task: task || (m ? m[2]! : ''),
      why: [f.attrs['exitstatus'] ?? f.attrs['status'] ?? '', reason].filter(Boolean).join(': '),
    };
  });
  return {
    state: 'up',
    dc: dc && yes(dc.attrs['present']) ? dc.attrs['name'] : undefined,
    quorum: dc ? yes(dc.attrs['with_quorum']) : false,
    nodes,
    instances,
    failed,
  };
}

/** What the scheduler would still do now: `crm_simulate -LS` (live CIB, simulate). */
export function transitionProbe(sudo?: boolean): FactProbe<Transition> {
  return { argv: ['crm_simulate', '-LS'], ...(sudo ? { sudo } : {}), parse: parseTransition, digest: parseTransition };
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

// ---------- the details `ha-provision status` shows ----------

/** Every section `status` reads, in one crm_mon call. */
export const CRM_MON_STATUS_ARGV = ['crm_mon', '-1', '--output-as=xml', '--include=none', '--include=summary,options,nodes,resources,failcounts,failures,fencing'] as const;

/** A top-level resource: a group (its members), a clone / promotable clone, or a lone primitive. */
export interface MonTopResource {
  id: string;
  kind: 'group' | 'clone' | 'primitive' | 'bundle';
  /** Primitive ids under it (itself for a primitive). */
  members: string[];
  /** resource_agent of each member (`ocf:heartbeat:IPaddr2`, `stonith:fence_ipmilan`). */
  agents: Record<string, string>;
  /** Nodes each member runs on, with its role. */
  placement: { id: string; role: string; nodes: string[]; failed: boolean; targetRole?: string }[];
}

export interface MonFailure {
  node: string;
  opKey: string;
  task: string;
  exitStatus: string;
  exitReason: string;
  status: string;
  lastRcChange: string;
}

export interface MonFence {
  action: string;
  target: string;
  status: string;
  completed: string;
  delegate: string;
  origin: string;
}

export interface CrmMonDetails {
  resources: MonTopResource[];
  failcounts: { node: string; resource: string; failCount: number; lastFailure?: string }[];
  failures: MonFailure[];
  fencing: MonFence[];
  /** cluster_options stonith-enabled (undefined when crm_mon does not say). */
  stonithEnabled: boolean | undefined;
}

function prims(el: XmlElement, out: XmlElement[]): void {
  for (const c of el.children) {
    if (c.name === 'resource') out.push(c);
    else if (c.name === 'group' || c.name === 'clone' || c.name === 'bundle' || c.name === 'replica') prims(c, out);
  }
}

/** Groups, clones, primitives, failcounts, failed actions, fence history and stonith-enabled; `parseCrmMon` must say "up" first. */
export function parseCrmMonDetails(r: ProbeResult): CrmMonDetails {
  const root = parseXml(r.stdout.trim());
  const resources: MonTopResource[] = [];
  const resEl = child(root, 'resources');
  for (const c of resEl?.children ?? []) {
    const kind = c.name === 'resource' ? 'primitive' : c.name === 'group' || c.name === 'clone' || c.name === 'bundle' ? c.name : undefined;
    if (!kind) continue;
    const ps: XmlElement[] = [];
    if (c.name === 'resource') ps.push(c);
    else prims(c, ps);
    const members = [...new Set(ps.map((p) => p.attrs['id'] ?? ''))];
    resources.push({
      id: c.attrs['id'] ?? '',
      kind,
      members,
      agents: Object.fromEntries(ps.map((p) => [p.attrs['id'] ?? '', p.attrs['resource_agent'] ?? ''])),
      placement: ps.map((p) => ({
        id: p.attrs['id'] ?? '',
        role: normalizeRole(p.attrs['role']) ?? 'Unknown',
        nodes: children(p, 'node').map((n) => n.attrs['name'] ?? ''),
        failed: yes(p.attrs['failed']),
        ...(p.attrs['target_role'] !== undefined ? { targetRole: normalizeRole(p.attrs['target_role']) ?? p.attrs['target_role'] } : {}),
      })),
    });
  }
  const failcounts: CrmMonDetails['failcounts'] = [];
  for (const n of children(child(root, 'node_history') ?? { name: '', attrs: {}, children: [] }, 'node')) {
    for (const h of children(n, 'resource_history')) {
      const fc = h.attrs['fail-count'];
      if (fc === undefined) continue;
      const count = fc === 'INFINITY' ? Infinity : Number(fc);
      if (!(count > 0)) continue;
      failcounts.push({
        node: n.attrs['name'] ?? '',
        resource: h.attrs['id'] ?? '',
        failCount: count,
        ...(h.attrs['last-failure'] ? { lastFailure: h.attrs['last-failure'] } : {}),
      });
    }
  }
  const failures = children(child(root, 'failures') ?? { name: '', attrs: {}, children: [] }, 'failure').map((f) => ({
    node: f.attrs['node'] ?? '',
    opKey: f.attrs['op_key'] ?? '',
    task: f.attrs['task'] ?? '',
    exitStatus: f.attrs['exitstatus'] ?? '',
    exitReason: f.attrs['exitreason'] ?? '',
    status: f.attrs['status'] ?? '',
    lastRcChange: f.attrs['last-rc-change'] ?? '',
  }));
  const fencing = children(child(root, 'fence_history') ?? { name: '', attrs: {}, children: [] }, 'fence_event').map((f) => ({
    action: f.attrs['action'] ?? '',
    target: f.attrs['target'] ?? '',
    status: f.attrs['status'] ?? '',
    completed: f.attrs['completed'] ?? f.attrs['last-pending'] ?? '',
    delegate: f.attrs['delegate'] ?? '',
    origin: f.attrs['origin'] ?? '',
  }));
  const opts = child(child(root, 'summary') ?? { name: '', attrs: {}, children: [] }, 'cluster_options');
  const se = opts?.attrs['stonith-enabled'];
  return { resources, failcounts, failures, fencing, stonithEnabled: se === undefined ? undefined : se === 'true' };
}
