/**
 * The inventory file, as zod schemas (the single source of truth; types are
 * inferred). Every object is strict: unknown keys are errors. No transforms
 * here (the JSON Schema is generated from these); defaults and paths are
 * applied in model.ts (put together by normalize.ts), cross-field rules live
 * in rules.ts.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { inDrbdWord } from '../steps/config-values.js';
import { expecting, LITERAL_SECRET } from './issues.js';

/** Lower-case host-name label: bob, alice, node-3. */
export const NodeName = z
  .string({ error: expecting('a node name') })
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { error: expecting('a node name: lower-case letters, digits and "-" (like a host name)') });

/** Network, role and group names. */
export const Ident = z
  .string({ error: expecting('a name') })
  .regex(/^[a-z][a-z0-9_-]{0,62}$/, { error: expecting('a name: a lower-case letter, then letters, digits, "_" or "-"') });

/** Cluster resource names (DRBD resources, filesystems, virtual IPs): r0, mysql, mysql_fs. */
export const ResourceName = z
  .string({ error: expecting('a resource name') })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { error: expecting('a resource name: letters, digits, "_", "." or "-"') });

export const Port = z.int({ error: expecting('an integer 1-65535') }).min(1, { error: expecting('an integer 1-65535') }).max(65535, { error: expecting('an integer 1-65535') });

export const IpAddress = z.union([z.ipv4(), z.ipv6()], { error: expecting('an IPv4 or IPv6 address') });

export const Cidr = z.union([z.cidrv4(), z.cidrv6()], { error: expecting('a network in CIDR notation, e.g. 10.0.0.0/24') });

export const HostOrIp = z
  .string({ error: expecting('a host name or IP address') })
  .regex(/^[A-Za-z0-9.:_%-]+$/, { error: expecting('a host name or IP address') });

export const EnvVar = z
  .string({ error: expecting('an environment variable name') })
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: expecting('an environment variable name (letters, digits, "_")') });

/** Written into DRBD .res files as a bare word: no character that would end it or add structure (../steps/config-values.ts). */
export const DevicePath = z
  .string({ error: expecting('a device path such as /dev/sdb1') })
  .superRefine(inDrbdWord)
  .regex(/^\/dev\/\S+$/, { error: expecting('a device path such as /dev/sdb1') });

export const AbsolutePath = z
  .string({ error: expecting('an absolute path') })
  .regex(/^\/\S*$/, { error: expecting('an absolute path') });

export const FilePath = z.string({ error: expecting('a file path') }).min(1, { error: expecting('a file path') });

/** A duration: seconds as an integer, or "500ms", "90s", "10m", "1h". */
const DURATION = 'a duration such as 90s, 10m or 1h (or a whole number of seconds)';
export const Duration = z.union(
  [
    z.int({ error: expecting(DURATION) }).min(1, { error: expecting(DURATION) }),
    z.string({ error: expecting(DURATION) }).regex(/^[1-9][0-9]*(ms|s|m|h)$/, { error: expecting(DURATION) }),
  ],
  { error: expecting(DURATION) },
);

function secretError(iss: { input?: unknown }): string | undefined {
  if (typeof iss.input === 'string' || typeof iss.input === 'number') return LITERAL_SECRET;
  return undefined;
}

/** A secret: never literal. `{env: NAME}` or `{prompt: true}`. */
export const SecretRef = z
  .strictObject(
    {
      env: EnvVar.optional(),
      prompt: z.literal(true, { error: expecting('true') }).optional(),
    },
    { error: secretError },
  )
  .refine((s) => (s.env === undefined) !== (s.prompt === undefined), {
    error: 'expected exactly one of "env: VAR_NAME" or "prompt: true"',
  });

/**
 * A named secret of the top-level `secrets:` map (playbooks read it as
 * `!ref cluster.secrets.<name>`): `{env: NAME}`, `{prompt: true}`, or
 * `{file: path}` (relative to the inventory file; the file must be readable by
 * its owner only, e.g. mode 0600 or 0400; one trailing newline is dropped).
 */
