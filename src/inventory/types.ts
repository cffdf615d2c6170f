/**
 * The normalised inventory model (what the engine sees), shared by
 * src/inventory and src/playbook. Re-exported by src/playbook/resolve.ts.
 */
import type { Endpoint, HostKeyPolicy } from '../ssh/types.js';

export interface NetworkAddress {
  address: string;
  interface?: string;
  prefix?: number;
}

export interface ResolvedNode {
  /** Inventory name: bob, alice. */
  name: string;
  /** Auth resolved (key path absolute; password read from env/prompt). */
  endpoint: Endpoint;
  /** Host key verification for this node (default: strict, ~/.ssh/known_hosts). */
  hostKeys: HostKeyPolicy;
  roles: string[];
  groups: string[];
  networks: Record<string, NetworkAddress>;
  vars: Record<string, unknown>;
  /** Values to mask everywhere (passwords, sudo passwords, shared secrets). */
  secrets: string[];
}

export interface ClusterNetwork {
  name: string;
  /** As written: 10.0.0.0/24. */
  cidr: string;
  /** Network address (corosync bindnetaddr): 10.0.0.0. */
  address: string;
  prefix: number;
}

export interface DrbdHost {
  /** Backing block device on this node, e.g. /dev/sdb1. */
  disk: string;
  /** Network whose address carries replication (default: the resource's network). */
  address: string;
  port: number;
  /** DRBD node id: the inventory's `node_id`, else the position among the resource's nodes. */
  nodeId: number;
}

export interface DrbdResource {
  name: string;
  device: string;
  minor: number;
  port: number;
  /** Network name whose per-node address DRBD binds to. */
  network: string;
  metaDisk: string;
  protocol: 'A' | 'B' | 'C';
  syncRate?: string;
  /** Peer slots for new metadata: `max_peers`, else 7 (or the peers when more): the same on every node. */
  maxPeers: number;
  /** DRBD quorum (`off`: none) and its on-no-quorum policy. */
  quorum: 'off' | 'majority' | 'all';
  onNoQuorum: 'io-error' | 'suspend-io';
  /** Node names carrying this resource, in inventory order. */
  nodes: string[];
  /** Per node: backing disk and replication address. */
  hosts: Record<string, DrbdHost>;
  /** Resolved from env; also listed in Project.secrets. */
  sharedSecret?: string;
}

export interface FilesystemResource {
  name: string;
  device: string;
  directory: string;
  fstype: string;
  options?: string;
  drbd?: string;
}

export interface VirtualIp {
  name: string;
  ip: string;
  cidrNetmask: number;
  nic: string;
  network?: string;
  /** The service's host names ([] when none). */
  hostnames: string[];
}

export interface FenceDevice {
  /** The stonith resource's id. */
  name: string;
  /** fence_ipmilan, fence_virsh... (the resource's agent is stonith:<agent>). */
  agent: string;
  /** The nodes it fences; it never runs on them. */
  fences: string[];
  /** The agent's parameters, secret ones resolved (also in Project.secrets). */
  params: Record<string, string>;
  /** Names of the parameters whose values are secrets. */
  secretParams: string[];
  /** Monitor interval, in seconds. */
  monitorS: number;
}

/** Fencing for the whole cluster (`fencing:`); `enabled: false` when the inventory has none. */
export interface Fencing {
  enabled: boolean;
  devices: FenceDevice[];
  /** stonith-timeout, seconds (Pacemaker's default when absent). */
  timeoutS?: number;
  action: 'reboot' | 'off';
  /** pcmk_delay_max of every device, seconds (0: none). */
  delayMaxS: number;
  /** DRBD resource-level fencing ('off' when fencing is off). */
  drbd: 'resource-and-stonith' | 'resource-only' | 'off';
  /** Ping heuristics before every device (fence_heuristics_ping), defaults applied. */
  heuristics?: FenceHeuristics;
  /** SBD instead of devices. */
  sbd?: Sbd;
}

/** `fencing.sbd` with its defaults (sbd(8)). */
export interface Sbd {
  /** Shared disks; empty: watchdog only. */
  devices: string[];
  watchdog: string;
  watchdogTimeoutS: number;
  /** The disks' msgwait (twice the watchdog timeout by default). */
  msgwaitS: number;
  startmode: 'always' | 'clean';
  /** The fence_sbd resource's id. */
  name: string;
  overwrite: boolean;
}

/** fence_heuristics_ping's parameters as the inventory sets them (seconds, counts). */
export interface FenceHeuristics {
  /** The stonith resource's id. */
  name: string;
  targets: string[];
  count: number;
  goodCount: number;
  intervalS: number;
  timeoutS: number;
  maxfail: number;
}

export interface ProjectSettings {
  concurrency: number;
  maxFailPercent: number;
  stepTimeoutMs: number;
  strategy: 'linear' | 'free';
  /** Absolute path. Default: `.ha-provision/<inventory name>/` beside the inventory (one per inventory file). */
  stateDir: string;
}


/** Cluster-wide data of the inventory. */
export interface ClusterModel {
  name: string;
  vars: Record<string, unknown>;
  networks: ClusterNetwork[];
  drbd: DrbdResource[];
  filesystems: FilesystemResource[];
  vips: VirtualIp[];
  fencing: Fencing;
  /** Name of the initial primary node (role `primary`), if any. */
  primary?: string;
  /** The inventory's named secrets (`secrets:`), resolved; also in Project.secrets. */
  secrets?: Record<string, string>;
}
