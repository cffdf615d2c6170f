/** src/steps/destructive.ts: which commands destroy data, in argv, scripts and guards. */
import { describe, expect, it } from 'vitest';
import { destroys, destructiveProblems, findInArgv, findInScript, scriptTokens } from '../../../src/steps/destructive.js';

const caught = (argv: string[], stdin?: string) => findInArgv(argv, stdin)?.command;

describe('findInArgv', () => {
  it.each([
    [['drbdadm', '--', '--overwrite-data-of-peer', 'primary', 'all']],
    [['drbdadm', 'primary', '--force', 'r0']],
    [['drbdadm', 'primary', 'r0', '--force']],
    [['drbdadm', 'create-md', 'r0']],
    [['drbdadm', '-c', '/etc/drbd.conf', 'create-md', '--force', 'r0']],
    [['drbdadm', 'wipe-md', 'r0']],
    [['drbdadm', 'invalidate', 'r0']],
    [['drbdadm', 'invalidate-remote', 'r0']],
    [['/usr/sbin/drbdadm', 'primary', '--overwrite-data-of-peer', 'r0']],
    [['drbdsetup', 'primary', '0', '--force']],
    [['drbdsetup', 'invalidate', '0']],
    [['drbdmeta', '0', 'v09', '/dev/sdb1', 'internal', 'create-md', '1']],
    [['mkfs.ext4', '/dev/x']],
    [['mkfs', '-t', 'xfs', '/dev/x']],
    [['/sbin/mkfs.xfs', '-f', '/dev/x']],
    [['mke2fs', '-t', 'ext4', '/dev/x']],
    [['mkswap', '/dev/x']],
    [['sfdisk', '/dev/sdb']],
    [['sfdisk', '--delete', '/dev/sdb', '2']],
    [['sfdisk', '-N', '2', '/dev/sdb']],
    [['sfdisk', '-X', 'gpt', '/dev/sdb']],
    [['fdisk', '/dev/sdb']],
    [['parted', '-s', '/dev/sdb', 'mklabel', 'gpt']],
    [['parted', '-s', '/dev/sdb', 'mkpart', 'primary', '1MiB', '100%']],
    [['parted', '/dev/sdb']],
    [['sgdisk', '-Z', '/dev/sdb']],
    [['sgdisk', '-n', '1:0:+1G', '/dev/sdb']],
    [['sgdisk', '-o', '/dev/sdb']],
    [['wipefs', '-a', '/dev/sdb']],
    [['wipefs', '--all', '/dev/sdb']],
    [['wipefs', '-af', '/dev/sdb']],
    [['wipefs', '-o', '0x438', '/dev/sdb']],
    [['dd', 'if=/dev/zero', 'of=/dev/sdb', 'bs=1M', 'count=1']],
    [['blkdiscard', '/dev/sdb']],
    [['sbd', '-d', '/dev/disk/by-id/wwn-0x5000c5', '-1', '5', '-4', '10', 'create']],
    [['sbd', '-d', '/dev/sdb', '-d', '/dev/sdc', 'create']],
  ])('catches %j', (argv) => {
    expect(caught(argv)).toBe(argv.join(' '));
    expect(findInArgv(argv)?.why).toMatch(/\S/);
  });

  it.each([
    [['blkid', '/dev/sdb']],
    [['sfdisk', '-d', '/dev/sdb']],
    [['sfdisk', '--dump', '/dev/sdb']],
    [['sfdisk', '-l', '/dev/sdb']],
    [['sfdisk', '-J', '/dev/sdb']],
    [['sfdisk', '-s', '/dev/sdb']],
    [['sfdisk', '-q', '--list', '/dev/sdb']],
    [['fdisk', '-l', '/dev/sdb']],
    [['fdisk', '-lu', '/dev/sdb']],
    [['parted', '-s', '/dev/sdb', 'print']],
    [['parted', '-s', '-m', '/dev/sdb', 'unit', 's', 'print', 'free']],
    [['parted', '-l']],
    [['sgdisk', '-p', '/dev/sdb']],
    [['sgdisk', '--print', '/dev/sdb']],
    [['sgdisk', '-i', '1', '/dev/sdb']],
    [['sgdisk', '--info=1', '/dev/sdb']],
    [['sgdisk', '-P', '-Z', '/dev/sdb']],
    [['sbd', '-d', '/dev/sdb', 'dump']],
    [['sbd', '-d', '/dev/sdb', 'list']],
    [['sbd', '-d', '/dev/sdb', 'message', 'bob', 'test']],
    [['drbdadm', 'status']],
    [['drbdadm', 'primary', 'r0']],
    [['drbdadm', 'up', 'r0']],
    [['drbdadm', 'dump-md', 'r0']],
    [['drbdsetup', 'status', '--json']],
    [['wipefs', '/dev/sdb']],
    [['wipefs', '-n', '-a', '/dev/sdb']],
    [['dd', 'if=/dev/sdb', 'of=/tmp/mbr', 'bs=512', 'count=1']],
    [['dd', 'if=/dev/sdb', 'of=/dev/null', 'bs=1M', 'count=1']],
    [['mkfs.ext4', '-V']],
    [['mke2fs', '-n', '/dev/sdb1']],
    [['mkdir', '-p', '/var/lib/mysql']],
    [['grep', '-q', 'mkfs', '/etc/fstab']],
    [['command', '-v', 'mkfs.ext4']],
    [['test', '-x', '/sbin/mkfs.ext4']],
    [['sh', '-c', 'systemctl stop mariadb apache2 && mkdir -p /var/lib/ha-provision && touch /var/lib/ha-provision/services-to-cluster']],
  ])('lets %j through', (argv) => {
    expect(caught(argv)).toBeUndefined();
  });

  it('looks through wrappers', () => {
    expect(caught(['sudo', '-u', 'root', 'mkfs.ext4', '/dev/x'])).toBe('mkfs.ext4 /dev/x');
    expect(caught(['env', 'LC_ALL=C', 'wipefs', '-a', '/dev/x'])).toBe('wipefs -a /dev/x');
    expect(caught(['timeout', '60', 'drbdadm', 'create-md', 'r0'])).toBe('drbdadm create-md r0');
    expect(caught(['nice', '-n', '10', 'ionice', '-c', '3', 'dd', 'if=/dev/zero', 'of=/dev/sdb'])).toBe('dd if=/dev/zero of=/dev/sdb');
    expect(caught(['flock', '/run/lock', 'sfdisk', '/dev/sdb'])).toBe('sfdisk /dev/sdb');
    expect(caught(['busybox', 'mkfs.vfat', '/dev/x'])).toBe('mkfs.vfat /dev/x');
  });

  it('reads inline scripts: sh -c, bash -ec, su -c, flock -c, eval, "$@" and a shell reading its stdin', () => {
    expect(caught(['sh', '-c', 'mkfs.ext4 /dev/x'])).toBe('mkfs.ext4 /dev/x');
    expect(caught(['bash', '-o', 'pipefail', '-ec', 'set -u\nblkid /dev/x || mkfs.ext4 -q "$1"', 'sh', '/dev/x'])).toBe('mkfs.ext4 -q $1');
    expect(caught(['su', '-', 'root', '-c', 'drbdadm -- --overwrite-data-of-peer primary all'])).toBe('drbdadm -- --overwrite-data-of-peer primary all');
    expect(caught(['flock', '/run/lock', '-c', 'wipefs -a /dev/x'])).toBe('wipefs -a /dev/x');
    expect(caught(['eval', 'drbdadm', 'create-md', 'r0'])).toBe('drbdadm create-md r0');
    expect(caught(['sh', '-c', 'exec "$@"', 'sh', 'sgdisk', '-Z', '/dev/sdb'])).toBe('sgdisk -Z /dev/sdb');
    expect(caught(['sh'], 'set -e\nsfdisk /dev/sdb <<EOF\n,\nEOF\n')).toBe('sfdisk /dev/sdb EOF'); // (a heredoc's marker reads as a word)
    expect(caught(['bash', '-s'], 'mkswap /dev/x')).toBe('mkswap /dev/x');
    expect(caught(['sh', '/usr/local/bin/script.sh'], 'mkswap /dev/x')).toBeUndefined(); // stdin is data for the script
  });
});