export const NamedSecretRef = z
  .strictObject(
    {
      env: EnvVar.optional(),
      prompt: z.literal(true, { error: expecting('true') }).optional(),
      file: FilePath.optional(),
    },
    { error: secretError },
  )
  .refine((s) => [s.env, s.prompt, s.file].filter((x) => x !== undefined).length === 1, {
    error: 'expected exactly one of "env: VAR_NAME", "prompt: true" or "file: <path>"',
  });

/** A secret that can only come from the environment (no prompt: used unattended). */
export const EnvSecretRef = z.strictObject({ env: EnvVar }, { error: secretError });

export const Auth = z
  .strictObject({
    /** Private key file (relative to the inventory file; `~` is the home directory). */
    key: FilePath.optional(),
    /** Passphrase of the key, from the environment. */
    passphrase: EnvSecretRef.optional(),
    /** Use the SSH agent: `true` ($SSH_AUTH_SOCK) or a socket path. */
    agent: z.union([z.literal(true), FilePath], { error: expecting('true or an agent socket path') }).optional(),
    password: SecretRef.optional(),
  })
  .superRefine((a, ctx) => {
    const set = (['key', 'agent', 'password'] as const).filter((k) => a[k] !== undefined);
    if (set.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          set.length === 0
            ? 'expected one of "key: <path>", "agent: true" or "password: {env: VAR}|{prompt: true}", found none'
            : `expected exactly one of "key", "agent" or "password", found ${set.join(' and ')}`,
      });
    }
    if (a.passphrase !== undefined && a.key === undefined) {
      ctx.addIssue({ code: 'custom', path: ['passphrase'], message: 'expected "passphrase" only together with "key"' });
    }
  });

export const Become = z.union(
  [
    z.literal('sudo'),
    z.strictObject({
      method: z.literal('sudo', { error: expecting('"sudo"') }),
      password: SecretRef.optional(),
    }),
  ],
  { error: expecting('"sudo" or {method: sudo, password: {env: VAR}|{prompt: true}}') },
);

export const HostKeyPolicy = z.enum(['strict', 'accept-new'], { error: expecting('"strict" or "accept-new"') });

/** A jump host that is not a node of the inventory. */
export const JumpEndpoint = z.strictObject({
  host: HostOrIp,
  port: Port.optional(),
  user: z.string().min(1).optional(),
  auth: Auth.optional(),
});

/** SSH options shared by nodes (top-level `ssh:`, no host). */
const sshCommon = {
  port: Port.optional(),
  user: z.string({ error: expecting('a user name') }).min(1, { error: expecting('a user name') }).optional(),
  auth: Auth.optional(),
  known_hosts: FilePath.optional(),
  host_key_policy: HostKeyPolicy.optional(),
  become: Become.optional(),
  /** ProxyJump: another node's name, or an endpoint. */
  jump: z
    .union([NodeName, JumpEndpoint], { error: expecting('a node name or {host, port, user, auth}') })
    .optional(),
};

export const SshDefaults = z.strictObject(sshCommon);
export const NodeSsh = z.strictObject({ host: HostOrIp, ...sshCommon });

export const NodeNetwork = z.strictObject({
  address: IpAddress,
  interface: z
    .string({ error: expecting('an interface name such as eth1') })
    .regex(/^[A-Za-z0-9_.:@-]{1,15}$/, { error: expecting('an interface name such as eth1') })
    .optional(),
  prefix: z.int({ error: expecting('a prefix length 0-128') }).min(0).max(128).optional(),
});

export const Vars = z.record(z.string(), z.unknown(), { error: expecting('a map of variables') });

export const Node = z.strictObject({
  ssh: NodeSsh,
  networks: z.record(Ident, NodeNetwork, { error: expecting('a map of network name to {address, interface, prefix}') }).optional(),
  /** `primary` marks the initial primary (at most one node). */
  roles: z.array(Ident, { error: expecting('a list of role names') }).optional(),
  groups: z.array(Ident, { error: expecting('a list of group names') }).optional(),
  vars: Vars.optional(),
});

export const Network = z.strictObject({ cidr: Cidr });

