/**
 * Issue 15.1, the tool side: the DRBD kernel module's version (the probe's
 * script run for real with /bin/sh over stand-in `modinfo`s), the dialect
 * it gives, drbdsetup-84's events2 read as DRBD 9's, and the resource file
 * in both dialects. The step fixtures (v84-* and the refusals under
 * test/fixtures/steps/drbd-resource, -create-md, -up, -initial-sync) cover
 * the kinds; test/storage/drbd84.test.ts
 * has the real drbdadm-84 parse the 8.4 file and refuse the DRBD 9 one.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dialectOf, drbdKernelProbe, parseDrbdKernel } from '../../../src/facts/drbd-kernel.js';
import { parseEvents } from '../../../src/facts/drbd.js';
import { drbdResourceParams, renderResource, resourceDialect } from '../../../src/steps/kinds/drbd-resource.js';

const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: '' });

describe('the DRBD kernel module version', () => {
  it('reads /proc/drbd first, then modinfo; dialects: 9.x, 8.4.7 and later, nothing else', () => {
    expect(parseDrbdKernel(ok('proc version: 8.4.11 (api:1/proto:86-101)\n'))).toEqual({ source: 'proc', version: '8.4.11', dialect: '8.4' });
    // a DRBD 9 module built with 8.4 compatibility says so on the same line (drbd_proc.c)
    expect(parseDrbdKernel(ok('proc version: 9.2.12 (api:2/proto:86-122) (compat 8.4)\n'))).toEqual({ source: 'proc', version: '9.2.12', dialect: '9' });
    expect(parseDrbdKernel(ok('modinfo 9.2.12\n'))).toEqual({ source: 'modinfo', version: '9.2.12', dialect: '9' });
    expect(parseDrbdKernel(ok('none modinfo: ERROR: Module drbd not found.\n'))).toEqual({
      source: 'none',
      version: null,
      dialect: null,
      detail: 'modinfo: ERROR: Module drbd not found.',
    });
    expect(() => parseDrbdKernel(ok('what\n'))).toThrow('probe kernel: unexpected output "what"');
    expect(['9.0.28', '9.2.12', '8.4.11', '8.4.7', '8.4.6', '8.3.16', '10.0.0', 'x'].map(dialectOf)).toEqual(['9', '9', '8.4', '8.4', null, null, null, null]);
  });

  describe.skipIf(existsSync('/proc/drbd'))('the probe script, run by /bin/sh with a stand-in modinfo first on PATH (no /proc/drbd here)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-drbd84-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const run = (modinfo: string | undefined) => {
      const bin = join(dir, String(Math.random()).slice(2));
      execFileSync('mkdir', ['-p', bin]);
      if (modinfo !== undefined) {
        writeFileSync(join(bin, 'modinfo'), `#!/bin/sh\n${modinfo}\n`);
        chmodSync(join(bin, 'modinfo'), 0o755);
      }
      const argv = drbdKernelProbe(false).argv;
      // only the stand-in's directory and the tools the script needs (head) on PATH
      const stdout = execFileSync(argv[0]!, argv.slice(1), { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
      return parseDrbdKernel(ok(stdout));
    };
    it('modinfo answers: its version', () => {
      expect(run('[ "$*" = "-F version drbd" ] && echo 8.4.11')).toEqual({ source: 'modinfo', version: '8.4.11', dialect: '8.4' });
    });
    it("modinfo finds no module: none, with kmod's message", () => {
      expect(run('echo "modinfo: ERROR: Module $3 not found." >&2; exit 1')).toEqual({
        source: 'none',
        version: null,
        dialect: null,
        detail: 'modinfo: ERROR: Module drbd not found.',
      });
    });
    it('no modinfo at all: none, with the shell saying so', () => {
      const k = run(undefined);
      expect(k.source).toBe('none');
      expect(k.source === 'none' && k.detail).toMatch(/modinfo.*not found/);
    });
  });
});

describe("drbdsetup-84's events2 (user/v84/drbdsetup.c) read as DRBD 9's", () => {
  it('a connection in a sync state is Connected, one without conn-name is "peer"', () => {
    const r = parseEvents(
      ok(
        [
          'exists resource name:r0 role:Primary suspended:no',
          'exists connection name:r0 peer-node-id:0 conn-name:peer connection:SyncSource role:Secondary',
          'exists device name:r0 volume:0 minor:0 disk:UpToDate',
          'exists peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:SyncSource peer-disk:Inconsistent resync-suspended:no',
          'exists resource name:r1 role:Secondary suspended:no',
          'exists connection name:r1 peer-node-id:0 connection:StandAlone role:Unknown',
          'exists -',
          '',
        ].join('\n'),
      ),
    );
    expect(r.get('r0')!.connections).toEqual([{ peerNodeId: 0, name: 'peer', connection: 'Connected', role: 'Secondary' }]);
    expect(r.get('r0')!.peerDevices).toEqual([{ name: 'peer', volume: 0, replication: 'SyncSource', peerDisk: 'Inconsistent' }]);
    expect(r.get('r1')!.connections).toEqual([{ peerNodeId: 0, name: 'peer', connection: 'StandAlone', role: 'Unknown' }]);
  });

  it("no module that loads: drbdsetup-84's complaint (modprobe_drbd) means no resource", () => {
    const r = parseEvents({
      exitCode: 20,
      stdout: '',
      stderr: 'Could not stat /proc/drbd: No such file or directory\nMake sure that the DRBD kernel module is installed and can be loaded!\n',
    });
    expect(r.size).toBe(0);
  });
});

describe('the resource file in both dialects', () => {
  const p = drbdResourceParams.parse({
    name: 'r0',
    minor: 0,
    port: 7788,
    disk: '/dev/vdb1',
    fencing: 'resource-only',
    hosts: [
      { name: 'bob', node_id: 0, address: 'fd00::2' },
      { name: 'alice', node_id: 1, address: '10.0.0.3', port: 7790 },
    ],
  });

  it('DRBD 9 is the default: node ids, the mesh, fencing in net {} with the .9.sh handlers', () => {
    const nine = renderResource(p);
    expect(renderResource(p, '9')).toBe(nine);
    expect(nine).toMatch(/node-id 0;/);
    expect(nine).toMatch(/connection-mesh \{\n {4}hosts bob alice;/);
    expect(nine).toMatch(/ {2}net \{\n {4}protocol C;\n {4}fencing resource-only;\n/);
    expect(nine).toContain('fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh";');
  });

  it('8.4: no node-id, no mesh; fencing in disk {} with crm-fence-peer.sh and after-resync-target', () => {
    expect(renderResource(p, '8.4')).toBe(
      [
        '# Managed by ha-provision: changes made here are overwritten.',
        'resource r0 {',
        '  device /dev/drbd0 minor 0;',
        '  meta-disk internal;',
        '  disk {',
        '    fencing resource-only;',
        '  }',
        '  handlers {',
        '    fence-peer "/usr/lib/drbd/crm-fence-peer.sh";',
        '    after-resync-target "/usr/lib/drbd/crm-unfence-peer.sh";',
        '  }',
        '  net {',
        '    protocol C;',
        '  }',
        '  on bob {',
        '    address ipv6 [fd00::2]:7788;',
        '    disk /dev/vdb1;',
        '  }',
        '  on alice {',
        '    address ipv4 10.0.0.3:7790;',
        '    disk /dev/vdb1;',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('the dialect: the same on every host, else refused naming each host and its version', () => {
    const k84 = parseDrbdKernel(ok('modinfo 8.4.11\n'));
    const k9 = parseDrbdKernel(ok('modinfo 9.2.12\n'));
    expect(resourceDialect(p, 'bob', k84, new Map([['alice', k84]]))).toEqual({ dialect: '8.4' });
    const mixed = resourceDialect(p, 'alice', k9, new Map([['bob', k84]]));
    expect('refuse' in mixed && mixed.refuse).toMatch(/^resource r0 mixes DRBD kernel modules: bob 8\.4\.11 \(modinfo\), alice 9\.2\.12 \(modinfo\)\. /);
  });
});