describe('findInScript (conservative: every word may be a command)', () => {
  it.each([
    ['mkfs.ext4 /dev/x'],
    ['set -e; if ! blkid "$dev"; then mkfs.ext4 "$dev"; fi'],
    ['x=$(sfdisk /dev/sdb < layout)'],
    ['cat layout | sfdisk /dev/sdb'],
    ['drbdadm -- --overwrite-data-of-peer primary all'],
    ['drbdadm primary --force all && echo done'],
    ['dd if=/dev/zero of="/dev/sdb" bs=1M count=10'],
    ['sudo wipefs --all /dev/sdb'],
    ['ssh peer "wipefs -a /dev/sdb"'],
    ['su -c "drbdadm create-md r0"'],
    ['echo mkfs'], // the conservative choice: a mere mention is refused too (reword it, or say destructive: true)
    ['echo "would run drbdadm invalidate r0"'],
  ])('catches %j', (script) => {
    expect(findInScript(script)).toBeDefined();
  });

  it.each([
    ['blkid /dev/sdb'],
    ['sfdisk -d /dev/sdb > /root/sdb.layout'],
    ['sfdisk --json /dev/sdb | jq .'],
    ['drbdadm status'],
    ['drbdadm primary r0; drbdadm status r0'],
    ['drbdadm primary r0\necho --force'], // --force belongs to the next command
    ['# mkfs.ext4 /dev/sdb is done by the mkfs step\nmount /dev/drbd0 /mnt'],
    ['command -v mkfs.ext4 >/dev/null || apt-get install -y e2fsprogs'],
    ['[ -x /sbin/mkfs.xfs ] && echo have xfs'],
    ['which wipefs'],
    ['dd if=/dev/sdb of=/tmp/mbr bs=512 count=1 2>/dev/null'],
    ['echo "added" > /tmp/x'],
    ['systemctl stop mariadb apache2 && mkdir -p /var/lib/ha-provision && touch /var/lib/ha-provision/services-to-cluster'],
  ])('lets %j through', (script) => {
    expect(findInScript(script)).toBeUndefined();
  });

  it('splits words and commands like a shell, dropping quotes and comments', () => {
    const words = (t: string) => scriptTokens(t).map((x) => ('word' in x ? x.word : ';'));
    expect(words(`a "b c" 'd;e' f\\ g # h\ni`)).toEqual(['a', 'b', 'c', 'd', ';', 'e', 'f g', ';', 'i']);
    expect(words('x=$(mkfs /dev/x)|y')).toEqual(['x=$', ';', 'mkfs', '/dev/x', ';', 'y']);
    expect(words('of="/dev/sdb"')).toEqual(['of=/dev/sdb']);
  });
});