export const Settings = z.strictObject({
  concurrency: z.int({ error: expecting('an integer 1-1000') }).min(1, { error: expecting('an integer 1-1000') }).max(1000, { error: expecting('an integer 1-1000') }).optional(),
  max_fail_percent: z.number({ error: expecting('a number 0-100') }).min(0, { error: expecting('a number 0-100') }).max(100, { error: expecting('a number 0-100') }).optional(),
  step_timeout: Duration.optional(),
  strategy: z.enum(['linear', 'free'], { error: expecting('"linear" or "free"') }).optional(),
  /** Relative to the inventory file. Default `.ha-provision/<inventory file name without .yaml>`. */
  state_dir: FilePath.optional(),
});

export const DrbdNode = z.strictObject({
  disk: DevicePath.optional(),
  /** DRBD's node id on this resource (default: the node's position among the resource's nodes). */
  node_id: z.int({ error: expecting('an integer 0-31') }).min(0, { error: expecting('an integer 0-31') }).max(31, { error: expecting('an integer 0-31') }).optional(),
});

export const Drbd = z.strictObject({
  name: ResourceName,
  minor: z.int({ error: expecting('an integer 0-1048575') }).min(0, { error: expecting('an integer 0-1048575') }).max(1048575, { error: expecting('an integer 0-1048575') }),
  /** Default /dev/drbd<minor>. */
  device: DevicePath.optional(),
  port: Port,
  /** The network whose per-node addresses carry the replication. */
  network: Ident,
  /** Backing disk on every node (a node entry may override it). */
  disk: DevicePath.optional(),
  /** Default "internal". */
  meta_disk: z.string().min(1).superRefine(inDrbdWord).optional(),
  /** Default "C". */
  protocol: z.enum(['A', 'B', 'C'], { error: expecting('"A", "B" or "C"') }).optional(),
  sync_rate: z.string().regex(/^[0-9]+[KMG]?$/, { error: expecting('a rate such as 50M') }).optional(),
  /** The nodes that carry the resource, with their backing disk. */
  nodes: z.record(NodeName, DrbdNode, { error: expecting('a map of node name to {disk}') }),
  /**
   * Peer slots of new metadata (drbd-create-md's --max-peers). Default: the
   * resource's peers plus one (room to add a node without recreating it).
   */
  max_peers: z.int({ error: expecting('an integer 1-31') }).min(1, { error: expecting('an integer 1-31') }).max(31, { error: expecting('an integer 1-31') }).optional(),
  /** DRBD's own quorum (`options { quorum ...; }`), for 3 or more nodes. Default off. */
  quorum: z.enum(['off', 'majority', 'all'], { error: expecting('"off", "majority" or "all"') }).optional(),
  /** What a node without quorum does with I/O (`on-no-quorum`); only with quorum. Default io-error. */
  on_no_quorum: z.enum(['io-error', 'suspend-io'], { error: expecting('"io-error" or "suspend-io"') }).optional(),
  shared_secret: SecretRef.optional(),
});

export const Filesystem = z.strictObject({
  name: ResourceName,
  /** A device path, or `drbd: <resource>` (device of that DRBD resource). */
  device: DevicePath.optional(),
  drbd: ResourceName.optional(),
  directory: AbsolutePath,
  fstype: z.string().regex(/^[a-z0-9]+$/, { error: expecting('a filesystem type such as ext4') }),
  options: z.string().min(1).optional(),
});

export const VirtualIp = z.strictObject({
  name: ResourceName,
  ip: IpAddress,
  cidr_netmask: z.int({ error: expecting('a prefix length 0-128') }).min(0).max(128),
  nic: z.string().regex(/^[A-Za-z0-9_.:@-]{1,15}$/, { error: expecting('an interface name such as eth0') }),
  /** If set, `ip` must be inside that network's cidr. */
  network: Ident.optional(),
  /** The service's own host names (003's "instance hostname"), for /etc/hosts lines on the nodes. */
  hostnames: z
    .array(z.string().regex(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/, { error: expecting('a host name such as mail1.example.com') }), { error: expecting('a list of host names') })
    .min(1, { error: 'expected at least one host name' })
    .optional(),
});

