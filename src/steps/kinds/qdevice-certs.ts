/**
 * `qdevice-certs`: the qdevice nodes' side of the qdevice TLS exchange (see
 * src/steps/qdevice-tls.ts), in three stages, each a step of its own so
 * that the qnetd host's signing (qnetd-certs with `sign`) and the
 * requester's import come between them (barriers, no polling):
 *
 *  - `request` (every qdevice node): /etc/corosync/qdevice/net/nssdb
 *    trusts the qnetd host's CA (same SHA-256 fingerprint as "QNet CA" in
 *    the qnetd host's database); otherwise qnetd-cacert.crt is carried from
 *    there through the controller and `corosync-qdevice-net-certutil -i -c`
 *    run (a database that trusts another CA is removed first: its
 *    certificate cannot serve this qnetd). On the requester, also: a
 *    certificate request (`-r -n CLUSTER`) exists, unless it already holds
 *    its cluster certificate.
 *  - `import` (the requester): it holds "Cluster Cert" with its private
 *    key, valid against the CA; otherwise cluster-CLUSTER.crt is carried
 *    from the qnetd host and imported (`-M`, under umask 077: the
 *    qdevice-net-node.p12 it exports, certificate AND key, is owner-only
 *    from its first byte). The .p12 exists, mode 0600.
 *  - `share` (the other nodes): they hold the requester's "Cluster Cert"
 *    (same fingerprint) with its key; otherwise the requester's .p12 is
 *    carried (0600 root:root; its content is never shown or logged) and
 *    imported (`-m`; another cluster certificate there is deleted first).
 *
 * A stage that does not concern the node (import on the other nodes, share
 * on the requester) reads nothing and does nothing. Changed certificates
 * restart corosync-qdevice if it runs. Refused: no certutil; a stage whose
 * earlier stage has not run (import or share without the CA).
 * Reads other nodes (the qnetd host, the requester): its reads are undefined.
 */
import { z } from 'zod';
import type { Change } from '../contract.js';
import { carry, defineStep, exec, on, refuse, sudoOf } from '../define.js';
import { nssDbProbe } from '../../facts/nssdb.js';
import {
  CA_NICK,
  carriedCrt,
  CLUSTER_NICK,
  ClusterName,
  CRQ,
  hasClusterCert,
  NodeName,
  P12,
  QDEVICE_CA_COPY,
  QDEVICE_DB,
  QDEVICE_DIR,
  QNETD_CA_FILE,
  QNETD_DB,
  qdeviceDbProbe,
  REFUSE_NO_TOOL,
  shortFp,
  signedCrt,
} from '../qdevice-tls.js';

export const qdeviceCertsParams = z
  .object({
    stage: z.enum(['request', 'import', 'share']),
    /** The node running corosync-qnetd (inventory name). */
    qnetd: NodeName,
    /** The qdevice node that makes the request and shares its certificate (inventory name; usually the first of the group). */
    requester: NodeName,
    /** corosync.conf's cluster_name: the certificate's subject (CN). */
    cluster_name: ClusterName,
    sudo: z.boolean().default(false),
  })
  .strict();
export type QdeviceCertsParams = z.infer<typeof qdeviceCertsParams>;

const RESTART = 'restart corosync-qdevice if it runs (it reads its certificate when it starts)';

