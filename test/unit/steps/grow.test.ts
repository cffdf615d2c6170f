/**
 * Growing a volume (issue 18.4), the pure parts: the data area internal DRBD
 * metadata leaves on a backing device (against drbdmeta's own figures), the
 * size a filesystem's grow tool would reach (so that a rerun does not grow
 * again), the parsers of the size probes, and drbd-grow's parameters. The
 * step decisions themselves are in test/fixtures/steps/drbd-grow and
 * test/fixtures/steps/mkfs/grow-*.yaml (captured outputs).
 */
import { describe, expect, it } from 'vitest';
import { fsGrowth, parseFsSize } from '../../../src/facts/blockdev.js';
import { drbdDataBytes, parseDrbdSize } from '../../../src/facts/drbd.js';
import { drbdGrowParams } from '../../../src/steps/kinds/drbd-grow.js';

const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: '' });
const MiB = 1 << 20;

describe('drbdDataBytes: what DRBD 9 can use of a backing device with internal metadata', () => {
  it("is drbdmeta's `# bm_offset` of new metadata (drbd-utils 9.22 dump-md on bed nodes)", () => {
    // create-md --max-peers=2 on a 100 MiB partition: "# bm_offset 104812544"
    expect(drbdDataBytes(100 * MiB, 2, 64)).toBe(104812544);
    // 320 MiB: /dev/drbd0 was 335486976 bytes; after a resize to 420 and 480 MiB: 440336384 and 503246848
    expect(drbdDataBytes(320 * MiB, 2, 64)).toBe(335486976);
    expect(drbdDataBytes(420 * MiB, 2, 64)).toBe(440336384);
    expect(drbdDataBytes(480 * MiB, 2, 64)).toBe(503246848);
  });

  it('takes more with more peer slots and a larger activity log; nothing of a device too small', () => {
    expect(drbdDataBytes(100 * MiB, 3, 64)).toBeLessThan(drbdDataBytes(100 * MiB, 2, 64));
    expect(drbdDataBytes(100 * MiB, 2, 128)).toBe(drbdDataBytes(100 * MiB, 2, 64) - 32 * 1024);
    expect(drbdDataBytes(4096, 1, 64)).toBe(0);
  });

  it('uses whole 4 KiB: a backing device of an odd size leaves a multiple of 4 KiB', () => {
    for (const b of [100 * MiB + 512, 100 * MiB + 3584, 1e9 + 7]) expect(drbdDataBytes(b, 2, 64) % 4096).toBe(0);
  });
});

describe('parseDrbdSize', () => {
  it('reads the backing device, the metadata layout and the DRBD size', () => {
    expect(parseDrbdSize(ok('backing /dev/vdb1 440401920\nmax-peers 2\nal-stripes 1\nal-stripe-size-4k 8\nsize 430016\n'))).toEqual({
      state: 'block',
      dev: '/dev/vdb1',
      backingBytes: 440401920,
      maxPeers: 2,
      alSectors: 64,
      sizeKiB: 430016,
    });
  });
  it('leaves out what it could not read: metadata (dump-md said nothing), size (not up)', () => {
    expect(parseDrbdSize(ok('backing /dev/vdb1 440401920\n'))).toEqual({ state: 'block', dev: '/dev/vdb1', backingBytes: 440401920, alSectors: 64 });
  });
  it('no device, not a block device, a failed probe', () => {
    expect(parseDrbdSize(ok('nodev\n'))).toEqual({ state: 'nodev' });
    expect(parseDrbdSize(ok('notblock /dev/vdz1\n'))).toEqual({ state: 'notblock', dev: '/dev/vdz1' });
    expect(() => parseDrbdSize({ exitCode: 2, stdout: '', stderr: 'sh: bad' })).toThrow(/exit 2/);
    expect(() => parseDrbdSize(ok('what\n'))).toThrow(/unexpected output/);
  });
});

