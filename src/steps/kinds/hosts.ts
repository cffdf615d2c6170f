/**
 * `hosts`: a managed block of address/name lines in /etc/hosts, so the
 * cluster never depends on DNS:
 *
 *   # BEGIN ha-provision NAME
 *   10.0.0.25 bob
 *   10.0.0.26 alice
 *   # END ha-provision NAME
 *
 * Done: the block holds exactly these lines and no line outside it maps one
 * of these names to another address. Refused: a line outside the block maps
 * a managed name to another address (Debian's `127.0.1.1 bob`, Docker's
 * container line) unless `remove_conflicts: true`, which removes those names
 * from such lines (a line left without names is dropped); a missing file
 * (it is never created); a BEGIN marker without END.
 * The file keeps its own mode and owner.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { OWNER_NAMES, type Change } from '../contract.js';
import { defineStep, refuse, sudoOf, upload } from '../define.js';
import { fileContentProbe, formatMode } from '../../facts/file.js';
import { unifiedDiff } from '../udiff.js';
import { absolutePath } from '../params.js';
import { inHosts } from '../config-values.js';

const ipAddress = z
  .string()
  .superRefine(inHosts)
  .refine((a) => isIP(a) !== 0, 'an IPv4 or IPv6 address');
const hostName = z
  .string()
  .superRefine(inHosts)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, 'a host name');

export const hostsParams = z
  .object({
    /** Names the block (the cluster name). */
    name: z
      .string()
      .superRefine(inHosts)
      .regex(/^[A-Za-z0-9_.-]+$/, 'a block name (letters, digits, "_", "." and "-")'),
    entries: z
      .array(z.object({ address: ipAddress, names: z.array(hostName).min(1) }).strict())
      .min(1)
      .optional(),
    /** Or one line per inventory node (`!ref nodes[*]`): its address on `network`, its name. */
    nodes: z
      .array(z.object({ name: hostName, networks: z.record(z.string(), z.object({ address: ipAddress }).loose()) }).loose())
      .min(1)
      .optional(),
    network: z.string().min(1).optional(),
    remove_conflicts: z.boolean().default(false),
    path: absolutePath.default('/etc/hosts'),
    sudo: z.boolean().default(false),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.entries === undefined && p.nodes === undefined)
      ctx.addIssue({ code: 'custom', path: ['entries'], message: 'give "entries" (address and names), "nodes" (e.g. !ref nodes[*]) with "network", or both' });
    if ((p.nodes === undefined) !== (p.network === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [p.nodes === undefined ? 'nodes' : 'network'],
        message: '"nodes" and "network" go together: one line per node, with its address on that network',
      });
    if (p.nodes !== undefined && p.network !== undefined) {
      p.nodes.forEach((n, i) => {
        if (n.networks[p.network!] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['nodes', i],
            message: `node ${n.name} has no address on network "${p.network}" (it has: ${Object.keys(n.networks).join(', ') || 'none'})`,
          });
      });
    }
  });
export type HostsParams = z.infer<typeof hostsParams>;

/** The block's lines: one per inventory node (`nodes` on `network`), then the `entries` as written. */
export function hostEntries(p: HostsParams): { address: string; names: string[] }[] {
  const fromNodes = (p.nodes ?? []).map((n) => ({ address: n.networks[p.network!]!.address, names: [n.name] }));
  return [...fromNodes, ...(p.entries ?? [])];
}

const begin = (n: string) => `# BEGIN ha-provision ${n}`;
const end = (n: string) => `# END ha-provision ${n}`;

/** Pure edit: the wanted content, or a refusal reason. */
export function editHosts(content: string, p: HostsParams): { content: string } | { refuse: string } {
  const lines = content === '' ? [] : content.replace(/\n$/, '').split('\n');
  const entries = hostEntries(p);
  const block = [begin(p.name), ...entries.map((e) => `${e.address} ${e.names.join(' ')}`), end(p.name)];
  const b = lines.indexOf(begin(p.name));
  const e = lines.indexOf(end(p.name));
  if (b >= 0 && e < b) return { refuse: `${p.path}: "${begin(p.name)}" has no matching "${end(p.name)}" after it` };
  const want = new Map<string, string>();
  for (const en of entries) for (const n of en.names) want.set(n.toLowerCase(), en.address);
  const pre = b >= 0 ? lines.slice(0, b) : lines;
  const post = b >= 0 ? lines.slice(e + 1) : [];
  const conflicts = [...pre, ...post].filter((l) => badNames(l, want).length > 0);
  if (conflicts.length > 0 && !p.remove_conflicts) {
    return {
      refuse: `${p.path} maps cluster names to other addresses: ${conflicts.map((c) => `"${c}"`).join(', ')} (set remove_conflicts: true to remove these names from those lines)`,
    };
  }
  return { content: [...rebuild(pre, want), ...block, ...rebuild(post, want)].join('\n') + '\n' };
}

/** Names on a hosts line that the block maps to another address. */
function badNames(line: string, want: Map<string, string>): string[] {
  const body = line.replace(/#.*$/, '').trim();
  const f = body.split(/\s+/);
  if (body === '' || f.length < 2) return [];
  return f.slice(1).filter((n) => want.has(n.toLowerCase()) && want.get(n.toLowerCase()) !== f[0]);
}

/** Remove conflicting names from lines (drop a line left without names). */
function rebuild(lines: string[], want: Map<string, string>): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const bad = badNames(l, want);
    if (bad.length === 0) {
      out.push(l);
      continue;
    }
    const f = l.replace(/#.*$/, '').trim().split(/\s+/);
    const rest = f.slice(1).filter((n) => !bad.includes(n));
    if (rest.length > 0) out.push(`${f[0]} ${rest.join(' ')}`);
  }
  return out;
}

export const hostsStep = defineStep({
  kind: 'hosts',
  params: hostsParams,
  reads: (p) => [p.path, ...OWNER_NAMES],
  writes: (p) => [p.path],
  probes: (p: HostsParams) => ({ file: fileContentProbe(p.path, p.sudo) }),
  diff(p, { file: f }): Change[] {
    if (f.state === 'notfile') return [refuse(`${p.path} exists and is not a regular file`)];
    if (f.state === 'absent') return [refuse(`${p.path} does not exist`)];
    const before = f.content ?? '';
    const r = editHosts(before, p);
    if ('refuse' in r) return [refuse(r.refuse)];
    if (r.content === before) return [];
    return [
      upload({
        path: p.path,
        content: r.content,
        mode: formatMode(f.stat.mode),
        owner: f.stat.owner,
        group: f.stat.group,
        ...sudoOf(p.sudo),
        description: `set the ha-provision ${p.name} block in ${p.path} (${hostEntries(p).length} entries)`,
        diff: unifiedDiff(before, r.content, p.path, p.path),
      }),
    ];
  },
});