/** A fence agent's parameter name (`ip`, `username`, `plug`, `pcmk_host_map`...). */
const FenceParamName = z
  .string({ error: expecting('a parameter name') })
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,62}$/, { error: expecting('a parameter name: letters, digits, "_" or "-"') });

/**
 * A fence device: one stonith resource. It fences the nodes under `fences`
 * and never runs on them. Credentials are never literal: `secrets` maps an
 * agent parameter (password, passwd...) to an entry of the top-level `secrets:`.
 */
export const FenceDevice = z.strictObject({
  /** The stonith resource's id in the CIB: fence_bob. */
  name: ResourceName,
  /** The fence agent, from the fence-agents package: fence_ipmilan, fence_virsh, fence_docker... */
  agent: z.string({ error: expecting('a fence agent such as fence_ipmilan') }).regex(/^fence_[a-z0-9_]+$/, { error: expecting('a fence agent such as fence_ipmilan (fence_ then lower-case letters, digits, "_")') }),
  /** The nodes it fences (pcmk_host_list); it never runs on them. */
  fences: z.array(NodeName, { error: expecting('a list of node names') }).min(1, { error: 'expected at least one node' }),
  /** The agent's parameters, except secrets. */
  params: z.record(FenceParamName, z.union([z.string(), z.number(), z.boolean()]), { error: expecting('a map of agent parameter to a string, number or boolean') }).optional(),
  /** Agent parameters whose values are secrets: parameter -> the name of an entry of the top-level `secrets:`. */
  secrets: z.record(FenceParamName, ResourceName, { error: expecting('a map of agent parameter to the name of a secret under top-level "secrets:"') }).optional(),
  /** How often Pacemaker runs the agent's monitor (it checks the device can act). Default 60s. */
  monitor: Duration.optional(),
});

/** A ping target: an IPv4 or IPv6 address, or a host name the nodes resolve. */
const PING_TARGET = 'an IP address or a host name such as gw.example.com';
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/;
const PingTarget = z.string({ error: expecting(PING_TARGET) }).refine((v) => isIP(v) !== 0 || HOST_NAME.test(v), { error: expecting(PING_TARGET) });
const Count = z.int({ error: expecting('a whole number') });

/**
 * Ping heuristics (fence_heuristics_ping, 004's gateway check): a stonith
 * device that fences nothing and only succeeds when the node running it
 * reaches its ping targets. It goes first on every fenced node's fencing
 * level, so a node cut off from the targets cannot fence its peer.
 */
export const FenceHeuristics = z.strictObject({
  /** The stonith resource's id. Default heuristics_ping. */
  name: ResourceName.optional(),
  /** The targets to ping (ping_targets), e.g. the gateway both nodes use. */
  ping: z.array(PingTarget, { error: expecting('a list of IP addresses or host names') }).min(1, { error: 'expected at least one ping target' }),
  /** Probes per target (ping_count). Default 10. */
  count: Count.min(1, { error: expecting('at least 1') }).max(100, { error: expecting('at most 100') }).optional(),
  /** Answered probes a target needs to count as reached (ping_good_count). Default 8, or `count` when it is smaller. */
  good_count: Count.min(1, { error: expecting('at least 1') }).optional(),
  /** Time between probes (ping_interval, whole seconds). Default 1s. */
  interval: Duration.optional(),
  /** How long a probe may take before it counts as lost (ping_timeout, whole seconds). Default 2s. */
  timeout: Duration.optional(),
  /** Targets that may fail while the check still passes (ping_maxfail). Default 0. */
  maxfail: Count.min(0, { error: expecting('0 or more') }).optional(),
});

/**
 * SBD (sbd(8)) instead of a device per node: shared disks that carry each
 * node's slot (a poison pill written there fences it; fence_sbd writes it),
 * or none (watchdog only: a node without quorum resets itself). Every node
 * needs a watchdog device.
 */
