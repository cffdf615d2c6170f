/** Pure helpers of the node/storage kinds: layout arithmetic, device names, GI reading, the hosts edit. */
import { describe, expect, it } from 'vitest';
import { partitionPath } from '../../../src/facts/blockdev.js';
import { neverSynced, parseGetGi, parseEvents, maskSharedSecret } from '../../../src/facts/drbd.js';
import { partitionParams, planLayout, sfdiskScript } from '../../../src/steps/kinds/partition.js';
import { editHosts, hostsParams } from '../../../src/steps/kinds/hosts.js';

const GiB = 1024 ** 3;

describe('planLayout', () => {
  it('the chapter: 100G then the rest, dos, 512-byte sectors, on a 1 TiB disk', () => {
    const p = partitionParams.parse({ disk: '/dev/sdb', label: 'dos', partitions: [{ size: '100G' }, { size: 'rest' }] });
    const plan = planLayout(p, 1024 * GiB, 512);
    expect(plan).toEqual([
      { start: 2048, size: 209715200, type: '83' },
      { start: 209717248, size: 2147483648 - 209717248, type: '83' },
    ]);
  });
  it('gpt on 4096-byte sectors keeps the backup GPT (6 sectors) and MiB alignment (256 sectors)', () => {
    const p = partitionParams.parse({ disk: '/dev/nvme0n1', partitions: [{ size: '50%' }, { size: 'rest' }] });
    const plan = planLayout(p, 10 * GiB, 4096);
    expect(Array.isArray(plan)).toBe(true);
    const [a, b] = plan as { start: number; size: number }[];
    expect(a!.start).toBe(256);
    expect(a!.size % 256).toBe(0);
    expect(b!.start % 256).toBe(0);
    expect((b!.start + b!.size) % 256).toBe(0);
    expect(b!.start + b!.size - 1).toBeLessThanOrEqual((10 * GiB) / 4096 - 7);
  });
  it('says when the layout does not fit', () => {
    const p = partitionParams.parse({ disk: '/dev/vdb', partitions: [{ size: '1T' }] });
    expect(planLayout(p, 256 * 1024 * 1024, 512)).toBe('partition 1 (1T) does not fit: the disk has 256 MiB');
  });
  it('renders sfdisk input with explicit start and size', () => {
    expect(sfdiskScript('dos', [{ start: 2048, size: 204800, type: '83' }])).toBe('label: dos\nstart=2048, size=204800, type=83\n');
  });
  it('rejects "rest" before the last partition and more than 4 dos partitions', () => {
    expect(() => partitionParams.parse({ disk: '/dev/vdb', partitions: [{ size: 'rest' }, { size: '1G' }] })).toThrow('can only be the last partition');
    expect(() => partitionParams.parse({ disk: '/dev/vdb', label: 'dos', partitions: Array(5).fill({ size: '1G' }) })).toThrow('at most 4');
  });
});

describe('partitionPath', () => {
  it.each([
    ['/dev/vdb', '/dev/vdb1'],
    ['/dev/sdb', '/dev/sdb1'],
    ['/dev/nvme0n1', '/dev/nvme0n1p1'],
    ['/dev/loop0', '/dev/loop0p1'],
    ['/dev/mmcblk0', '/dev/mmcblk0p1'],
    ['/dev/disk/by-id/wwn-0x5000c500a1b2c3d4', '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4-part1'],
  ])('%s -> %s', (disk, part) => expect(partitionPath(disk, 1)).toBe(part));
});

describe('generation identifiers', () => {
  it('create-md value, with or without the primary bit, and no history: never synced', () => {
    expect(neverSynced(parseGetGi({ exitCode: 0, stdout: '0000000000000004:0000000000000000:0000000000000000:0000000000000000:0:0:0:0:1:0:0:0:0:0:0:0\n', stderr: '' })!)).toBe(
      true,
    );
    expect(neverSynced(parseGetGi({ exitCode: 0, stdout: '0000000000000005:0000000000000000:0000000000000000:0000000000000000:1:1:1:0:1:0:0:1:1:0:0:1\n', stderr: '' })!)).toBe(
      true,
    );
  });
  it('a random current UUID or any history: synced', () => {
    expect(neverSynced(parseGetGi({ exitCode: 0, stdout: '871361F9B8FD0CAE:0000000000000000:0000000000000000:0000000000000000:1:1:1:0:1:0:0:1:1:0:0:1\n', stderr: '' })!)).toBe(
      false,
    );
    expect(neverSynced(parseGetGi({ exitCode: 0, stdout: '0000000000000004:0000000000000000:871361F9B8FD0CAE:0000000000000000:0:0:0:0:1:0:0:0:0:0:0:0\n', stderr: '' })!)).toBe(
      false,
    );
  });
  it('no metadata: null', () => expect(parseGetGi({ exitCode: 1, stdout: '', stderr: 'No valid meta data found\n' })).toBeNull());
});

describe('events2', () => {
  it('an unknown probe failure is an error, not "not up"', () => {
    expect(() => parseEvents({ exitCode: 1, stdout: '', stderr: 'Permission denied\n' })).toThrow('probe events failed (exit 1)');
  });
});

it('masks shared-secret values, quoted or not', () => {
  expect(maskSharedSecret('  shared-secret "abc";\n shared-secret xyz;\n')).toBe('  shared-secret "********";\n shared-secret "********";\n');
});

describe('editHosts', () => {
  const p = hostsParams.parse({ name: 'kopano', entries: [{ address: '10.0.0.25', names: ['bob'] }] });
  it('keeps the same name on the same address outside the block', () => {
    expect(editHosts('10.0.0.25 bob\n', p)).toEqual({ content: '10.0.0.25 bob\n# BEGIN ha-provision kopano\n10.0.0.25 bob\n# END ha-provision kopano\n' });
  });
  it('is idempotent', () => {
    const once = editHosts('127.0.0.1 localhost\n', p) as { content: string };
    expect(editHosts(once.content, p)).toEqual(once);
  });
});
