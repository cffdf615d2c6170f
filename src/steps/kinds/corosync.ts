/**
 * `corosync`: a node's cluster membership layer, corosync 3 with knet.
 *
 *  - /etc/corosync/corosync.conf rendered from params (cluster name, nodes
 *    with nodeid and one or more link addresses, `two_node: 1` for two
 *    nodes, or a quorum device on an arbitrator running corosync-qnetd);
 *  - /etc/corosync/authkey (0400 root:root): the key is a SECRET that comes
 *    from the inventory (the controller never reads it back from a node):
 *    the probe compares sha256 on the node, the upload is marked secret, so
 *    the key is never shown, logged or downloaded. The same value on every
 *    node is what makes them one cluster; the key is generated once by the
 *    operator (e.g. `head -c 256 /dev/urandom | base64 -w0`, 128-4096 bytes
 *    as corosync-keygen accepts);
 *  - corosync, pacemaker (and corosync-qdevice with a quorum device) enabled
 *    and running; a changed file on a running node restarts corosync (the
 *    node leaves and rejoins the membership; Debian's packages start a
 *    one-node "debian" cluster at install time, which this replaces);
 *  - corosync running with an older configuration than the file's (its
 *    cluster name or node list, read with corosync-cmapctl, differ: a run
 *    stopped between writing the file and the restart, or Debian's one-node
 *    "debian" cluster still running) is restarted too;
 *  - then a wait until every listed node is online in pacemaker.
 *
 * Refused: a unit that is not installed (install the packages first).
 */
import { z } from 'zod';
import { OWNER_NAMES, UNIT_FILES, type Change } from '../contract.js';
import { commandProbe, defineStep, exec, refuse, sudoOf, upload, wait } from '../define.js';
import { fileHashProbe, formatMode } from '../../facts/file.js';
import { renderCorosyncConf, type CorosyncConfig } from '../../facts/corosync.js';
import { crmMonProbe } from '../../facts/crm-mon.js';
import { serviceProbe, type ServiceFact } from '../../facts/service.js';
import { inCorosync } from '../config-values.js';
import { maskSecrets } from '../../mask.js';
import { unifiedDiff } from '../udiff.js';
import { sha256 } from '../../hash.js';

export const COROSYNC_CONF = '/etc/corosync/corosync.conf';
export const AUTHKEY = '/etc/corosync/authkey';
const MAX_DIFF_BYTES = 65536;

const Addr = z
  .string()
  .superRefine(inCorosync)
  .regex(/^[A-Za-z0-9.:%-]+$/, 'an IP address or host name');
const NodeName = z
  .string()
  .superRefine(inCorosync)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a node name (as `uname -n` prints it)');
/** An inventory node as `!ref nodes[*]` gives it (name and addresses are read; the rest is ignored). */
const MemberView = z.object({ name: NodeName, networks: z.record(z.string(), z.object({ address: Addr }).loose()) }).loose();

