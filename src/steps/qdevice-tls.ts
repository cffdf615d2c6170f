/**
 * The certificate exchange between corosync-qnetd and the qdevice nodes
 * (what `pcs qdevice setup` and corosync-qdevice-net-certutil -Q do, but
 * every file carried THROUGH THE CONTROLLER: nodes need not reach each
 * other), shared by the kinds qnetd-certs and qdevice-certs:
 *
 *   qnetd host   corosync-qnetd-certutil -i            CA + server certificate (Debian's package does it at install)
 *   every node   carry qnetd-cacert.crt; corosync-qdevice-net-certutil -i -c it
 *   requester    corosync-qdevice-net-certutil -r -n CLUSTER                -> qdevice-net-node.crq
 *   qnetd host   carry the .crq; corosync-qnetd-certutil -s -c it -n CLUSTER  -> cluster-CLUSTER.crt
 *   requester    carry the .crt; corosync-qdevice-net-certutil -M -c it      -> qdevice-net-node.p12 (owner-only)
 *   other nodes  carry the .p12 (secret); corosync-qdevice-net-certutil -m -c it
 *
 * Paths and nicknames are corosync-qdevice's (qdevices/corosync-q*-certutil.sh).
 */
import { z } from 'zod';
import { nssDbProbe, type NssDbFact, type NssItem } from '../facts/nssdb.js';
import type { FactProbe } from './contract.js';

export const QNETD_DB = '/etc/corosync/qnetd/nssdb';
export const QNETD_CA_FILE = `${QNETD_DB}/qnetd-cacert.crt`;
export const QDEVICE_DIR = '/etc/corosync/qdevice/net';
export const QDEVICE_DB = `${QDEVICE_DIR}/nssdb`;
/** Where a node keeps the qnetd CA certificate it was given. */
export const QDEVICE_CA_COPY = `${QDEVICE_DIR}/qnetd-cacert.crt`;
export const CRQ = `${QDEVICE_DB}/qdevice-net-node.crq`;
/** The cluster certificate WITH ITS PRIVATE KEY (PKCS#12, empty password): a secret. */
export const P12 = `${QDEVICE_DB}/qdevice-net-node.p12`;
export const CA_NICK = 'QNet CA';
export const SERVER_NICK = 'QNetd Cert';
export const CLUSTER_NICK = 'Cluster Cert';

/** The certificate qnetd signs for a cluster. */
export function signedCrt(cluster: string): string {
  return `${QNETD_DB}/cluster-${cluster}.crt`;
}
/** The requester's .crq as carried to the qnetd host. */
export function carriedCrq(cluster: string): string {
  return `${QNETD_DB}/cluster-${cluster}.crq`;
}
/** The signed certificate as carried back to the requester. */
export function carriedCrt(cluster: string): string {
  return `${QDEVICE_DB}/cluster-${cluster}.crt`;
}

export const NodeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a node name of the inventory');
export const ClusterName = z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'a cluster name (letters, digits, "_", ".", "-"; at most 32), as corosync.conf names it');

/** A qdevice node's database: the CA, the cluster certificate, its key and validity, the request and the PKCS#12 file. */
export function qdeviceDbProbe(sudo: boolean, extra: readonly NssItem[] = []): FactProbe<NssDbFact> {
  return nssDbProbe(
    QDEVICE_DB,
    [{ cert: CA_NICK }, { cert: CLUSTER_NICK }, { key: CLUSTER_NICK }, { valid: CLUSTER_NICK }, { file: CRQ }, { sum: CRQ }, { file: P12 }, ...extra],
    sudo,
  );
}

/** The node holds a cluster certificate, with its key, issued by the CA of fingerprint `ca`. */
export function hasClusterCert(f: NssDbFact, ca: string | undefined): boolean {
  return ca !== undefined && f.db && f.certs[CA_NICK] === ca && f.certs[CLUSTER_NICK] !== undefined && f.keys[CLUSTER_NICK] === true && f.valid[CLUSTER_NICK] === true;
}

/** A fingerprint shortened for descriptions (its first and last bytes). */
export function shortFp(fp: string | undefined): string {
  if (fp === undefined) return 'none';
  return fp.length > 24 ? `${fp.slice(0, 11)}...${fp.slice(-5)}` : fp;
}

export const REFUSE_NO_TOOL = 'certutil is not installed (libnss3-tools, a dependency of corosync-qdevice and corosync-qnetd): install the packages first';
