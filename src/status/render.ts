/** `status` for people: a compact view, every text from a node escaped (src/report/escape.ts). */
import { escapeTerminal } from '../report/escape.js';
import type { Status } from './model.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function renderStatus(s: Status, opts: { color?: boolean } = {}): string {
  const e = escapeTerminal;
  const paint = (code: string, t: string) => (opts.color ? `\x1b[${code}m${t}\x1b[0m` : t);
  const verdict = s.verdict === 'healthy' ? paint('32', 'HEALTHY') : s.verdict === 'degraded' ? paint('33', 'DEGRADED') : paint('31;1', 'DOWN');
  const out: string[] = [];
  out.push(`cluster ${e(s.cluster)}: ${verdict}   ${s.at}${s.durationMs !== undefined ? `  (${s.durationMs} ms)` : ''}\n`);
  const q = s.quorum;
  out.push(
    q
      ? `quorum: ${q.quorate ? 'quorate' : 'NOT quorate'}, votes ${q.totalVotes ?? '?'}/${q.expectedVotes ?? '?'} (needs ${q.quorum ?? '?'}), members ${q.members.map(e).join(', ') || 'none'}; qdevice: ${q.qdevice ? `${q.qdevice.votes ?? '?'} vote(s)` : 'none'}; flags: ${q.flags.map(e).join(' ') || '-'}\n`
      : 'quorum: unknown (corosync answers on no node)\n',
  );
  out.push(`DC: ${s.dc ? e(s.dc) : 'none'}${s.view ? ` (view of ${e(s.view)})` : ''}\n\n`);
  out.push(
    table([
      ['NODE', 'SSH', 'PACEMAKER', 'COROSYNC', 'QUORATE'],
      ...s.nodes.map((n) =>
        n.outside
          ? [e(n.name), n.reachable ? 'ok' : 'UNREACHABLE', '-', '-', '-']
          : [
              e(n.name),
              n.reachable ? 'ok' : 'UNREACHABLE',
              n.pacemaker,
              n.member === null ? '?' : n.member ? 'member' : 'absent',
              n.quorate === null ? '?' : n.quorate ? 'yes' : 'no',
            ],
      ),
    ]),
  );
  const outside = s.nodes.filter((n) => n.outside).map((n) => e(n.name));
  if (outside.length > 0) out.push(`not cluster nodes (no corosync or Pacemaker, not in Pacemaker's node list; e.g. a quorum arbitrator): ${outside.join(', ')}\n`);
  if (s.drbd.length > 0) {
    const rows = [['DRBD', 'NODE', 'ROLE', 'DISK', 'PEER', 'CONNECTION', 'REPLICATION', 'PEER-DISK', 'SYNC']];
    for (const r of s.drbd) {
      for (const n of r.nodes) {
        const peers = n.peers.length > 0 ? n.peers : [undefined];
        for (const p of peers) {
          const sync = p?.done !== undefined ? `${p.done.toFixed(1)}%${p.etaSeconds !== undefined ? ` eta ${formatSeconds(p.etaSeconds)}` : ''}` : '';
          rows.push([
            e(r.name),
            e(n.node),
            e(n.role ?? '?'),
            e(n.disk ?? '?'),
            p ? e(p.peer) : '-',
            p ? e(p.connection) : '-',
            p ? e(p.replication) : '-',
            p ? e(p.peerDisk) : '-',
            sync,
          ]);
        }
      }
    }
    out.push('\n' + table(rows));
  }
  if (s.resources.length > 0) {
    const rows = [['RESOURCE', 'KIND', 'RUNS ON']];
    for (const r of s.resources) {
      let on: string;
      if (r.kind === 'clone' && r.promoted) on = r.nodes.map((n) => (r.promoted!.includes(n) ? `${n} (Promoted)` : n)).join(', ');
      else if (r.kind === 'group') {
        const some = [...new Set(r.members.flatMap((m) => m.nodes))];
        const stopped = r.members.filter((m) => m.nodes.length === 0).map((m) => m.id);
        on = r.nodes.length > 0 ? r.nodes.join(', ') : some.length > 0 ? `partly on ${some.join(', ')}` : 'Stopped';
        if (stopped.length > 0 && r.nodes.length === 0 && some.length > 0) on += ` (stopped: ${stopped.join(', ')})`;
      } else on = r.nodes.length > 0 ? r.nodes.join(', ') : r.members[0]?.targetRole === 'Stopped' ? 'Stopped (disabled)' : 'Stopped';
      rows.push([e(r.id), r.kind, e(on)]);
    }
    out.push('\n' + table(rows));
  }
  out.push('\n');
  out.push(`failcounts: ${s.failcounts.length === 0 ? 'none' : s.failcounts.map((f) => `${e(f.resource)} on ${e(f.node)}: ${f.failCount}`).join(', ')}\n`);
  out.push(`failed actions: ${s.failedActions.length === 0 ? 'none' : ''}\n`);
  for (const f of s.failedActions) out.push(`  ${e(f.op)} on ${e(f.node)}: ${e(f.exitStatus)}${f.exitReason ? ` (${e(f.exitReason)})` : ''}, ${e(f.status)}, ${e(f.at)}\n`);
  const fe = s.fencing;
  const last = fe.last
    ? `${e(fe.last.action)} of ${e(fe.last.target)}: ${e(fe.last.status)}${fe.last.completed ? ` at ${e(fe.last.completed)}` : ''}${fe.last.delegate ? ` by ${e(fe.last.delegate)}` : ''}`
    : 'none';
  out.push(
    `fencing: ${fe.enabled === null ? 'unknown' : fe.enabled ? 'enabled' : 'DISABLED (stonith-enabled=false)'}; devices: ${fe.devices.length === 0 ? 'none' : fe.devices.map((d) => `${e(d.id)} (${e(d.agent)}${d.nodes.length ? ` on ${d.nodes.map(e).join(', ')}` : ', stopped'})`).join(', ')}; last fencing: ${last}\n`,
  );
  const d = s.drift;
  out.push(
    d.state === 'planned'
      ? `drift: ${d.changes === 0 && d.pending === 0 && d.refused === 0 && d.errors === 0 ? 'none' : `${d.changes} change(s)${d.pending ? `, ${d.pending} known after apply` : ''}${d.refused ? `, ${d.refused} refused` : ''}${d.errors ? `, ${d.errors} error(s)` : ''}`} in ${d.pairs} (node, step) pairs${d.changes + d.pending + d.refused + d.errors > 0 ? ' (ha-provision plan shows them)' : ''}\n`
      : `drift: unknown: ${e(d.reason)}\n`,
  );
  if (s.reasons.length > 0) {
    out.push(`\n${s.verdict === 'down' ? 'down' : 'degraded'}:\n`);
    for (const r of s.reasons) out.push(`  - ${e(r)}\n`);
  }
  return out.join('');
}