export const corosyncParams = z
  .object({
    cluster_name: z
      .string()
      .superRefine(inCorosync)
      .regex(/^[A-Za-z0-9_.-]{1,32}$/, 'a cluster name (letters, digits, "_", ".", "-"; at most 32)'),
    /** The members as a list (or give `members` and `rings`). */
    nodes: z
      .array(
        z
          .object({
            name: NodeName,
            /** Default: position in the list + 1. */
            nodeid: z.int().min(1).max(2147483647).optional(),
            /** Link addresses: ring0_addr, ring1_addr... (knet: up to 8). */
            addrs: z.array(Addr).min(1).max(8),
          })
          .strict(),
      )
      .min(1)
      .optional(),
    /**
     * The members as inventory nodes (`!ref targets[*]`, `!ref group.NAME[*]`):
     * each node's addresses on `rings`, in order (ring0 = the first network).
     */
    members: z.array(MemberView).min(1).optional(),
    rings: z.array(z.string().min(1)).min(1).max(8).optional(),
    /** The shared key (secret, from the inventory). */
    authkey: z.string().refine((k) => Buffer.byteLength(k) >= 128 && Buffer.byteLength(k) <= 4096, 'a key of 128 to 4096 bytes (e.g. `head -c 256 /dev/urandom | base64 -w0`)'),
    crypto_cipher: z.enum(['aes256', 'aes192', 'aes128']).default('aes256'),
    crypto_hash: z.enum(['sha256', 'sha384', 'sha512']).default('sha256'),
    /** Default: true for exactly two nodes without a quorum device. */
    two_node: z.boolean().optional(),
    /** A quorum device: corosync-qnetd on an arbitrator (not a member). */
    qdevice: z
      .object({
        host: Addr,
        port: z.int().min(1).max(65535).default(5403),
        algorithm: z.enum(['ffsplit', 'lms']).default('ffsplit'),
        /** "on" and "required" need the qnetd/qdevice certificates: the kinds qnetd-certs and qdevice-certs exchange them (playbooks/arbitrator.yaml). */
        tls: z.enum(['on', 'off', 'required']).default('on'),
      })
      .strict()
      .optional(),
    token_ms: z.int().min(100).optional(),
    /** Wait until every listed node is online in pacemaker. */
    wait: z.boolean().default(true),
    sudo: z.boolean().default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    if ((p.nodes === undefined) === (p.members === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['nodes'],
        message: 'give exactly one of "nodes" (a list of {name, addrs}) or "members" (inventory nodes, e.g. !ref targets[*]) with "rings"',
      });
      return;
    }
    if (p.members !== undefined) {
      if (p.rings === undefined) {
        ctx.addIssue({ code: 'custom', path: ['rings'], message: 'with "members", give "rings": the networks whose addresses are ring0, ring1... (e.g. [lan, replication])' });
        return;
      }
      let missing = false;
      p.members.forEach((m, i) =>
        p.rings!.forEach((r) => {
          if (m.networks[r] === undefined) {
            missing = true;
            ctx.addIssue({
              code: 'custom',
              path: ['members', i],
              message: `node ${m.name} has no address on network "${r}" (it has: ${Object.keys(m.networks).join(', ') || 'none'})`,
            });
          }
        }),
      );
      if (missing) return;
    } else if (p.rings !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['rings'], message: '"rings" goes with "members", not with "nodes"' });
      return;
    }
    const nodes = corosyncNodes(p);
    const links = nodes[0]!.addrs.length;
    const names = new Set<string>();
    const ids = new Set<number>();
    nodes.forEach((n, i) => {
      if (n.addrs.length !== links)
        ctx.addIssue({ code: 'custom', path: ['nodes', i, 'addrs'], message: `expected ${links} address(es) like the first node, found ${n.addrs.length}` });
      if (names.has(n.name)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'name'], message: `node "${n.name}" is listed twice` });
      names.add(n.name);
      const id = n.nodeid ?? i + 1;
      if (ids.has(id)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'nodeid'], message: `nodeid ${id} is used twice` });
      ids.add(id);
    });
    if (p.two_node === true && p.qdevice) ctx.addIssue({ code: 'custom', path: ['two_node'], message: 'two_node and a quorum device exclude each other' });
    if (p.two_node === true && nodes.length !== 2) ctx.addIssue({ code: 'custom', path: ['two_node'], message: `two_node needs exactly 2 nodes, found ${nodes.length}` });
  });
export type CorosyncParams = z.infer<typeof corosyncParams>;

/** The member list, as written (`nodes`) or from inventory nodes (`members` on `rings`). */
export function corosyncNodes(p: CorosyncParams): { name: string; nodeid?: number; addrs: string[] }[] {
  if (p.nodes !== undefined) return p.nodes;
  return (p.members ?? []).map((m) => ({ name: m.name, addrs: (p.rings ?? []).map((r) => m.networks[r]!.address) }));
}

/** The running corosync's cluster name and node list (`totem.cluster_name (str) = x`, `nodelist.node.N.name/ringI_addr`). */
const RUNNING_SCRIPT = 'corosync-cmapctl 2>/dev/null | grep -E "^(totem\\.cluster_name|nodelist\\.node\\.[0-9]+\\.(name|ring[0-9]_addr)) "; exit 0';

/** One `name@addr0,addr1` per node, sorted. */
function nodeKeys(nodes: readonly { name: string; addrs: readonly string[] }[]): string[] {
  return nodes.map((n) => `${n.name}@${n.addrs.join(',')}`).sort();
}

