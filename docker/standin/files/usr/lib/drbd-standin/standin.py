#!/usr/bin/python3
"""drbd-standin: the test bed's stand-in for the DRBD 9 kernel module.

One process per DRBD resource, started by our drbdsetup on `new-resource`
(as a transient systemd unit, drbd-standin-RES.service) and ended by `down`.
It holds the state the kernel would hold (roles, disk and connection states,
generation identifiers), replicates over real TCP to the peer's stand-in at
the configured path addresses, and serves each minor as a real block device:
a FUSE file whose reads and writes go to the backing partition (data area,
in front of the internal meta data), with a loop device over it whose
major:minor become /dev/drbdN.  The drbdsetup CLI talks to it over
/run/drbd-standin/RES.sock (one JSON request line, one JSON reply line).

See docker/standin/README.md in the ha-provision project for what is real,
what is emulated and what is not.
"""
import errno
import fcntl
import json
import os
import random
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time

import fusepy

RUN = "/run/drbd-standin"
VERSION = "9.2.12"
PING_INT = 1.0        # seconds between pings
PING_TIMEOUT = 4.0    # silence after which the peer is declared gone
ACK_TIMEOUT = 6.0     # a replicated write not acked by then drops the link
CHUNK = 256 * 1024    # resync unit
DEFAULT_RATE = 100 * 1024 * 1024  # bytes/s when no resync-rate is configured
UUID_JUST_CREATED = 4

LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A
LOOP_CLR_FD = 0x4C01
LOOP_SET_CAPACITY = 0x4C07
LO_FLAGS_AUTOCLEAR = 4
BLKFLSBUF = 0x1261


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class CmdError(Exception):
    def __init__(self, rc, msg):
        super().__init__(msg)
        self.rc = rc
        self.msg = msg


def new_uuid():
    return random.getrandbits(64) & ~1 or 8


