/**
 * Integration fixture: N real loopback sshd "nodes" (test/support/sshd.ts),
 * an inventory pointing at them and a playbook whose file/line/command steps
 * act inside each node's own root directory. Runs the real CLI `main()` in
 * process, or the built CLI (`node bin/ha-provision.js`) as a child.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { main } from '../../src/cli/main.js';
import { startSshd, type SshdHarness } from '../support/sshd.js';

export const NAMES = ['bob', 'alice', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];

export interface Bed {
  sshd: SshdHarness;
  dir: string;
  inventory: string;
  stateDir: string;
  names: string[];
  root(i: number): string;
  cli(args: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Every file under every node root: path -> content + mode (for comparing end states). */
  snapshot(): Record<string, string>;
  writePlaybook(text: string): void;
  stop(): Promise<void>;
}

/** Node roots start with etc/app and var/lib/app (the "base image"); the playbook fills them. */
export const PLAYBOOK = `name: engine-test
steps:
  - id: motd
    kind: file
    with:
      path: !concat [!ref vars.root, /etc/motd]
      content: !concat ["hello from ", !ref self.name, "\\n"]
  - id: base-conf
    kind: file
    with:
      path: !concat [!ref vars.root, /etc/app/base.conf]
      content: "mode=fast\\nsecret=no\\n"
      mode: "0600"
  - id: app-port
    kind: line
    with:
      path: !concat [!ref vars.root, /etc/app/app.conf]
      regexp: "^port="
      line: "port=8080"
      create: true
  - id: hosts
    kind: line
    with:
      path: !concat [!ref vars.root, /etc/hosts]
      line: "127.0.1.1 cluster"
      create: true
  - id: dirs
    kind: command
    with:
      argv: [mkdir, -p, !concat [!ref vars.root, /srv/data]]
      creates: !concat [!ref vars.root, /srv/data]
  - id: state-file
    kind: command
    wait_for: [motd]
    with:
      shell: !concat ["echo initialised > ", !ref vars.root, "/var/lib/app/state"]
      creates: !concat [!ref vars.root, /var/lib/app/state]
  - id: counter
    kind: command
    with:
      argv: [sh, -c, 'echo x >> "$0/var/lib/app/runs"; touch "$0/var/lib/app/done"', !ref vars.root]
      unless: [test, -e, !concat [!ref vars.root, /var/lib/app/done]]
  - id: no-debug
    kind: line
    with:
      path: !concat [!ref vars.root, /etc/motd]
      regexp: "^debug"
      state: absent
`;

export async function startBed(count: number, opts: { playbook?: string; settings?: string; extra?: string; nodeExtra?: (i: number) => string } = {}): Promise<Bed> {
  const sshd = await startSshd({ count });
  const dir = join(sshd.dir, 'project');
  mkdirSync(dir, { recursive: true });
  const names = NAMES.slice(0, count);
  for (const h of sshd.hosts) {
    mkdirSync(join(h.root, 'etc/app'), { recursive: true });
    mkdirSync(join(h.root, 'var/lib/app'), { recursive: true });
  }
  const inventory = join(dir, 'inventory.yaml');
  const nodes = sshd.hosts.map((h, i) => `  ${names[i]}:\n    ssh: {host: 127.0.0.1, port: ${h.port}}\n    vars: {root: ${h.root}}\n${opts.nodeExtra?.(i) ?? ''}`).join('');
  writeFileSync(
    inventory,
    `cluster: enginetest
playbook: playbook.yaml
settings: {concurrency: 10, max_fail_percent: 50, step_timeout: 30s, strategy: linear${opts.settings ? `, ${opts.settings}` : ''}}
ssh:
  user: ${sshd.user}
  auth: {key: ${sshd.clientKeyPath}}
  known_hosts: ${sshd.knownHostsPath}
  host_key_policy: strict
${opts.extra ?? ''}nodes:
${nodes}`,
  );
  writeFileSync(join(dir, 'playbook.yaml'), opts.playbook ?? PLAYBOOK);
  const bed: Bed = {
    sshd,
    dir,
    inventory,
    stateDir: join(dir, '.ha-provision', 'inventory'),
    names,
    root: (i) => sshd.hosts[i]!.root,
    async cli(args, env = {}) {
      let stdout = '';
      let stderr = '';
      const code = await main(args, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env: { ...process.env, ...env }, cwd: dir });
      return { code, stdout, stderr };
    },
    snapshot() {
      const out: Record<string, string> = {};
      sshd.hosts.forEach((h, i) => {
        const walk = (d: string) => {
          for (const e of readdirSync(d, { withFileTypes: true })) {
            const p = join(d, e.name);
            if (e.isDirectory()) walk(p);
            else out[`${names[i]}:${relative(h.root, p)}`] = `${(statSync(p).mode & 0o7777).toString(8)} ${readFileSync(p, 'utf8')}`;
          }
        };
        walk(h.root);
      });
      return out;
    },
    writePlaybook(text) {
      writeFileSync(join(dir, 'playbook.yaml'), text);
    },
    stop: () => sshd.stop(),
  };
  return bed;
}