/** corosync-cmapctl's lines -> what the running corosync loaded; undefined when it says nothing (not running). */
export function parseRunningConfig(stdout: string): { cluster: string; nodes: string[] } | undefined {
  let cluster: string | undefined;
  const nodes = new Map<string, { name: string; addrs: string[] }>();
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) \([a-z0-9]+\) = (.*)$/.exec(line);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'totem.cluster_name') cluster = value;
    const n = /^nodelist\.node\.(\d+)\.(name|ring(\d)_addr)$/.exec(key);
    if (!n) continue;
    const entry = nodes.get(n[1]!) ?? { name: '', addrs: [] };
    if (n[2] === 'name') entry.name = value;
    else entry.addrs[Number(n[3])] = value;
    nodes.set(n[1]!, entry);
  }
  if (cluster === undefined) return undefined;
  return { cluster, nodes: nodeKeys([...nodes.values()].map((e) => ({ name: e.name, addrs: e.addrs.filter((a) => a !== undefined) }))) };
}

export function corosyncConfig(p: CorosyncParams): CorosyncConfig {
  return {
    clusterName: p.cluster_name,
    nodes: corosyncNodes(p).map((n, i) => ({ name: n.name, nodeid: n.nodeid ?? i + 1, addrs: n.addrs })),
    cryptoCipher: p.crypto_cipher,
    cryptoHash: p.crypto_hash,
    twoNode: p.two_node ?? (corosyncNodes(p).length === 2 && !p.qdevice),
    ...(p.qdevice ? { qdevice: p.qdevice } : {}),
    ...(p.token_ms !== undefined ? { tokenMs: p.token_ms } : {}),
  };
}

function units(p: CorosyncParams): string[] {
  return p.qdevice ? ['corosync', 'corosync-qdevice', 'pacemaker'] : ['corosync', 'pacemaker'];
}