describe('destroys', () => {
  it('names what each command destroys', () => {
    expect(destroys('drbdadm', ['--', '--overwrite-data-of-peer', 'primary', 'all'])).toMatch(/overwriting the peer's/);
    expect(destroys('mkfs.ext4', ['/dev/x'])).toMatch(/new file system/);
    expect(destroys('sfdisk', ['/dev/x'])).toMatch(/partition table/);
    expect(destroys('ls', ['/dev/x'])).toBeUndefined();
    expect(destroys('constructor', [])).toBeUndefined(); // no prototype lookups
  });
});

describe('destructiveProblems (the command step kind)', () => {
  it('refuses a destroying argv or shell unless destructive: true', () => {
    const [p] = destructiveProblems({ argv: ['drbdadm', '--', '--overwrite-data-of-peer', 'primary', 'all'], unless: ['false'] });
    expect(p!.path).toEqual(['argv']);
    expect(p!.message).toMatch(/^refused: runs `drbdadm -- --overwrite-data-of-peer primary all`, which destroys data/);
    expect(p!.message).toContain(
      'use the partition/mkfs/drbd-create-md/drbd-initial-sync/sbd-device step kinds, which check the device first, or set destructive: true with a guard',
    );
    expect(destructiveProblems({ shell: 'mkfs.ext4 /dev/x', creates: '/x' } as never)[0]!.path).toEqual(['shell']);
    expect(destructiveProblems({ argv: ['sh', '-c', 'set -e\nmkfs.ext4 /dev/x'] })[0]!.path).toEqual(['argv', 2]);
    expect(destructiveProblems({ argv: ['mkfs.ext4', '/dev/x'], destructive: true })).toEqual([]);
    expect(destructiveProblems({ shell: 'mkfs.ext4 /dev/x', destructive: true })).toEqual([]);
    expect(destructiveProblems({ argv: ['blkid'], destructive: false })).toEqual([]);
  });

  it('refuses a destroying guard even with destructive: true (a guard runs on every plan)', () => {
    const ps = destructiveProblems({ argv: ['true'], unless: ['sh', '-c', 'wipefs -a /dev/x'], destructive: true });
    expect(ps.map((p) => p.path)).toEqual([['unless']]);
    expect(ps[0]!.message).toMatch(/the guard runs `wipefs -a \/dev\/x`/);
  });
});
