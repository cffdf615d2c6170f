#!/usr/bin/python3
"""ha-bed-udev: the test bed's stand-in for udev's partition handling.

The kernel of the test bed cannot parse partition tables and the containers
run no udevd.  This daemon does for whole disks what udev's "watch" option
does on a real server: when a whole-disk block device is closed after being
written (inotify IN_CLOSE_WRITE), the kernel's partitions are synced to the
on-disk table (partx -u, or partx -d when there is no table any more), and
the /dev/<disk>N nodes are created or removed to match the kernel
(/sys/block/<kernel name>/<kernel name>pN/dev).  Minors are reused by the
kernel, so nodes are recreated whenever their major:minor differ.

It also rescans sysfs every second, so `partx -a/-u/-d` run by hand gets its
nodes too, and it acts on a request written to its FIFO (/run/ha-bed-udev.fifo:
one disk path per line), which is what the partprobe/blockdev wrappers use.

Disks watched: the paths matching HA_BED_UDEV_DISKS (space-separated globs,
default "/dev/vd? /dev/sd? /dev/xvd? /dev/nvme?n?"; the bed's /dev/vdb is a
host loop device passed in under that name). A glob only matches loop-backed
disks: a privileged container also sees the host's own disks, which are not
ours to touch; name a non-loop disk exactly to have it handled.
"""
import ctypes
import ctypes.util
import errno
import glob
import os
import select
import stat
import struct
import subprocess
import sys
import time

IN_CLOSE_WRITE = 0x00000008
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_ATTRIB = 0x00000004
IN_NONBLOCK = 0o4000
FIFO = "/run/ha-bed-udev.fifo"
DEFAULT_GLOBS = "/dev/vd? /dev/sd? /dev/xvd? /dev/nvme?n?"

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def log(msg):
    print(msg, flush=True)


def disk_paths():
    globs = os.environ.get("HA_BED_UDEV_DISKS", DEFAULT_GLOBS).split()
    out = []
    for g in globs:
        for p in sorted(glob.glob(g)):
            try:
                st = os.stat(p)
            except OSError:
                continue
            if not stat.S_ISBLK(st.st_mode):
                continue
            # Safety: a privileged container sees the HOST's disks too (e.g.
            # its /dev/vda). Matched by a glob, only loop-backed disks (the
            # bed's data disks) are ours; other disks must be named exactly.
            if os.major(st.st_rdev) != 7 and any(ch in g for ch in "*?["):
                continue
            out.append(p)
    return out


def sysfs_dir(path):
    st = os.stat(path)
    d = "/sys/dev/block/%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
    real = os.path.realpath(d)
    if os.path.exists(os.path.join(real, "partition")):
        return None  # a partition, not a whole disk
    return real


def part_node_name(disk, num):
    base = os.path.basename(disk)
    sep = "p" if base[-1].isdigit() else ""
    return os.path.join(os.path.dirname(disk), "%s%s%d" % (base, sep, num))


def sync_nodes(disk):
    """Make /dev/<disk>N match the kernel's partitions of disk."""
    real = sysfs_dir(disk)
    if real is None:
        return
    kname = os.path.basename(real)
    want = {}
    for p in glob.glob(os.path.join(real, kname + "*")):
        pn = os.path.basename(p)
        try:
            num = int(open(os.path.join(p, "partition")).read())
            dev = open(os.path.join(p, "dev")).read().strip()
        except OSError:
            continue
        ma, mi = (int(x) for x in dev.split(":"))
        want[part_node_name(disk, num)] = os.makedev(ma, mi)
    base = os.path.basename(disk)
    existing = [p for p in glob.glob(disk + "*") if p != disk
                and os.path.basename(p)[len(base):].lstrip("p").isdigit()]
    for p in existing:
        if p not in want:
            os.unlink(p)
            log("removed %s" % p)
    for p, rdev in want.items():
        try:
            st = os.lstat(p)
            if stat.S_ISBLK(st.st_mode) and st.st_rdev == rdev:
                continue
            os.unlink(p)
        except FileNotFoundError:
            pass
        os.mknod(p, 0o660 | stat.S_IFBLK, rdev)
        try:
            os.chown(p, 0, 6)  # root:disk, as udev does
        except OSError:
            pass
        log("created %s (%d:%d)" % (p, os.major(rdev), os.minor(rdev)))


