/**
 * Corosync membership and votequorum as facts: `corosync-quorumtool -s`
 * (corosync 3.1). Its text is "Key: value" lines in three blocks (quorum,
 * votequorum, membership: `Nodeid Votes [Qdevice] Name`, `(local)` after
 * this node's name, a `Qdevice` row when a quorum device votes). It exits 0
 * when quorate and 1 when not (both print the same blocks); without a
 * running corosync it prints "Cannot initialize QUORUM service" and no blocks.
 */
import type { ProbeResult } from '../steps/contract.js';

export interface QuorumMember {
  nodeid: number;
  votes: number;
  name: string;
  local: boolean;
}

export type QuorumFacts =
  | { state: 'down'; message: string }
  | {
      state: 'up';
      quorate: boolean;
      /** This node's id. */
      nodeId: number | undefined;
      expectedVotes: number | undefined;
      totalVotes: number | undefined;
      /** Votes needed for quorum. */
      quorum: number | undefined;
      flags: string[];
      members: QuorumMember[];
      /** The quorum device's votes when one is configured (flag Qdevice or a Qdevice row). */
      qdevice: { votes: number | undefined; flags: string[] } | undefined;
    };

export const QUORUM_ARGV = ['corosync-quorumtool', '-s'] as const;

export function parseQuorum(r: ProbeResult): QuorumFacts {
  const text = r.stdout;
  const field = (key: string): string | undefined => {
    const m = new RegExp(`^${key}:\\s*(.*?)\\s*$`, 'm').exec(text);
    return m ? m[1] : undefined;
  };
  const quorate = field('Quorate');
  if (quorate === undefined) return { state: 'down', message: (r.stderr.trim() || text.trim() || `corosync-quorumtool exit ${r.exitCode}`).slice(0, 300) };
  const int = (key: string) => {
    const v = field(key);
    const n = v === undefined ? NaN : parseInt(v, 10);
    return Number.isFinite(n) ? n : undefined;
  };
  const flags = (field('Flags') ?? '').split(/\s+/).filter(Boolean);
  const members: QuorumMember[] = [];
  let qdevice: { votes: number | undefined; flags: string[] } | undefined = flags.includes('Qdevice') ? { votes: undefined, flags: [] } : undefined;
  const start = text.indexOf('Membership information');
  if (start >= 0) {
    for (const line of text.slice(start).split('\n')) {
      // "         1          1 bob (local)", "         1          1    A,V,NMW bob (local)", "         0          1            Qdevice"
      const m = /^\s*(\d+)\s+(\d+)\s+(?:([A-Z,]+|NR)\s+)?(\S+)(\s+\(local\))?\s*$/.exec(line);
      if (!m) continue;
      if (m[4] === 'Qdevice') {
        qdevice = { votes: Number(m[2]), flags: qdevice?.flags ?? [] };
        continue;
      }
      members.push({ nodeid: Number(m[1]), votes: Number(m[2]), name: m[4]!, local: m[5] !== undefined });
    }
  }
  return {
    state: 'up',
    quorate: /^yes$/i.test(quorate),
    nodeId: int('Node ID'),
    expectedVotes: int('Expected votes'),
    totalVotes: int('Total votes'),
    quorum: int('Quorum'),
    flags,
    members,
    qdevice,
  };
}