describe('fsGrowth: the size the grow tool would reach', () => {
  const ext = (count: number, device: number, extra = '') =>
    parseFsSize(
      ok(
        `device ${device}\nBlock count: ${count}\nFirst block: 1\nBlock size: 1024\nGroup descriptor size: 64\nReserved GDT blocks: 256\nBlocks per group: 8192\nInode blocks per group: 506\n${extra}`,
      ),
    );

  it('ext4 (captured): 300 MiB on a 480 MiB device grows to all of it; once grown, nothing more', () => {
    const small = ext(307200, 503246848);
    expect(fsGrowth('ext4', small as Extract<typeof small, { state: 'block' }>, '/dev/drbd0')).toEqual({ fsBytes: 307200 * 1024, targetBytes: 491452 * 1024 });
    const grown = ext(491452, 503246848);
    const g = fsGrowth('ext4', grown as Extract<typeof grown, { state: 'block' }>, '/dev/drbd0')!;
    expect(g.targetBytes).toBe(g.fsBytes);
  });

  it('ext4: a last block group too small for its metadata + 50 blocks is not counted (resize2fs drops it)', () => {
    // 60 full groups + 1 + 300 blocks: 300 < 2 + 506 + 1 + 8 + 256 + 50
    const f = ext(60 * 8192 + 1, (60 * 8192 + 1 + 300) * 1024);
    const g = fsGrowth('ext4', f as Extract<typeof f, { state: 'block' }>, '/dev/drbd0')!;
    expect(g.targetBytes).toBe(g.fsBytes);
    const h = ext(60 * 8192 + 1, (60 * 8192 + 1 + 900) * 1024);
    expect(fsGrowth('ext4', h as Extract<typeof h, { state: 'block' }>, '/dev/drbd0')!.targetBytes).toBe((60 * 8192 + 1 + 900) * 1024);
  });

  it('xfs (captured): 107504 blocks on 503246848 bytes grows to 122862 blocks (the 1-block last AG dropped), as xfs_growfs did', () => {
    const f = parseFsSize(ok('device 503246848\nmount /mnt/r0\nagblocks 20477\nbsize 4096\nblocks 107504\n'));
    expect(f).toEqual({ state: 'block', deviceBytes: 503246848, mount: '/mnt/r0', fields: { agblocks: 20477, bsize: 4096, blocks: 107504 } });
    expect(fsGrowth('xfs', f as Extract<typeof f, { state: 'block' }>, '/dev/drbd0')).toEqual({ fsBytes: 107504 * 4096, targetBytes: 122862 * 4096 });
  });

  it('btrfs (captured): one device grows to the device rounded down to 4 KiB; its devid is kept', () => {
    const f = parseFsSize(ok('device 503246848\nmount /mnt/r0\ndevid 1 314572800 /dev/drbd0\n'));
    expect(fsGrowth('btrfs', f as Extract<typeof f, { state: 'block' }>, '/dev/drbd0')).toEqual({ fsBytes: 314572800, targetBytes: 503246848, devid: 1 });
    const two = parseFsSize(ok('device 503246848\ndevid 1 314572800 /dev/vdc\ndevid 2 314572800 /dev/drbd0\n'));
    expect(fsGrowth('btrfs', two as Extract<typeof two, { state: 'block' }>, '/dev/drbd0')!.devid).toBe(2);
  });

  it('unknown when the tool said nothing (a DRBD Secondary, a missing tool) or the device size is unreadable', () => {
    const none = parseFsSize(ok('device 503246848\n'));
    expect(fsGrowth('xfs', none as Extract<typeof none, { state: 'block' }>, '/dev/drbd0')).toBeUndefined();
    const nodev = parseFsSize(ok('device \n'));
    expect(nodev).toEqual({ state: 'block', fields: {} });
    expect(parseFsSize(ok('notblock\n'))).toEqual({ state: 'notblock' });
  });
});

describe('drbd-grow parameters', () => {
  it('hosts: names, or drbd-resource host objects (their name)', () => {
    expect(drbdGrowParams.parse({ resource: 'r0', hosts: ['bob', 'alice'] }).hosts).toEqual(['bob', 'alice']);
    expect(drbdGrowParams.parse({ resource: 'r0', hosts: [{ name: 'bob', node_id: 0, address: '10.0.0.1' }, { name: 'alice' }] }).hosts).toEqual(['bob', 'alice']);
  });
  it('refuses one host, the same host twice, unknown keys', () => {
    expect(() => drbdGrowParams.parse({ resource: 'r0', hosts: ['bob'] })).toThrow();
    expect(() => drbdGrowParams.parse({ resource: 'r0', hosts: ['bob', 'bob'] })).toThrow(/differ/);
    expect(() => drbdGrowParams.parse({ resource: 'r0', hosts: ['bob', 'alice'], shrink: true })).toThrow();
  });
});