export const corosyncStep = defineStep({
  kind: 'corosync',
  params: corosyncParams,
  // its files, its units, and crm_mon's view of the cluster (every node's membership)
  reads: (p) => [COROSYNC_CONF, AUTHKEY, ...OWNER_NAMES, ...units(p).map((u) => `unit:${u}`), ...UNIT_FILES, 'pkgdb:', 'cluster:'],
  // starting or restarting the stack: units that depend on corosync, and the cluster acts on its CIB
  writes: () => [COROSYNC_CONF, AUTHKEY, 'unit:', 'cluster:'],
  probes(p: CorosyncParams) {
    const conf = renderCorosyncConf(corosyncConfig(p));
    return {
      // -1: the key's content is never sent back, only its sha256
      authkey: fileHashProbe(AUTHKEY, sha256(p.authkey), -1, p.sudo),
      conf: fileHashProbe(COROSYNC_CONF, sha256(conf), MAX_DIFF_BYTES, p.sudo),
      'unit-corosync': serviceProbe('corosync', p.sudo),
      'unit-corosync-qdevice': p.qdevice ? serviceProbe('corosync-qdevice', p.sudo) : undefined,
      'unit-pacemaker': serviceProbe('pacemaker', p.sudo),
      status: crmMonProbe(p.sudo),
      // what the running corosync loaded (empty when it does not run)
      running: commandProbe(['sh', '-c', RUNNING_SCRIPT], p.sudo),
    };
  },
  diff(p, facts, node): Change[] {
    const sudo = sudoOf(p.sudo);
    const conf = renderCorosyncConf(corosyncConfig(p));
    const secrets = [...node.secrets, p.authkey];
    const unitFacts: Record<string, ServiceFact | undefined> = {
      corosync: facts['unit-corosync'],
      'corosync-qdevice': facts['unit-corosync-qdevice'],
      pacemaker: facts['unit-pacemaker'],
    };
    const svc = new Map<string, { enabled: boolean | null; running: boolean | null }>();
    for (const u of units(p)) {
      const s = unitFacts[u]!;
      if (s.init === 'none' || !s.installed) return [refuse(`${u} is not installed on this node: install its package first`)];
      if (s.init !== 'systemd') return [refuse(`${u}: only systemd nodes are supported (found ${s.init})`)];
      svc.set(u, s);
    }
    const changes: Change[] = [];
    let fileChanged = false;

    const key = facts.authkey;
    if (key.state === 'notfile') return [refuse(`${AUTHKEY} exists and is not a regular file`)];
    if (key.state === 'absent' || key.sha256 !== sha256(p.authkey)) {
      fileChanged = true;
      changes.push(
        upload({
          path: AUTHKEY,
          content: p.authkey,
          mode: '0400',
          owner: 'root',
          group: 'root',
          ...sudo,
          description: `write ${AUTHKEY} (the cluster's shared key, 0400 root:root)`,
          diff: key.state === 'absent' ? `(new secret file ${AUTHKEY}, content hidden)\n` : `(secret content of ${AUTHKEY} changes, diff hidden)\n`,
          secret: true,
        }),
      );
    } else if (key.stat.mode !== 0o400 || key.stat.owner !== 'root' || key.stat.group !== 'root') {
      changes.push(exec(['chmod', '0400', '--', AUTHKEY], `chmod ${AUTHKEY} ${formatMode(key.stat.mode)} -> 0400`, { sudo: p.sudo }));
      changes.push(exec(['chown', 'root:root', '--', AUTHKEY], `chown ${AUTHKEY} root:root`, { sudo: p.sudo }));
    }

    const cf = facts.conf;
    if (cf.state === 'notfile') return [refuse(`${COROSYNC_CONF} exists and is not a regular file`)];
    if (cf.state === 'absent' || cf.sha256 !== sha256(conf)) {
      fileChanged = true;
      const before = cf.state === 'file' ? cf.content : '';
      changes.push(
        upload({
          path: COROSYNC_CONF,
          content: conf,
          mode: '0644',
          owner: 'root',
          group: 'root',
          ...sudo,
          description: `write ${COROSYNC_CONF} (cluster ${p.cluster_name}, ${corosyncNodes(p).length} node(s), ${corosyncNodes(p)[0]!.addrs.length} link(s))${p.qdevice?.tls === 'off' ? ' -- WARNING: quorum device without TLS (qdevice tls: off): the arbitrator is not authenticated; lab use only' : ''}`,
          diff:
            before === undefined
              ? `(content of ${COROSYNC_CONF} changes; old file not shown)\n`
              : unifiedDiff(maskSecrets(before, secrets), conf, cf.state === 'absent' ? '/dev/null' : COROSYNC_CONF, COROSYNC_CONF),
        }),
      );
    }

    for (const [u, s] of svc) {
      if (s.enabled === false) changes.push(exec(['systemctl', 'enable', u], `enable ${u} at boot`, { sudo: p.sudo }));
    }
    const running = (u: string) => svc.get(u)?.running === true;
    const loaded = parseRunningConfig(facts.running.stdout);
    const wanted = nodeKeys(corosyncConfig(p).nodes);
    const outdated = loaded !== undefined && (loaded.cluster !== p.cluster_name || loaded.nodes.join(' ') !== wanted.join(' '));
    if (fileChanged && running('corosync')) {
      changes.push(
        exec(['systemctl', 'restart', 'corosync'], 'restart corosync to load the new key/configuration (this node leaves and rejoins the cluster; pacemaker restarts with it)', {
          sudo: p.sudo,
        }),
      );
      for (const u of units(p).filter((x) => x !== 'corosync')) changes.push(exec(['systemctl', 'start', u], `start ${u} (again)`, { sudo: p.sudo }));
    } else if (outdated && running('corosync')) {
      changes.push(
        exec(
          ['systemctl', 'restart', 'corosync'],
          `restart corosync: it runs an older configuration (cluster ${loaded.cluster}, nodes ${loaded.nodes.join(' ') || 'none'}) than ${COROSYNC_CONF} (cluster ${p.cluster_name}, nodes ${wanted.join(' ')})`,
          { sudo: p.sudo },
        ),
      );
      for (const u of units(p).filter((x) => x !== 'corosync')) changes.push(exec(['systemctl', 'start', u], `start ${u} (again)`, { sudo: p.sudo }));
    } else {
      for (const u of units(p)) if (!running(u)) changes.push(exec(['systemctl', 'start', u], `start ${u}`, { sudo: p.sudo }));
    }

    const names = corosyncNodes(p).map((n) => n.name);
    if (changes.length > 0) {
      if (p.wait) changes.push(wait(`nodes ${names.join(', ')} online in pacemaker`));
      return changes;
    }
    if (!p.wait) return [];
    const mon = facts.status;
    if (mon.state === 'down') return [mon.notInstalled ? refuse(mon.message) : wait(`pacemaker status unavailable: ${mon.message}`)];
    const online = new Set(mon.nodes.filter((n) => n.online && !n.unclean && !n.pending).map((n) => n.name));
    const missing = names.filter((n) => !online.has(n));
    if (missing.length === 0 && mon.dc !== undefined) return [];
    return [
      wait(
        missing.length ? `waiting for ${missing.join(', ')} to be online (${names.length - missing.length} of ${names.length})` : 'waiting for a DC to be elected',
        (names.length - missing.length) / names.length,
      ),
    ];
  },
});