export const qdeviceCertsStep = defineStep({
  kind: 'qdevice-certs',
  params: qdeviceCertsParams,
  // the qnetd host's and the requester's databases are read on their nodes: anything, anywhere
  reads: () => undefined,
  writes: () => [QDEVICE_DIR, 'unit:corosync-qdevice'],
  probes: (p: QdeviceCertsParams, node) => {
    const requester = node.name === p.requester;
    const idle = (p.stage === 'import' && !requester) || (p.stage === 'share' && requester);
    return {
      own: idle ? undefined : qdeviceDbProbe(p.sudo),
      qnetd:
        p.stage === 'request'
          ? on(p.qnetd, nssDbProbe(QNETD_DB, [{ cert: CA_NICK }, { file: QNETD_CA_FILE }], p.sudo))
          : p.stage === 'import' && requester
            ? on(p.qnetd, nssDbProbe(QNETD_DB, [{ cert: CA_NICK }, { file: signedCrt(p.cluster_name) }], p.sudo))
            : undefined,
      requester: p.stage === 'share' && !requester ? on(p.requester, qdeviceDbProbe(p.sudo)) : undefined,
    };
  },
  diff(p, { own, qnetd, requester: req }, node): Change[] {
    if (!own) return [];
    if (!own.tool) return [refuse(REFUSE_NO_TOOL)];
    const s = sudoOf(p.sudo);
    const isRequester = node.name === p.requester;
    switch (p.stage) {
      case 'request': {
        if (!qnetd) return [];
        if (!qnetd.tool) return [refuse(`${p.qnetd}: ${REFUSE_NO_TOOL}`)];
        const ca = qnetd.certs[CA_NICK];
        const changes: Change[] = [];
        const trusted = own.db && ca !== undefined && own.certs[CA_NICK] === ca;
        if (!trusted) {
          if (own.db) {
            changes.push(
              exec(
                ['rm', '-rf', '--', QDEVICE_DB],
                `remove ${QDEVICE_DB}: it trusts another CA (${shortFp(own.certs[CA_NICK])}) than ${p.qnetd}'s (${shortFp(ca)}), so its certificate cannot serve`,
                s,
              ),
            );
          }
          const later = ca === undefined ? ` (made by an earlier step: known after apply)` : ` (${shortFp(ca)})`;
          changes.push(
            exec(['mkdir', '-p', QDEVICE_DIR], `${QDEVICE_DIR} exists`, s),
            carry({
              from: p.qnetd,
              source: QNETD_CA_FILE,
              ...(p.sudo ? { sourceSudo: true } : {}),
              path: QDEVICE_CA_COPY,
              mode: '0644',
              owner: 'root',
              group: 'root',
              ...s,
              description: `${p.qnetd}'s qnetd CA certificate, carried through the controller to ${QDEVICE_CA_COPY}${later}`,
            }),
            exec(['corosync-qdevice-net-certutil', '-i', '-c', QDEVICE_CA_COPY], `create ${QDEVICE_DB} trusting that CA`, s),
          );
        }
        if (isRequester && !(trusted && (hasClusterCert(own, ca) || own.files[CRQ]))) {
          changes.push(exec(['corosync-qdevice-net-certutil', '-r', '-n', p.cluster_name], `request a certificate for cluster ${p.cluster_name} (${CRQ})`, s));
        }
        return changes;
      }
      case 'import': {
        if (!qnetd) return [];
        const ca = qnetd.certs[CA_NICK];
        if (!own.db || ca === undefined || own.certs[CA_NICK] !== ca) return [refuse(`${QDEVICE_DB} does not trust ${p.qnetd}'s CA yet: the request stage runs first`)];
        if (!hasClusterCert(own, ca)) {
          const crt = signedCrt(p.cluster_name);
          const later = qnetd.files[crt] ? '' : ` (signed by an earlier step: known after apply)`;
          return [
            carry({
              from: p.qnetd,
              source: crt,
              ...(p.sudo ? { sourceSudo: true } : {}),
              path: carriedCrt(p.cluster_name),
              mode: '0644',
              owner: 'root',
              group: 'root',
              ...s,
              description: `the certificate ${p.qnetd} signed for cluster ${p.cluster_name}, carried through the controller to ${carriedCrt(p.cluster_name)}${later}`,
            }),
            exec(
              ['sh', '-c', 'umask 077 && exec corosync-qdevice-net-certutil -M -c "$1"', 'sh', carriedCrt(p.cluster_name)],
              `import it as "${CLUSTER_NICK}" and export it with its private key to ${P12} (owner-only)`,
              s,
            ),
            exec(['systemctl', 'try-restart', 'corosync-qdevice'], RESTART, s),
          ];
        }
        return p12Kept(own.files[P12], s, true);
      }
      case 'share': {
        if (!req) return [];
        const ca = req.certs[CA_NICK];
        if (!own.db || ca === undefined || own.certs[CA_NICK] !== ca)
          return [refuse(`${QDEVICE_DB} does not trust the CA of ${p.requester}'s certificate yet: the request stage runs first`)];
        const theirs = req.certs[CLUSTER_NICK];
        if (theirs !== undefined && own.certs[CLUSTER_NICK] === theirs && hasClusterCert(own, ca)) return p12Kept(own.files[P12], s, false);
        const later = req.files[P12] ? ` (${shortFp(theirs)})` : ` (made by an earlier step: known after apply)`;
        return [
          ...(own.certs[CLUSTER_NICK] !== undefined
            ? [
                exec(
                  ['certutil', '-F', '-d', QDEVICE_DB, '-n', CLUSTER_NICK, '-f', `${QDEVICE_DB}/pwdfile.txt`],
                  `delete this node's other "${CLUSTER_NICK}" (${shortFp(own.certs[CLUSTER_NICK])}) and its key`,
                  s,
                ),
              ]
            : []),
          carry({
            from: p.requester,
            source: P12,
            ...(p.sudo ? { sourceSudo: true } : {}),
            path: P12,
            mode: '0600',
            owner: 'root',
            group: 'root',
            ...s,
            description: `${p.requester}'s cluster certificate and private key (secret, never shown), carried through the controller to ${P12}${later}`,
          }),
          exec(['corosync-qdevice-net-certutil', '-m', '-c', P12], `import them as "${CLUSTER_NICK}"`, s),
          exec(['systemctl', 'try-restart', 'corosync-qdevice'], RESTART, s),
        ];
      }
    }
  },
});

/** The .p12 (certificate and private key) owner-only; on the requester it exists (the other nodes copy it). */
function p12Kept(f: { mode: number } | null | undefined, s: { sudo?: true }, requester: boolean): Change[] {
  if (!f) {
    return requester
      ? [
          exec(
            ['sh', '-c', 'umask 077 && exec pk12util -d "$1" -o "$2" -W "" -n "$3"', 'sh', QDEVICE_DB, P12, CLUSTER_NICK],
            `export "${CLUSTER_NICK}" with its key to ${P12} (owner-only)`,
            s,
          ),
        ]
      : [];
  }
  if ((f.mode & 0o077) !== 0) return [exec(['chmod', '0600', '--', P12], `${P12} holds a private key: owner-only (mode ${f.mode.toString(8)} -> 600)`, s)];
  return [];
}
