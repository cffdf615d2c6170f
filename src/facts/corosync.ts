/**
 * corosync.conf for corosync 3 (knet), rendered from data. Pure and
 * deterministic: the same input gives the same bytes, so the file's sha256
 * on the node says whether it is already right.
 */
import { assertConfigValue } from '../steps/config-values.js';

export interface CorosyncNode {
  name: string;
  nodeid: number;
  /** ring0_addr, ring1_addr... (knet links). */
  addrs: readonly string[];
}

export interface QuorumDevice {
  host: string;
  port: number;
  algorithm: 'ffsplit' | 'lms';
  tls: 'on' | 'off' | 'required';
}

export interface CorosyncConfig {
  clusterName: string;
  nodes: readonly CorosyncNode[];
  cryptoCipher: string;
  cryptoHash: string;
  twoNode: boolean;
  qdevice?: QuorumDevice;
  tokenMs?: number;
}

export function renderCorosyncConf(c: CorosyncConfig): string {
  // validated (src/steps/config-values.ts); checked again here: a value must never add structure to the file
  const v = (key: string, value: string) => assertConfigValue('corosync', key, value);
  const out: string[] = [
    '# Written by ha-provision (step kind "corosync"); local edits are overwritten.',
    'totem {',
    '    version: 2',
    `    cluster_name: ${v('cluster_name', c.clusterName)}`,
    '    transport: knet',
    `    crypto_cipher: ${c.cryptoCipher}`,
    `    crypto_hash: ${c.cryptoHash}`,
  ];
  if (c.tokenMs !== undefined) out.push(`    token: ${c.tokenMs}`);
  out.push('}', '', 'quorum {', '    provider: corosync_votequorum');
  if (c.twoNode) out.push('    two_node: 1');
  if (c.qdevice) {
    const q = c.qdevice;
    out.push('    device {', '        model: net');
    // measured (corosync-qdevice 3.0.3): ffsplit refuses to start unless votes is set to 1
    if (q.algorithm === 'ffsplit') out.push('        votes: 1');
    out.push(
      '        net {',
      `            host: ${v('qdevice.host', q.host)}`,
      `            port: ${q.port}`,
      `            algorithm: ${q.algorithm}`,
      `            tls: ${q.tls}`,
      '        }',
      '    }',
    );
  }
  out.push('}', '', 'nodelist {');
  for (const n of c.nodes) {
    out.push('    node {', `        name: ${v('name', n.name)}`, `        nodeid: ${n.nodeid}`);
    n.addrs.forEach((a, i) => out.push(`        ring${i}_addr: ${v('addrs', a)}`));
    out.push('    }');
  }
  out.push('}', '', 'logging {', '    to_logfile: yes', '    logfile: /var/log/corosync/corosync.log', '    to_syslog: yes', '    timestamp: on', '}', '');
  return out.join('\n');
}