export const Sbd = z.strictObject({
  /** 1-3 shared disks, by a path that names the same disk on every node (/dev/disk/by-id/...). None: watchdog only. */
  devices: z.array(DevicePath, { error: expecting('a list of device paths') }).max(3, { error: 'expected at most 3 SBD disks (sbd takes 1 to 3)' }).optional(),
  /** SBD_WATCHDOG_DEV. Default /dev/watchdog. */
  watchdog: DevicePath.optional(),
  /** SBD_WATCHDOG_TIMEOUT and the disks' watchdog timeout (whole seconds). Default 5s. */
  watchdog_timeout: Duration.optional(),
  /** The disks' msgwait (whole seconds): how long a poison pill takes to count as delivered. Default twice watchdog_timeout. */
  msgwait: Duration.optional(),
  /** SBD_STARTMODE: clean keeps a node that was fenced from rejoining until its slot is cleared. Default always. */
  startmode: z.enum(['always', 'clean'], { error: expecting('"always" or "clean"') }).optional(),
  /** The fence_sbd stonith resource's id (with disks). Default fence_sbd. */
  name: ResourceName.optional(),
  /** Let sbd-device write a header over a disk that holds something else, or an SBD header with other timeouts. Default false. */
  overwrite: z.boolean({ error: expecting('true or false') }).optional(),
});

/** Fencing (STONITH) for the whole cluster; absent or `enabled: false` means none (UNSAFE outside a lab). */
export const Fencing = z.strictObject({
  /** Default true. */
  enabled: z.boolean({ error: expecting('true or false') }).optional(),
  devices: z.array(FenceDevice, { error: expecting('a list of fence devices') }).optional(),
  /** stonith-timeout: how long a fencing action may take. Default Pacemaker's (60s). */
  timeout: Duration.optional(),
  /** stonith-action: what a fenced node gets. Default reboot. */
  action: z.enum(['reboot', 'off'], { error: expecting('"reboot" or "off"') }).optional(),
  /** pcmk_delay_max on every device: a random delay that keeps two nodes from fencing each other at once. Default 5s for a two-node cluster, none otherwise. */
  delay_max: z.union([z.literal(0), Duration], { error: expecting('a duration such as 5s, or 0 for none') }).optional(),
  /** DRBD's resource-level fencing (the crm-fence-peer.9.sh handlers). Default resource-and-stonith. */
  drbd: z.enum(['resource-and-stonith', 'resource-only', 'off'], { error: expecting('"resource-and-stonith", "resource-only" or "off"') }).optional(),
  /** SBD instead of `devices` (shared disks or watchdog only). */
  sbd: Sbd.optional(),
  /** Ping heuristics before every device (fence_heuristics_ping in a fencing topology). */
  heuristics: FenceHeuristics.optional(),
});

export const Inventory = z.strictObject({
  /** Cluster name. */
  cluster: ResourceName,
  /** The playbook to apply, relative to this file. */
  playbook: FilePath.optional(),
  settings: Settings.optional(),
  /** SSH defaults for every node (a node's own `ssh:` wins, key by key). */
  ssh: SshDefaults.optional(),
  networks: z.record(Ident, Network, { error: expecting('a map of network name to {cidr}') }).optional(),
  nodes: z
    .record(NodeName, Node, { error: expecting('a map of node name to node') })
    .refine((m) => Object.keys(m).length > 0, { error: 'expected at least one node' }),
  vars: Vars.optional(),
  drbd: z.array(Drbd, { error: expecting('a list of DRBD resources') }).optional(),
  filesystems: z.array(Filesystem, { error: expecting('a list of filesystems') }).optional(),
  vips: z.array(VirtualIp, { error: expecting('a list of virtual IPs') }).optional(),
  /** Fence devices and the cluster's fencing choices. */
  fencing: Fencing.optional(),
  /** Named secrets for playbooks (`!ref cluster.secrets.<name>`), never literal. */
  secrets: z.record(ResourceName, NamedSecretRef, { error: expecting('a map of secret name to {env: VAR}, {prompt: true} or {file: path}') }).optional(),
});

export type InventoryFile = z.infer<typeof Inventory>;
export type AuthFile = z.infer<typeof Auth>;
export type SecretRefFile = z.infer<typeof SecretRef>;
export type NamedSecretRefFile = z.infer<typeof NamedSecretRef>;
export type JumpEndpointFile = z.infer<typeof JumpEndpoint>;
