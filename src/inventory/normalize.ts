/**
 * Schema-valid, rule-valid inventory -> the engine's model: secrets read
 * (./secrets.ts), endpoints built (./endpoints.ts), defaults applied and
 * paths made absolute (./model.ts). This file only puts the pieces together.
 */
import { endpointBuilder } from './endpoints.js';
import type { InputError } from './errors.js';
import { inventoryFilePath } from './files.js';
import { clusterModel, clusterSecretValues, drbdResources, hostKeysOf, maskable, nodeNetworks, settingsOf, sharedSecretProblems } from './model.js';
import type { InventoryFile } from './schema.js';
import { readClusterSecrets, SecretReader, type SecretSources } from './secrets.js';
import type { YamlSource } from './source.js';
import type { ClusterModel, ProjectSettings, ResolvedNode } from './types.js';

export interface NormalizeOptions {
  /** Absolute path of the inventory file. */
  absPath: string;
  homeDir: string;
  secrets: SecretSources;
}

export interface NormalizedInventory {
  cluster: ClusterModel;
  nodes: ResolvedNode[];
  settings: ProjectSettings;
  /** Absolute path of the playbook the inventory names, if any. */
  playbookPath?: string;
  secrets: string[];
  /** Some secret was replaced by its placeholder (secrets mode 'skip'): reading secrets may give another result. */
  secretsSkipped: boolean;
}

export async function normalizeInventory(
  inv: InventoryFile,
  source: YamlSource,
  opts: NormalizeOptions,
): Promise<{ ok: true; value: NormalizedInventory } | { ok: false; errors: InputError[] }> {
  const file = (p: string) => inventoryFilePath(p, opts);
  const reader = new SecretReader(source, opts.secrets, opts);
  const read = await readClusterSecrets(inv, reader);
  const clusterSecrets = clusterSecretValues(read);
  const endpointOf = endpointBuilder(inv, reader, file);
  const nodes: ResolvedNode[] = [];
  for (const [name, node] of Object.entries(inv.nodes)) {
    const { endpoint, secrets } = await endpointOf(name);
    nodes.push({
      name,
      endpoint,
      hostKeys: hostKeysOf(inv, name, file),
      roles: [...(node.roles ?? [])],
      groups: [...(node.groups ?? [])],
      networks: nodeNetworks(inv, name),
      vars: { ...(inv.vars ?? {}), ...(node.vars ?? {}) },
      secrets: maskable([...secrets, ...clusterSecrets]),
    });
  }
  const errors = [...reader.errors, ...sharedSecretProblems(inv, read.drbd, source)];
  if (errors.length > 0) return { ok: false, errors };
  const primary = nodes.find((n) => n.roles.includes('primary'))?.name;
  return {
    ok: true,
    value: {
      cluster: clusterModel(inv, drbdResources(inv, read.drbd), read.named, primary),
      nodes,
      settings: settingsOf(inv, opts.absPath, file),
      ...(inv.playbook !== undefined ? { playbookPath: file(inv.playbook) } : {}),
      secrets: maskable([...clusterSecrets, ...nodes.flatMap((n) => n.secrets)]),
      secretsSkipped: reader.skipped,
    },
  };
}