def parse_size(s, default_unit="k"):
    """A DRBD size/rate option ("50M", "250k", "1024") in bytes."""
    s = str(s).strip()
    units = {"s": 512, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
    if s and s[-1].lower() in units:
        return int(float(s[:-1]) * units[s[-1].lower()])
    return int(float(s) * units[default_unit])


# ---------------------------------------------------------------- meta data

class MetaData:
    """The generation identifiers and flags in the REAL on-disk meta data,
    read and written with the real drbdmeta (device name "-": no minor lock,
    no attached-check, as the kernel owns the meta data while attached)."""

    FLAGS = ["consistent", "was_up_to_date", "primary", "crashed_primary",
             "al_clean", "al_disabled", "primary_lost_quorum", "peer_connected",
             "peer_outdated", "peer_fencing", "peer_full_sync", "peer_seen"]

    def __init__(self, disk, peer_node_id):
        self.disk = disk
        self.peer = peer_node_id
        self.current = UUID_JUST_CREATED
        self.bitmap = 0
        self.history = [0, 0]
        self.flags = dict.fromkeys(self.FLAGS, 0)

    def _meta(self, *args, force=False):
        argv = ["drbdmeta"] + (["--force"] if force else []) + \
            ["-", "v09", self.disk, "internal"] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def load(self):
        r = self._meta("--node-id=%d" % self.peer, "get-gi")
        if r.returncode != 0:
            raise CmdError(10, "%s: no valid meta data found (drbdadm create-md first): %s"
                           % (self.disk, r.stderr.strip()))
        f = r.stdout.strip().split("\n")[-1].split(":")
        self.current = int(f[0], 16)
        self.bitmap = int(f[1], 16)
        self.history = [int(f[2], 16), int(f[3], 16)]
        for name, v in zip(self.FLAGS, f[4:]):
            self.flags[name] = int(v)
        return self

    def data_size(self):
        """Bytes usable by /dev/drbdN: everything before the bitmap."""
        r = self._meta("dump-md")
        for line in r.stdout.split("\n"):
            if line.startswith("# bm_offset "):
                return int(line.split()[2])
        raise CmdError(10, "%s: cannot read the meta data layout: %s" % (self.disk, r.stderr.strip()))

    def gi(self):
        """CURRENT:BITMAP:HIST1:HIST2:flags..., as `drbdmeta get-gi` and `drbdsetup get-gi` print it."""
        gi = "%016X:%016X:%016X:%016X:" % (self.current, self.bitmap, self.history[0], self.history[1])
        return gi + ":".join(str(self.flags[n]) for n in self.FLAGS)

    def save(self):
        gi = self.gi()
        r = self._meta("--node-id=%d" % self.peer, "set-gi", gi, force=True)
        if r.returncode != 0:
            log("set-gi %s on %s failed: %s" % (gi, self.disk, r.stderr.strip()))

    def rotate(self, new):
        """A new current UUID; the old one goes to bitmap and history."""
        if self.current not in (0, UUID_JUST_CREATED):
            self.history = [self.current, self.history[0]]
            self.bitmap = self.current
        self.current = new

    def disk_state(self):
        """As the kernel derives it on attach (and drbdmeta dstate prints)."""
        if not self.flags["consistent"]:
            return "Inconsistent"
        if not self.flags["was_up_to_date"]:
            return "Outdated"
        return "UpToDate" if self.flags["peer_outdated"] else "Consistent"

    def wire(self):
        return {"current": self.current, "bitmap": self.bitmap, "history": self.history}


# ---------------------------------------------------------------- FUSE + loop

class DevFS(fusepy.Operations):
    """One file, "data": the volume's data area, seen through the resource's
    rules (I/O only while Primary; writes replicated before they complete)."""

    def __init__(self, res, vol):
        self.res = res
        self.vol = vol

    def getattr(self, path, fh=None):
        now = time.time()
        if path == "/":
            return dict(st_mode=stat.S_IFDIR | 0o700, st_nlink=2, st_ctime=now, st_mtime=now, st_atime=now)
        if path == "/data":
            return dict(st_mode=stat.S_IFREG | 0o600, st_nlink=1, st_size=self.vol.size(),
                        st_ctime=now, st_mtime=now, st_atime=now)
        raise fusepy.FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return [".", "..", "data"]

    def open(self, path, fi):
        if path != "/data":
            raise fusepy.FuseOSError(errno.ENOENT)
        fi.direct_io = 1  # no page cache above us: the peer may change the data
        fi.fh = 0
        return 0

    def read(self, path, size, offset, fi):
        return self.res.io_read(self.vol, size, offset)

    def write(self, path, data, offset, fi):
        return self.res.io_write(self.vol, data, offset)

    def truncate(self, path, length, fh=None):
        return 0

    def flush(self, path, fi):
        return 0

    def fsync(self, path, datasync, fi):
        if self.vol.fd is not None:
            os.fsync(self.vol.fd)
        return 0

    def release(self, path, fi):
        return 0


def run_fuse(ops, mnt):
    fusepy.signal = lambda *a, **k: None  # fusepy sets SIGINT; not allowed off the main thread
    fusepy.FUSE(ops, mnt, foreground=True, raw_fi=True, nothreads=False,
                allow_other=True, big_writes=True, max_write=131072, fsname="drbd-standin",
                attr_timeout=0, entry_timeout=0, negative_timeout=0)


def loop_attach(path):
    """A free loop device over path (loop devices are global to the host:
    ask loop-control, make the node if the container lacks it, retry races).
    AUTOCLEAR: the device goes away when its last opener (us) dies."""
    ctl = os.open("/dev/loop-control", os.O_RDWR)
    try:
        for _ in range(50):
            n = fcntl.ioctl(ctl, LOOP_CTL_GET_FREE)
            node = "/dev/loop%d" % n
            if not os.path.exists(node):
                try:
                    os.mknod(node, 0o660 | stat.S_IFBLK, os.makedev(7, n))
                except FileExistsError:
                    pass
            lfd = os.open(node, os.O_RDWR)
            ffd = os.open(path, os.O_RDWR)
            name = path.encode()[:63]
            info = struct.pack("QQQQQIIII64s64s32sQQ", 0, 0, 0, 0, 0, 0, 0, 0,
                               LO_FLAGS_AUTOCLEAR, name, b"", b"", 0, 0)
            cfg = struct.pack("II", ffd, 0) + info + b"\0" * 64
            try:
                fcntl.ioctl(lfd, LOOP_CONFIGURE, cfg)
            except OSError as e:
                os.close(lfd)
                if e.errno == errno.EBUSY:
                    continue
                raise
            finally:
                os.close(ffd)
            return node, n, lfd
        raise CmdError(10, "no free loop device")
    finally:
        os.close(ctl)


# ---------------------------------------------------------------- objects

class Volume:
    def __init__(self, res, vol, minor):
        self.res, self.vol, self.minor = res, vol, minor
        self.disk = None
        self.meta_disk = "internal"
        self.opts = {}
        self.peer_opts = {}
        self.state = "Diskless"
        self.md = None
        self.fd = None
        self.data_size = 0
        self.io_lock = threading.Lock()
        self.read_b = self.written_b = 0
        self.sent_b = self.received_b = 0
        # the peer device (one peer)
        self.repl = "Off"
        self.pdisk = "DUnknown"
        self.peer_size = None
        self.rs_total = self.rs_done = 0
        self.oos = 0
        self.loop = self.loop_n = self.loop_fd = None
        self.mnt = None
        self.fuse_thread = None

    def size(self):
        return 0 if self.fd is None else self.data_size

    def devnode(self):
        return "/dev/drbd%d" % self.minor

    def snapshot(self):
        return dict(volume=self.vol, minor=self.minor, disk=self.state, backing_dev=self.disk,
                    meta_disk=self.meta_disk, opts=self.opts, peer_opts=self.peer_opts,
                    size=self.size() // 1024, read=self.read_b // 1024, written=self.written_b // 1024,
                    repl=self.repl, pdisk=self.pdisk, sent=self.sent_b // 1024,
                    received=self.received_b // 1024, oos=self.oos // 1024,
                    rs_total=self.rs_total, rs_done=self.rs_done)


class Conn:
    """One established replication connection: framed JSON headers, each
    optionally followed by 'n' bytes of payload."""

    def __init__(self, res, sock, hello):
        self.res, self.sock, self.hello = res, sock, hello
        self.send_lock = threading.Lock()
        self.waiters = {}
        self.next_id = 1
        self.last_rx = time.monotonic()
        self.alive = True

    def send(self, hdr, payload=b""):
        data = json.dumps(hdr).encode()
        with self.send_lock:
            self.sock.sendall(struct.pack("!I", len(data)) + data + payload)

    def request(self, hdr, payload=b"", timeout=ACK_TIMEOUT):
        ev = threading.Event()
        with self.send_lock:
            rid = self.next_id
            self.next_id += 1
            self.waiters[rid] = [ev, False]
        hdr["id"] = rid
        try:
            self.send(hdr, payload)
        except OSError:
            self.waiters.pop(rid, None)
            return False
        ok = ev.wait(timeout) and self.waiters.get(rid, [None, False])[1]
        self.waiters.pop(rid, None)
        return bool(ok)

    def ack(self, rid, ok=True):
        w = self.waiters.get(rid)
        if w:
            w[1] = ok
            w[0].set()

    def fail_all(self):
        for w in list(self.waiters.values()):
            w[0].set()


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return bytes(buf)


def recv_frame(sock):
    (ln,) = struct.unpack("!I", recv_exact(sock, 4))
    hdr = json.loads(recv_exact(sock, ln))
    payload = recv_exact(sock, hdr["n"]) if hdr.get("n") else b""
    return hdr, payload


def addr_of(path_addr):
    """ipv4:1.2.3.4:7788 -> ("1.2.3.4", 7788)"""
    af, rest = path_addr.split(":", 1)
    host, port = rest.rsplit(":", 1)
    return host.strip("[]"), int(port)


# ---------------------------------------------------------------- resource

class Resource:
    def __init__(self, name, node_id):
        self.name = name
        self.node_id = node_id
        self.opts = {}
        self.role = "Secondary"
        self.volumes = {}            # vol -> Volume
        self.lock = threading.RLock()
        # the (single) peer
        self.peer_id = None
        self.peer_name = None
        self.net_opts = {}
        self.paths = []              # [(local, remote)]
        self.want_connect = False
        self.cstate = "StandAlone"
        self.peer_role = "Unknown"
        self.conn = None
        self.listener = None
        self.established = False
        self.stopping = False

    # ------------------------------------------------------------ helpers
    def vol_by_minor(self, minor):
        for v in self.volumes.values():
            if v.minor == minor:
                return v
        raise CmdError(10, "%d: No such device" % minor)

    def peer_md_id(self):
        if self.peer_id is not None:
            return self.peer_id
        return 1 if self.node_id == 0 else 0

    def held_open(self, v):
        if v.loop is None:
            return False
        try:
            fd = os.open(v.loop, os.O_RDONLY | os.O_EXCL)
            os.close(fd)
            return False
        except OSError as e:
            return e.errno == errno.EBUSY

    def snapshot(self):
        with self.lock:
            return dict(
                name=self.name, node_id=self.node_id, role=self.role, opts=self.opts,
                volumes=[v.snapshot() for _, v in sorted(self.volumes.items())],
                peer=None if self.peer_id is None else dict(
                    node_id=self.peer_id, name=self.peer_name, cstate=self.cstate,
                    role=self.peer_role if self.cstate == "Connected" else "Unknown",
                    net_opts=self.net_opts, paths=self.paths, established=self.established))

    def persist(self, v):
        if v.md is None:
            return
        v.md.flags["primary"] = 1 if self.role == "Primary" else 0
        v.md.flags["peer_connected"] = 1 if self.cstate == "Connected" else 0
        v.md.save()

    # ------------------------------------------------------------ I/O
    def io_read(self, v, size, offset):
        if self.role != "Primary" or v.fd is None or v.state not in ("UpToDate",):
            raise fusepy.FuseOSError(errno.EIO)
        size = max(0, min(size, v.size() - offset))
        data = os.pread(v.fd, size, offset)
        v.read_b += len(data)
        return data

    def io_write(self, v, data, offset):
        if self.role != "Primary" or v.fd is None or v.state != "UpToDate":
            raise fusepy.FuseOSError(errno.EIO)
        if offset + len(data) > v.size():
            raise fusepy.FuseOSError(errno.ENOSPC)
        with v.io_lock:
            os.pwrite(v.fd, data, offset)
            v.written_b += len(data)
            c = self.conn
            if c is not None and v.repl in ("Established", "SyncSource") and v.pdisk != "Diskless":
                # protocol C: complete only once the peer has it
                if c.request({"t": "w", "vol": v.vol, "off": offset, "n": len(data)}, data):
                    v.sent_b += len(data)
                else:
                    v.oos += len(data)
                    threading.Thread(target=self.drop, args=(c, "write not acknowledged"), daemon=True).start()
            else:
                v.oos += len(data)
        return len(data)

    # ------------------------------------------------------------ commands
    def cmd(self, req):
        name = req["cmd"]
        fn = getattr(self, "c_" + name.replace("-", "_"), None)
        if fn is None:
            raise CmdError(20, "%s: not emulated by the test bed's DRBD stand-in" % name)
        with self.lock:
            return fn(req.get("args", []), req.get("opts", {})) or ""

    def c_resource_options(self, args, opts):
        self.opts.update(opts)

    c_new_resource = c_resource_options

    def c_new_minor(self, args, opts):
        minor, vol = int(args[1]), int(args[2])
        if vol in self.volumes:
            raise CmdError(10, "%s: Failure: (161) Minor or volume exists already (delete it first)" % self.name)
        v = Volume(self, vol, minor)
        self.volumes[vol] = v
        self.setup_device(v)
        with open(os.path.join(RUN, "minor-%d" % minor), "w") as f:
            f.write(self.name)

    def c_del_minor(self, args, opts):
        v = self.vol_by_minor(int(args[0]))
        if v.fd is not None:
            raise CmdError(10, "%d: Failure: (128) Device has a net-config (use disconnect first)" % v.minor)
        self.teardown_device(v)
        del self.volumes[v.vol]

    def c_get_gi(self, args, opts):
        """The kernel's answer for an attached volume (args: resource, peer node id, volume):
        the generation identifiers held in memory, which every state change also writes
        to disk. Read under the resource's lock, never while a change is half made, and
        without opening the backing device (where drbdmeta would race with that write)."""
        peer, vol = int(args[1]), int(args[2])
        v = self.volumes.get(vol)
        if v is None or self.peer_id is None or peer != self.peer_id:
            raise CmdError(10, "%s: No such peer device" % self.name)
        if v.md is None:
            raise CmdError(1, "Device has no disk")
        return v.md.gi()

    def c_new_peer(self, args, opts):
        self.peer_id = int(args[1])
        self.net_opts = dict(opts)
        self.peer_name = opts.get("_name", "peer-%d" % self.peer_id).strip('"')

    c_net_options = lambda self, args, opts: self.net_opts.update(opts)

    def c_new_path(self, args, opts):
        p = (args[2], args[3])
        if p not in self.paths:
            self.paths.append(p)

    def c_del_path(self, args, opts):
        self.paths = [p for p in self.paths if p != (args[2], args[3])]

    def c_del_peer(self, args, opts):
        self.c_disconnect(args, opts)
        self.peer_id = None
        self.paths = []
        self.net_opts = {}

    @staticmethod
    def set_options(current, opts):
        """--set-defaults (what drbdadm adjust passes): every option not given goes back to its default."""
        given = {k: v for k, v in opts.items() if k != "set-defaults"}
        if opts.get("set-defaults"):
            current.clear()
        current.update(given)

    def c_peer_device_options(self, args, opts):
        vol = int(args[2]) if len(args) > 2 else 0
        if vol in self.volumes:
            self.set_options(self.volumes[vol].peer_opts, opts)

    def c_disk_options(self, args, opts):
        self.set_options(self.vol_by_minor(int(args[0])).opts, opts)

    def c_attach(self, args, opts):
        v = self.vol_by_minor(int(args[0]))
        if v.fd is not None:
            raise CmdError(10, "%d: Failure: (124) Device is attached to a disk (use detach first)" % v.minor)
        disk, meta, idx = args[1], args[2], args[3] if len(args) > 3 else "internal"
        if meta != disk or idx not in ("internal", "flexible"):
            raise CmdError(20, "only internal meta data is emulated by the test bed's DRBD stand-in")
        md = MetaData(disk, self.peer_md_id()).load()
        size = md.data_size()
        v.fd = os.open(disk, os.O_RDWR)
        v.disk, v.meta_disk, v.md, v.data_size = disk, "internal", md, size
        v.opts.update(opts)
        v.state = md.disk_state()
        md.flags["al_clean"] = 1
        md.flags["peer_seen"] = 1
        self.persist(v)
        self.resize_device(v)
        self.notify_peer()
        if self.conn is not None:   # attached while connected: negotiate again
            threading.Thread(target=self.drop, args=(self.conn, "re-negotiate after attach"), daemon=True).start()

    def c_detach(self, args, opts):
        v = self.vol_by_minor(int(args[0]))
        if v.fd is None:
            return
        if self.role == "Primary" and self.held_open(v):
            raise CmdError(11, "%s: State change failed: (-12) Device is held open by someone" % self.name)
        self.persist(v)
        with v.io_lock:
            os.close(v.fd)
            v.fd = None
        v.state, v.md, v.disk = "Diskless", None, None
        self.resize_device(v)
        self.notify_peer()

    def c_connect(self, args, opts):
        if self.peer_id is None or not self.paths:
            raise CmdError(10, "%s: Failure: (126) Unknown connection or no path" % self.name)
        if self.want_connect:
            return
        self.want_connect = True
        self.cstate = "Connecting"
        threading.Thread(target=self.listen_loop, daemon=True).start()
        if self.node_id < self.peer_id:
            threading.Thread(target=self.connect_loop, daemon=True).start()

    def c_disconnect(self, args, opts):
        self.want_connect = False
        c = self.conn
        if c is not None:
            self.drop(c, "disconnect")
        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        self.cstate = "StandAlone"

    def c_primary(self, args, opts):
        force = bool(opts.get("force") or opts.get("overwrite-data-of-peer"))
        if self.role == "Primary":
            return
        if self.cstate == "Connected" and self.peer_role == "Primary" and \
                self.net_opts.get("allow-two-primaries", "no") not in ("yes", "true"):
            raise CmdError(11, "%s: State change failed: (-10) Multiple primaries not allowed by config" % self.name)
        vols = list(self.volumes.values())
        for v in vols:
            ok = v.state == "UpToDate" or (v.state == "Consistent" and self.cstate != "Connected")
            if v.fd is None and not (self.cstate == "Connected" and v.pdisk == "UpToDate"):
                raise CmdError(17, "%s: State change failed: (-2) Need access to UpToDate data" % self.name)
            if v.fd is not None and not ok and not force:
                raise CmdError(17, "%s: State change failed: (-2) Need access to UpToDate data" % self.name)
            if v.fd is None:
                raise CmdError(20, "diskless primary is not emulated by the test bed's DRBD stand-in")
        self.role = "Primary"
        for v in vols:
            forced = v.state != "UpToDate"
            v.state = "UpToDate"
            md = v.md
            md.flags["consistent"] = md.flags["was_up_to_date"] = 1
            if forced or self.cstate != "Connected":
                md.rotate(new_uuid())
            if self.cstate != "Connected" or v.pdisk != "UpToDate":
                md.flags["peer_outdated"] = 1
            self.persist(v)
            try:
                fcntl.ioctl(v.loop_fd, BLKFLSBUF)
            except OSError:
                pass
            if forced and self.conn is not None and v.pdisk != "Diskless":
                self.start_resync(self.conn, v)
        self.notify_peer()

    def c_secondary(self, args, opts):
        if self.role != "Primary":
            return
        for v in self.volumes.values():
            if self.held_open(v):
                raise CmdError(11, "%s: State change failed: (-12) Device is held open by someone" % self.name)
        self.role = "Secondary"
        for v in self.volumes.values():
            self.persist(v)
        self.notify_peer()

    def c_outdate(self, args, opts):
        v = self.vol_by_minor(int(args[-1]) if args else 0)
        if v.fd is None:
            raise CmdError(10, "%d: Failure: (138) Device does not have a disk" % v.minor)
        if self.role == "Primary":
            raise CmdError(11, "%s: State change failed: (-7) Refusing to be Outdated while Connected" % self.name)
        if v.state in ("UpToDate", "Consistent"):
            v.state = "Outdated"
            v.md.flags["was_up_to_date"] = 0
            self.persist(v)
            self.notify_peer()

    def c_new_current_uuid(self, args, opts):
        v = self.vol_by_minor(int(args[0]))
        if v.fd is None:
            raise CmdError(10, "%d: Failure: (138) Device does not have a disk" % v.minor)
        clear = bool(opts.get("clear-bitmap"))
        v.md.rotate(new_uuid())
        if clear:
            # "skip the initial sync": both sides become UpToDate with this UUID
            v.state = "UpToDate"
            v.md.flags["consistent"] = v.md.flags["was_up_to_date"] = 1
            c = self.conn
            if c is not None:
                c.send({"t": "adopt", "vol": v.vol, "gi": v.md.wire()})
                v.pdisk = "UpToDate"
        self.persist(v)
        self.notify_peer()

    def c_resize(self, args, opts):
        return ""

    c_check_resize = c_resize

    def c_down(self, args, opts):
        if self.role == "Primary":
            for v in self.volumes.values():
                if self.held_open(v):
                    raise CmdError(11, "%s: State change failed: (-12) Device is held open by someone" % self.name)
            self.role = "Secondary"
            self.notify_peer()
        self.c_disconnect([], {})
        for v in list(self.volumes.values()):
            if v.fd is not None:
                self.c_detach([str(v.minor)], {})
            self.teardown_device(v)
        self.volumes.clear()
        self.stopping = True
        return ""

    c_del_resource = c_down

    def c_snapshot(self, args, opts):
        return json.dumps(self.snapshot())

    # ------------------------------------------------------------ device
    def setup_device(self, v):
        v.mnt = os.path.join(RUN, "fuse", str(v.minor))
        # a FUSE mount left by a killed predecessor ("not connected") goes first
        subprocess.run(["umount", "-l", v.mnt], capture_output=True)
        os.makedirs(v.mnt, exist_ok=True)
        v.fuse_thread = threading.Thread(target=run_fuse, args=(DevFS(self, v), v.mnt), daemon=True)
        v.fuse_thread.start()
        data = os.path.join(v.mnt, "data")
        for _ in range(100):
            if os.path.exists(data):
                break
            time.sleep(0.05)
        else:
            raise CmdError(10, "FUSE mount %s did not come up" % v.mnt)
        v.loop, v.loop_n, v.loop_fd = loop_attach(data)
        node = v.devnode()
        if os.path.lexists(node):
            os.unlink(node)
        os.mknod(node, 0o660 | stat.S_IFBLK, os.makedev(7, v.loop_n))
        os.chown(node, 0, 6)
        d = "/dev/drbd/by-res/%s" % self.name
        os.makedirs(d, exist_ok=True)
        link = os.path.join(d, str(v.vol))
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink("../../../drbd%d" % v.minor, link)

    def resize_device(self, v):
        try:
            fcntl.ioctl(v.loop_fd, LOOP_SET_CAPACITY, 0)
        except OSError as e:
            log("set capacity on %s: %s" % (v.loop, e))
        d = "/dev/drbd/by-disk"
        for link in [os.path.join(d, x) for x in (os.listdir(d) if os.path.isdir(d) else [])]:
            if os.path.realpath(link) == v.devnode():
                os.unlink(link)
        if v.disk:
            link = os.path.join(d, os.path.relpath(v.disk, "/dev"))
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(v.devnode(), link)

    def teardown_device(self, v):
        if v.loop_fd is not None:
            try:
                fcntl.ioctl(v.loop_fd, LOOP_CLR_FD)
            except OSError as e:
                log("detach %s: %s" % (v.loop, e))
            os.close(v.loop_fd)
            v.loop_fd = None
        subprocess.run(["umount", "-l", v.mnt], capture_output=True)
        if v.fuse_thread is not None:
            v.fuse_thread.join(5)
        for p in (v.devnode(), "/dev/drbd/by-res/%s/%d" % (self.name, v.vol),
                  os.path.join(RUN, "minor-%d" % v.minor)):
            if os.path.lexists(p):
                os.unlink(p)
        try:
            os.rmdir("/dev/drbd/by-res/%s" % self.name)
        except OSError:
            pass

    # ------------------------------------------------------------ network
    def hello(self):
        return {"t": "hello", "res": self.name, "node_id": self.node_id, "role": self.role,
                "vols": {str(v.vol): {"state": v.state, "size": v.data_size,
                                      "gi": v.md.wire() if v.md else None}
                         for v in self.volumes.values()}}

    def notify_peer(self):
        c = self.conn
        if c is None:
            return
        try:
            c.send({"t": "state", "role": self.role,
                    "vols": {str(v.vol): v.state for v in self.volumes.values()}})
        except OSError:
            pass

    def listen_loop(self):
        local = addr_of(self.paths[0][0])
        while self.want_connect and not self.stopping:
            try:
                ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                ls.bind(local)
                ls.listen(4)
                self.listener = ls
                break
            except OSError as e:
                log("listen on %s:%d: %s" % (local + (e,)))
                time.sleep(1)
        while self.want_connect and self.listener is not None:
            try:
                s, _ = self.listener.accept()
            except OSError:
                break
            threading.Thread(target=self.handshake, args=(s, False), daemon=True).start()

    def connect_loop(self):
        local, remote = addr_of(self.paths[0][0]), addr_of(self.paths[0][1])
        while self.want_connect and not self.stopping:
            if self.conn is None:
                try:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.bind((local[0], 0))
                    s.settimeout(1.0)
                    s.connect(remote)
                    self.handshake(s, True)
                except OSError:
                    pass
            time.sleep(0.5)

    def handshake(self, s, active):
        try:
            s.settimeout(3.0)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                mine = self.hello()
            data = json.dumps(mine).encode()
            s.sendall(struct.pack("!I", len(data)) + data)
            hdr, _ = recv_frame(s)
            if hdr.get("t") != "hello" or hdr.get("res") != self.name or hdr.get("node_id") != self.peer_id:
                s.close()
                return
            s.settimeout(None)
        except (OSError, ValueError, ConnectionError):
            s.close()
            return
        with self.lock:
            if self.conn is not None or not self.want_connect:
                s.close()
                return
            c = Conn(self, s, hdr)
            self.conn = c
            self.cstate = "Connected"
            self.established = True
            self.peer_role = hdr["role"]
            log("connected to %s (node-id %d)" % (self.peer_name, self.peer_id))
            sb = self.negotiate(c, hdr)
        threading.Thread(target=self.reader, args=(c,), daemon=True).start()
        threading.Thread(target=self.pinger, args=(c,), daemon=True).start()
        if sb:
            log("Split-Brain detected, dropping connection!")
            self.drop(c, "split-brain")
            with self.lock:
                self.c_disconnect([], {})

    def negotiate(self, c, peer):
        """Decide per volume who syncs whom (the same on both sides: the
        decision depends only on the two hellos, ordered by node-id)."""
        sb = False
        for v in self.volumes.values():
            pv = peer["vols"].get(str(v.vol))
            if pv is None:
                continue
            v.peer_size = pv["size"] or None
            v.pdisk = pv["state"]
            v.repl = "Established"
            if v.fd is None or pv["gi"] is None:
                continue
            me = {"state": v.state, "gi": v.md.wire(), "primary": self.role == "Primary"}
            other = {"state": pv["state"], "gi": pv["gi"], "primary": peer["role"] == "Primary"}
            verdict = decide(me, other)
            if verdict == "split-brain":
                sb = True
            elif verdict == "equal":
                if v.state in ("UpToDate", "Consistent") and pv["state"] in ("UpToDate", "Consistent"):
                    v.state = v.pdisk = "UpToDate"
                    v.md.flags["peer_outdated"] = 0
                    self.persist(v)
            elif verdict == "source":
                self.start_resync(c, v)
            # "target": the peer starts the resync and tells us
        return sb

    def start_resync(self, c, v):
        v.repl = "SyncSource"
        v.pdisk = "Inconsistent"
        v.rs_total, v.rs_done = v.size(), 0
        threading.Thread(target=self.resync, args=(c, v), daemon=True).start()

    def resync(self, c, v):
        """Full resync (no bitmap): the whole data area, chunk by chunk, each
        chunk read and acked under the volume's I/O lock so that application
        writes and resync data cannot overtake each other."""
        # DRBD 9 keeps the rate per peer device (peer-device-options, what `drbdadm
        # peer-device-options --resync-rate=R` changes at run time); the disk's is the default
        conf = v.peer_opts.get("resync-rate") or v.opts.get("resync-rate")
        rate = parse_size(conf) if conf else DEFAULT_RATE
        total = v.rs_total
        try:
            c.send({"t": "rs_begin", "vol": v.vol, "total": total})
        except OSError:
            return
        t0, off = time.monotonic(), 0
        while off < total:
            if self.conn is not c or not c.alive or v.fd is None:
                return
            n = min(CHUNK, total - off)
            with v.io_lock:
                data = os.pread(v.fd, n, off)
                if not c.request({"t": "rs", "vol": v.vol, "off": off, "n": n}, data):
                    return
            off += n
            v.rs_done = off
            v.sent_b += n
            ahead = off / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        with self.lock:
            if self.conn is not c:
                return
            try:
                c.send({"t": "rs_end", "vol": v.vol, "gi": v.md.wire()})
            except OSError:
                return
            v.repl, v.pdisk = "Established", "UpToDate"
            v.rs_total = v.rs_done = 0
            v.oos = 0
            v.md.flags["peer_outdated"] = 0
            v.md.bitmap = 0
            self.persist(v)
            log("resync of volume %d done (%d bytes)" % (v.vol, total))

    def reader(self, c):
        try:
            while c.alive:
                hdr, payload = recv_frame(c.sock)
                c.last_rx = time.monotonic()
                self.on_frame(c, hdr, payload)
        except (OSError, ValueError, ConnectionError, struct.error) as e:
            self.drop(c, "receive: %s" % e)

    def on_frame(self, c, hdr, payload):
        t = hdr["t"]
        if t == "ping":
            c.send({"t": "pong"})
        elif t == "pong":
            pass
        elif t == "ack":
            c.ack(hdr["id"], hdr.get("ok", True))
        elif t in ("w", "rs"):
            v = self.volumes.get(hdr["vol"])
            ok = v is not None and v.fd is not None
            if ok:
                os.pwrite(v.fd, payload, hdr["off"])
                v.received_b += len(payload)
                if t == "rs":
                    v.rs_done = hdr["off"] + len(payload)
            c.send({"t": "ack", "id": hdr["id"], "ok": ok})
        elif t == "rs_begin":
            v = self.volumes.get(hdr["vol"])
            with self.lock:
                v.repl, v.pdisk = "SyncTarget", "UpToDate"
                v.state = "Inconsistent"
                v.rs_total, v.rs_done = hdr["total"], 0
                v.md.flags["consistent"] = v.md.flags["was_up_to_date"] = 0
                self.persist(v)
        elif t in ("rs_end", "adopt"):
            v = self.volumes.get(hdr["vol"])
            with self.lock:
                gi = hdr["gi"]
                v.md.current, v.md.history = gi["current"], gi["history"]
                v.md.bitmap = 0
                v.md.flags["consistent"] = v.md.flags["was_up_to_date"] = 1
                v.md.flags["peer_outdated"] = 0
                v.state, v.repl, v.pdisk = "UpToDate", "Established", "UpToDate"
                v.rs_total = v.rs_done = 0
                self.persist(v)
            self.notify_peer()
        elif t == "state":
            with self.lock:
                self.peer_role = hdr["role"]
                for vol, st in hdr["vols"].items():
                    v = self.volumes.get(int(vol))
                    if v is not None and v.repl != "SyncSource":
                        v.pdisk = st

    def pinger(self, c):
        while c.alive:
            time.sleep(PING_INT)
            if time.monotonic() - c.last_rx > PING_TIMEOUT:
                self.drop(c, "PingAck did not arrive in time")
                return
            try:
                c.send({"t": "ping"})
            except OSError as e:
                self.drop(c, "send: %s" % e)
                return

    def drop(self, c, why):
        with self.lock:
            if not c.alive:
                return
            c.alive = False
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.sock.close()
            c.fail_all()
            if self.conn is not c:
                return
            log("connection to %s lost: %s" % (self.peer_name, why))
            self.conn = None
            self.established = False
            self.cstate = "Connecting" if self.want_connect else "StandAlone"
            self.peer_role = "Unknown"
            for v in self.volumes.values():
                was = v.repl
                v.repl, v.pdisk, v.peer_size = "Off", "DUnknown", None
                if v.md is None:
                    continue
                if self.role == "Primary" and v.state == "UpToDate":
                    # the peer no longer sees our writes: new data generation
                    v.md.rotate(new_uuid())
                    v.md.flags["peer_outdated"] = 1
                elif was == "SyncSource":
                    v.md.flags["peer_outdated"] = 1
                v.rs_total = v.rs_done = 0
                self.persist(v)


def decide(me, other):
    """'source' | 'target' | 'equal' | 'none' | 'split-brain' for 'me'."""
    cons = ("UpToDate", "Consistent", "Outdated")
    a_ok, b_ok = me["state"] in cons, other["state"] in cons
    if not a_ok and not b_ok:
        return "none"
    if a_ok and not b_ok:
        return "source"
    if b_ok and not a_ok:
        return "target"
    a, b = me["gi"], other["gi"]
    if a["current"] == b["current"]:
        return "equal"
    if b["current"] in (a["bitmap"],) + tuple(a["history"]):
        return "source"     # the peer's data is an ancestor of ours
    if a["current"] in (b["bitmap"],) + tuple(b["history"]):
        return "target"
    return "split-brain"


# ---------------------------------------------------------------- control

def serve(res):
    path = os.path.join(RUN, res.name + ".sock")
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)

    def client(s):
        with s:
            f = s.makefile("rwb")
            line = f.readline()
            if not line:
                return
            try:
                req = json.loads(line)
                out = res.cmd(req)
                rep = {"rc": 0, "out": out}
            except CmdError as e:
                rep = {"rc": e.rc, "err": e.msg}
            except Exception as e:  # noqa: BLE001 - reported to the caller
                log("command %s failed: %r" % (line, e))
                rep = {"rc": 10, "err": "%s: %s" % (res.name, e)}
            f.write((json.dumps(rep) + "\n").encode())
            f.flush()
        if res.stopping:
            srv.close()
            os.unlink(path)
            log("resource %s down" % res.name)
            os._exit(0)

    while True:
        s, _ = srv.accept()
        threading.Thread(target=client, args=(s,), daemon=True).start()


def main():
    name, node_id = sys.argv[1], int(sys.argv[2])
    os.makedirs(RUN, exist_ok=True)
    # Before any FUSE mount: libfuse takes over SIGTERM/SIGHUP only while they
    # are SIG_DFL, and would then merely end its loop. A "kernel" going away
    # (system shutdown, unit stop) just vanishes; AUTOCLEAR frees the loops.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGHUP, lambda *_: os._exit(0))
    res = Resource(name, node_id)
    log("DRBD %s stand-in: resource %s, node-id %d" % (VERSION, name, node_id))
    serve(res)


if __name__ == "__main__":
    main()
