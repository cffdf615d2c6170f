/**
 * `qnetd-certs`: corosync-qnetd's side of the qdevice TLS exchange (see
 * src/steps/qdevice-tls.ts), on the qnetd host.
 *
 * Done: /etc/corosync/qnetd/nssdb holds the CA ("QNet CA") and the server
 * certificate ("QNetd Cert"), and the CA is exported to qnetd-cacert.crt
 * (Debian's corosync-qnetd makes all three at install; otherwise
 * `corosync-qnetd-certutil -i`, then corosync-qnetd restarted if it runs).
 * With `sign: {node, cluster_name}`, also: that node's certificate request
 * is signed: the node already holds a cluster certificate from this CA with
 * its key, or cluster-NAME.crt was made from the request the node holds now
 * (its copy here, cluster-NAME.crq, has the same sha256: a request is
 * public). Otherwise the request is carried here through the controller and
 * signed (`corosync-qnetd-certutil -s`). The CA's private key never leaves
 * this node.
 *
 * Refused: no certutil; a database without the CA or server certificate
 * (not corosync-qnetd-certutil's: move it away to start again).
 * Reads another node (the requester): its reads are undefined.
 */
import { z } from 'zod';
import type { Change } from '../contract.js';
import { carry, defineStep, exec, on, refuse, sudoOf } from '../define.js';
import { nssDbProbe } from '../../facts/nssdb.js';
import {
  CA_NICK,
  ClusterName,
  CRQ,
  carriedCrq,
  hasClusterCert,
  NodeName,
  QNETD_CA_FILE,
  QNETD_DB,
  qdeviceDbProbe,
  REFUSE_NO_TOOL,
  SERVER_NICK,
  shortFp,
  signedCrt,
} from '../qdevice-tls.js';

export const qnetdCertsParams = z
  .object({
    /** Sign the cluster certificate request of this node (the qdevice node that makes it), for this cluster. */
    sign: z.object({ node: NodeName, cluster_name: ClusterName }).strict().optional(),
    sudo: z.boolean().default(false),
  })
  .strict();
export type QnetdCertsParams = z.infer<typeof qnetdCertsParams>;

export const qnetdCertsStep = defineStep({
  kind: 'qnetd-certs',
  params: qnetdCertsParams,
  // the requester's database is read on its node: anything, anywhere
  reads: () => undefined,
  writes: () => [QNETD_DB, 'unit:corosync-qnetd'],
  probes: (p: QnetdCertsParams) => ({
    qnetd: nssDbProbe(
      QNETD_DB,
      [{ cert: CA_NICK }, { cert: SERVER_NICK }, { file: QNETD_CA_FILE }, ...(p.sign ? [{ file: signedCrt(p.sign.cluster_name) }, { sum: carriedCrq(p.sign.cluster_name) }] : [])],
      p.sudo,
    ),
    requester: p.sign ? on(p.sign.node, qdeviceDbProbe(p.sudo)) : undefined,
  }),
  diff(p, { qnetd: q, requester: r }): Change[] {
    if (!q.tool) return [refuse(REFUSE_NO_TOOL)];
    const s = sudoOf(p.sudo);
    const changes: Change[] = [];
    let fresh = false;
    if (!q.db) {
      fresh = true;
      changes.push(
        exec(['corosync-qnetd-certutil', '-i'], `create the qnetd CA and server certificate in ${QNETD_DB}`, s),
        exec(['systemctl', 'try-restart', 'corosync-qnetd'], 'restart corosync-qnetd if it runs (it reads its certificate when it starts)', s),
      );
    } else if (q.certs[CA_NICK] === undefined || q.certs[SERVER_NICK] === undefined) {
      return [refuse(`${QNETD_DB} exists but holds no "${CA_NICK}" and "${SERVER_NICK}" certificates: not made by corosync-qnetd-certutil -i; move it away to start again`)];
    } else if (!q.files[QNETD_CA_FILE]) {
      changes.push(
        exec(
          ['sh', '-c', 'certutil -L -d "$1" -n "$2" > "$3.new" && certutil -L -d "$1" -n "$2" -a >> "$3.new" && mv -f "$3.new" "$3"', 'sh', QNETD_DB, CA_NICK, QNETD_CA_FILE],
          `export the qnetd CA certificate to ${QNETD_CA_FILE}`,
          s,
        ),
      );
    }
    if (!p.sign || !r) return changes;
    const { node, cluster_name: cluster } = p.sign;
    const ca = q.certs[CA_NICK];
    if (!r.tool) return [...changes, refuse(`${node}: ${REFUSE_NO_TOOL}`)];
    // the requester holds its certificate from this CA: nothing to sign
    if (!fresh && hasClusterCert(r, ca)) return changes;
    // signed already from the request the node holds now
    const request = r.sums[CRQ];
    if (!fresh && request !== undefined && q.files[signedCrt(cluster)] && q.sums[carriedCrq(cluster)] === request) return changes;
    const later = request === undefined ? ` (${node} makes it in an earlier step: known after apply)` : '';
    changes.push(
      carry({
        from: node,
        source: CRQ,
        ...(p.sudo ? { sourceSudo: true } : {}),
        path: carriedCrq(cluster),
        mode: '0640',
        owner: 'root',
        group: 'root',
        ...s,
        description: `${node}'s cluster certificate request, carried through the controller to ${carriedCrq(cluster)}${later}`,
      }),
      exec(
        ['corosync-qnetd-certutil', '-s', '-c', carriedCrq(cluster), '-n', cluster],
        `sign it with the qnetd CA (${shortFp(ca)}): ${signedCrt(cluster)}, the certificate of cluster ${cluster}`,
        s,
      ),
    );
    return changes;
  },
});