def table_parts(disk):
    """{nr: (start, sectors)} of the on-disk table ({} when there is none)."""
    r = subprocess.run(["partx", "-g", "-r", "-o", "NR,START,SECTORS", disk],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return {}
    out = {}
    for line in r.stdout.split("\n"):
        f = line.split()
        if len(f) == 3:
            out[int(f[0])] = (int(f[1]), int(f[2]))
    return out


def kernel_parts(disk):
    """{nr: (start, sectors)} of the partitions the kernel knows."""
    real = sysfs_dir(disk)
    out = {}
    if real is None:
        return out
    kname = os.path.basename(real)
    for p in glob.glob(os.path.join(real, kname + "*")):
        try:
            nr = int(open(os.path.join(p, "partition")).read())
            start = int(open(os.path.join(p, "start")).read())
            size = int(open(os.path.join(p, "size")).read())
        except OSError:
            continue
        out[nr] = (start, size)
    return out


def partx(op, nr, disk):
    r = subprocess.run(["partx", op, "--nr", str(nr), disk], capture_output=True, text=True)
    if r.returncode != 0:
        log("partx %s --nr %d %s: %s" % (op, nr, disk, r.stderr.strip()))


def reread(disk):
    """The kernel side of BLKRRPART, done with BLKPG through partx: remove
    the partitions the table no longer has (or has elsewhere), resize those
    that only changed size, add the new ones; then sync the nodes."""
    if sysfs_dir(disk) is None:
        return
    table, kernel = table_parts(disk), kernel_parts(disk)
    for nr, (start, size) in sorted(kernel.items()):
        if nr not in table or table[nr][0] != start:
            partx("-d", nr, disk)
        elif table[nr][1] != size:
            partx("-u", nr, disk)
    kernel = kernel_parts(disk)
    for nr in sorted(table):
        if nr not in kernel:
            partx("-a", nr, disk)
    sync_nodes(disk)


class Inotify:
    def __init__(self):
        self.fd = libc.inotify_init1(IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.wd = {}

    def add(self, path, mask):
        wd = libc.inotify_add_watch(self.fd, path.encode(), mask)
        if wd < 0:
            return None
        self.wd[wd] = path
        return wd

    def read(self):
        try:
            buf = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out, i = [], 0
        while i < len(buf):
            wd, mask, _cookie, ln = struct.unpack_from("iIII", buf, i)
            name = buf[i + 16:i + 16 + ln].rstrip(b"\0").decode()
            out.append((self.wd.get(wd), mask, name))
            i += 16 + ln
        return out


def main():
    ino = Inotify()
    ino.add("/dev", IN_CREATE | IN_DELETE | IN_ATTRIB)
    watched = {}

    def refresh_watches():
        for d in disk_paths():
            st = os.stat(d)
            if watched.get(d) != st.st_rdev:
                ino.add(d, IN_CLOSE_WRITE)
                watched[d] = st.st_rdev
                reread(d)
        for d in list(watched):
            if not os.path.exists(d):
                del watched[d]

    if not os.path.exists(FIFO):
        os.mkfifo(FIFO, 0o600)
    fifo = os.open(FIFO, os.O_RDWR | os.O_NONBLOCK)
    refresh_watches()
    log("watching %s" % " ".join(sorted(watched)) if watched else "no disks yet")
    last_scan = time.monotonic()
    while True:
        r, _, _ = select.select([ino.fd, fifo], [], [], 1.0)
        todo = set()
        if ino.fd in r:
            for path, mask, _name in ino.read():
                if path == "/dev":
                    refresh_watches()
                elif path and mask & IN_CLOSE_WRITE:
                    todo.add(path)
        if fifo in r:
            try:
                data = os.read(fifo, 4096).decode()
            except BlockingIOError:
                data = ""
            for line in data.split():
                target = os.path.realpath(line)
                for d in watched:
                    if os.path.realpath(d) == target or line == "all":
                        todo.add(d)
        for d in sorted(todo):
            try:
                reread(d)
            except OSError as e:
                log("%s: %s" % (d, e))
        if time.monotonic() - last_scan >= 1.0:
            last_scan = time.monotonic()
            refresh_watches()
            for d in watched:
                try:
                    sync_nodes(d)
                except OSError as e:
                    if e.errno != errno.ENOENT:
                        log("%s: %s" % (d, e))


if __name__ == "__main__":
    sys.exit(main())
