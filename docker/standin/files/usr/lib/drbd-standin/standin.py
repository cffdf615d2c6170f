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
import faulthandler
import fcntl
import json
import os
import random
import re
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
HELPER = "/sbin/drbdadm"  # the kernel's usermode_helper default
# The 8.4 personality (/etc/drbd-standin/personality says 8.4; drbdsetup-84
# starts the daemon with "8.4" as its 4th argument): one peer per resource,
# which 8.4 does not number; inside, it is node id 1 and this node 0.
VERSION_84 = "8.4.11"
PEER84 = 1
# fence-peer exit codes (drbd_nl.c conn_try_outdate_peer)
P_INCONSISTENT, P_OUTDATED, P_DOWN, P_PRIMARY, P_FENCING = 3, 4, 5, 6, 7

LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A
LOOP_CLR_FD = 0x4C01
LOOP_SET_CAPACITY = 0x4C07
LO_FLAGS_AUTOCLEAR = 4
BLKFLSBUF = 0x1261
BLKGETSIZE64 = 0x80081272


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
    no attached-check, as the kernel owns the meta data while attached).

    As in DRBD 9's v09 format: the current and history UUIDs and the device
    flags once, a bitmap UUID and peer flags per peer slot (node id);
    `drbdmeta --node-id=P get-gi` / `set-gi` show and set them as seen
    towards peer P."""

    FLAGS = ["consistent", "was_up_to_date", "primary", "crashed_primary",
             "al_clean", "al_disabled", "primary_lost_quorum"]
    PEER_FLAGS = ["peer_connected", "peer_outdated", "peer_fencing", "peer_full_sync", "peer_seen"]

    def __init__(self, disk, peer_ids):
        self.disk = disk
        self.peer_ids = list(peer_ids)
        self.current = UUID_JUST_CREATED
        self.history = [0, 0]
        self.flags = dict.fromkeys(self.FLAGS, 0)
        self.bitmap = {p: 0 for p in self.peer_ids}
        self.pflags = {p: dict.fromkeys(self.PEER_FLAGS, 0) for p in self.peer_ids}
        self.max_peers = 1
        self.bm_offset = 0
        self.al_offset = self.md_offset = 0   # byte offsets of the activity log and the superblock
        self.al_sect = 64            # activity log: al-stripes * al-stripe-size-4k * 8 sectors
        self.la_size = 0             # la-size-sect * 512: the size last agreed (0: never set)
        self.dump = ""               # the last `dump-md`: the meta data as drbdmeta restore-md reads it

    def _meta(self, *args, force=False):
        argv = ["drbdmeta"] + (["--force"] if force else []) + \
            ["-", "v09", self.disk, "internal"] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def load(self):
        for i, p in enumerate(self.peer_ids):
            r = self._meta("--node-id=%d" % p, "get-gi")
            if r.returncode != 0:
                raise CmdError(10, "%s: no valid meta data found (drbdadm create-md first): %s"
                               % (self.disk, r.stderr.strip()))
            f = r.stdout.strip().split("\n")[-1].split(":")
            if i == 0:
                self.current = int(f[0], 16)
                self.history = [int(f[2], 16), int(f[3], 16)]
                for name, v in zip(self.FLAGS, f[4:]):
                    self.flags[name] = int(v)
            self.bitmap[p] = int(f[1], 16)
            for name, v in zip(self.PEER_FLAGS, f[4 + len(self.FLAGS):]):
                self.pflags[p][name] = int(v)
        self.read_layout()
        return self

    def read_layout(self):
        """max-peers (the bitmap slots made by create-md), bm_offset, the
        activity log's size and la-size-sect, from dump-md (kept: a resize
        writes the meta data anew from it, see move)."""
        r = self._meta("dump-md")
        stripes, stripe_4k = 1, 8
        for line in r.stdout.split("\n"):
            if line.startswith("# bm_offset "):
                self.bm_offset = int(line.split()[2])
            elif line.startswith("# al_offset "):
                self.al_offset = int(line.split()[2])
            elif line.startswith("# md_offset "):
                self.md_offset = int(line.split()[2])
            elif line.startswith("max-peers "):
                self.max_peers = int(line.split()[1].rstrip(";"))
            elif line.startswith("al-stripes "):
                stripes = int(line.split()[1].rstrip(";"))
            elif line.startswith("al-stripe-size-4k "):
                stripe_4k = int(line.split()[1].rstrip(";"))
            elif line.startswith("la-size-sect "):
                self.la_size = int(line.split()[1].rstrip(";")) * 512
        if not self.bm_offset:
            raise CmdError(10, "%s: cannot read the meta data layout: %s" % (self.disk, r.stderr.strip()))
        self.al_sect = stripes * stripe_4k * 8
        self.dump = r.stdout

    def max_data_size(self, backing_bytes):
        """Bytes of data area internal meta data leaves on a backing device of
        that size, as DRBD 9.2 computes it (drbd_md_set_sector_offsets,
        drbd_capacity_to_on_disk_bm_sect, drbd_md_first_sector): the
        superblock in the last 4 KiB-aligned 4 KiB, the activity log before
        it, before that one bitmap per peer slot (a bit per 4 KiB, in 64-bit
        words, the whole rounded up to 4 KiB)."""
        def align(x, a):
            return -(-x // a) * a
        sect = backing_bytes // 512
        bits = align(align(sect, 8) // 8, 64)
        bm_sect = align(bits // 8 * self.max_peers, 4096) // 512
        md_size_sect = bm_sect + 8 + self.al_sect
        return max(0, ((sect & ~7) - md_size_sect) * 512)

    def move(self, size):
        """The meta data written where the backing device's current size puts
        it (its end), with la-size-sect = size, as the kernel does on a
        resize (drbd_determine_dev_size: "md moved"): the real drbdmeta
        restore-md of the last dump (it lays the meta data out for the
        device's size), then the generation identifiers and flags as held
        now, and the activity log copied to its new place (restore-md lays
        out an empty area there; the kernel writes its own log, drbdmeta's
        check-resize copies it likewise). The old superblock stays where it
        was (now in the data area), as with the kernel."""
        n = self.al_sect * 512
        fd = os.open(self.disk, os.O_RDWR)
        try:
            # the old log (after a shrink it may be past the device's end: then none)
            al = os.pread(fd, n, self.al_offset) if self.al_offset and self.md_offset - self.al_offset == n else b""
            self._restore(size)
            if len(al) == n and self.md_offset - self.al_offset == n:
                os.pwrite(fd, al, self.al_offset)
                os.fsync(fd)
        finally:
            os.close(fd)

    def _restore(self, size):
        text = re.sub(r"(?m)^la-size-sect \d+;", "la-size-sect %d;" % (size // 512), self.dump)
        path = os.path.join(RUN, "restore-md.%d" % os.getpid())
        with open(path, "w") as f:
            f.write(text)
        try:
            r = self._meta("restore-md", path, force=True)
        finally:
            os.unlink(path)
        if r.returncode != 0:
            raise CmdError(10, "%s: moving the meta data failed: %s" % (self.disk, (r.stderr + r.stdout).strip()))
        self.save()
        self.read_layout()

    def data_size(self):
        """Bytes usable by /dev/drbdN at attach: everything before the bitmap,
        but not more than the size last agreed with the peers (la-size-sect,
        once a resize has set it), as the kernel's drbd_new_dev_size() while
        no peer is known."""
        return min(self.bm_offset, self.la_size) if self.la_size else self.bm_offset

    def add_peer(self, p):
        if p not in self.peer_ids:
            self.peer_ids.append(p)
            self.bitmap[p] = 0
            self.pflags[p] = dict.fromkeys(self.PEER_FLAGS, 0)

    def gi(self, p):
        """CURRENT:BITMAP:HIST1:HIST2:flags..., as `drbdmeta get-gi` and `drbdsetup get-gi` print it towards peer p."""
        gi = "%016X:%016X:%016X:%016X:" % (self.current, self.bitmap.get(p, 0), self.history[0], self.history[1])
        peer = self.pflags.get(p) or dict.fromkeys(self.PEER_FLAGS, 0)
        return gi + ":".join([str(self.flags[n]) for n in self.FLAGS] + [str(peer[n]) for n in self.PEER_FLAGS])

    def save(self):
        for p in self.peer_ids:
            gi = self.gi(p)
            r = self._meta("--node-id=%d" % p, "set-gi", gi, force=True)
            if r.returncode != 0:
                log("set-gi %s on %s failed: %s" % (gi, self.disk, r.stderr.strip()))

    def rotate(self, new, behind=()):
        """A new current UUID; the old one goes to the history, and to the
        bitmap UUID of each peer that does not get the new data (behind)."""
        if self.current not in (0, UUID_JUST_CREATED):
            self.history = [self.current, self.history[0]]
            for p in behind:
                if p in self.bitmap:
                    self.bitmap[p] = self.current
        self.current = new

    def disk_state(self):
        """As the kernel derives it on attach (and drbdmeta dstate prints)."""
        if not self.flags["consistent"]:
            return "Inconsistent"
        if not self.flags["was_up_to_date"]:
            return "Outdated"
        return "UpToDate" if any(f["peer_outdated"] for f in self.pflags.values()) else "Consistent"

    def wire(self, p):
        return {"current": self.current, "bitmap": self.bitmap.get(p, 0), "history": self.history}

    def wires(self):
        """What a hello carries: the generation identifiers as seen towards each peer slot."""
        return {str(p): self.wire(p) for p in self.peer_ids}


class MetaData84(MetaData):
    """DRBD 8.4's v08 meta data: one peer, no node ids; `drbdmeta - v08 DISK
    internal get-gi` prints CURRENT:BITMAP:HIST1:HIST2 and seven flags in
    v08's order (drbd-utils' dt_print_uuids: consistent, was-up-to-date,
    primary, connected, full-sync, peer-outdated, crashed-primary). The same
    dicts as v09 hold them (the device flags, and the peer flags of the one
    peer); there is no al-disabled / lost-quorum / peer-fencing / peer-seen
    on disk, and al-clean is not in get-gi (drbdmeta's apply-al sets it)."""

    V08 = [("flags", "consistent"), ("flags", "was_up_to_date"), ("flags", "primary"),
           ("peer", "peer_connected"), ("peer", "peer_full_sync"), ("peer", "peer_outdated"),
           ("flags", "crashed_primary")]

    def _meta(self, *args, force=False):
        args = [a for a in args if not str(a).startswith("--node-id=")]
        argv = ["drbdmeta"] + (["--force"] if force else []) + \
            ["-", "v08", self.disk, "internal"] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)

    def load(self):
        r = self._meta("get-gi")
        if r.returncode != 0:
            raise CmdError(10, "%s: no valid meta data found (drbdadm create-md first): %s"
                           % (self.disk, r.stderr.strip()))
        f = r.stdout.strip().split("\n")[-1].split(":")
        self.current = int(f[0], 16)
        self.history = [int(f[2], 16), int(f[3], 16)]
        for p in self.peer_ids:
            self.bitmap[p] = int(f[1], 16)
        for (kind, name), v in zip(self.V08, f[4:]):
            if kind == "flags":
                self.flags[name] = int(v)
            else:
                for p in self.peer_ids:
                    self.pflags[p][name] = int(v)
        self.read_layout()
        return self

    def gi(self, p=PEER84):
        gi = "%016X:%016X:%016X:%016X:" % (self.current, self.bitmap.get(p, 0), self.history[0], self.history[1])
        peer = self.pflags.get(p) or dict.fromkeys(self.PEER_FLAGS, 0)
        return gi + ":".join(str(self.flags[n] if k == "flags" else peer[n]) for k, n in self.V08)

    def save(self):
        gi = self.gi(self.peer_ids[0] if self.peer_ids else PEER84)
        r = self._meta("set-gi", gi, force=True)
        if r.returncode != 0:
            log("set-gi %s on %s failed: %s" % (gi, self.disk, r.stderr.strip()))


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


class PeerDevice:
    """A volume as seen towards one peer (DRBD 9's peer device)."""

    def __init__(self):
        self.repl = "Off"
        self.pdisk = "DUnknown"
        self.peer_size = None
        self.rs_total = self.rs_done = 0
        self.rs_start = 0            # a SyncTarget's first synced byte (after an online grow: the old size)
        self.oos = 0
        self.sent_b = self.received_b = 0
        self.opts = {}
        # drbd_should_unfence() compares the peer disk before and after a state
        # change: the peer disk at the previous check; and "the peer will sync
        # us" (a SyncTarget-to-be is not up to date yet)
        self.pdisk_seen = "DUnknown"
        self.rs_expect = False
        # one resync target at a time (DRBD 9's resync_susp_other_c): a source
        # whose peer already syncs from another node waits (PausedSyncS) until
        # that peer says "restart" (the other source was lost) or "cancel" (it
        # is in sync now); what it sent meanwhile was discarded by the peer
        self.rs_paused = False
        self.rs_wake = threading.Event()
        self.rs_next = None   # "restart" | "cancel", set with rs_wake

    def snapshot(self, vol):
        susp = {"PausedSyncS": "peer", "PausedSyncT": "dependency"}.get(self.repl, "no")
        return dict(volume=vol, repl=self.repl, pdisk=self.pdisk, peer_opts=self.opts,
                    sent=self.sent_b // 1024, received=self.received_b // 1024, oos=self.oos // 1024,
                    rs_total=self.rs_total, rs_done=self.rs_done, resync_suspended=susp)


class Volume:
    def __init__(self, res, vol, minor):
        self.res, self.vol, self.minor = res, vol, minor
        self.disk = None
        self.meta_disk = "internal"
        self.opts = {}
        self.state = "Diskless"
        self.md = None
        self.fd = None
        self.data_size = 0
        self.io_lock = threading.Lock()
        self.read_b = self.written_b = 0
        self.pds = {}                # peer node id -> PeerDevice
        self.slots = set()           # peers holding a bitmap slot of the attached meta data
        # sectors an application write reached while this volume is a SyncTarget:
        # resync data read by its source before that write must not undo it
        # (DRBD orders them with its resync/application-write conflict checks)
        self.rs_written = set()
        self.loop = self.loop_n = self.loop_fd = None
        self.mnt = None
        self.fuse_thread = None

    def pd(self, peer_id):
        if peer_id not in self.pds:
            self.pds[peer_id] = PeerDevice()
        return self.pds[peer_id]

    def size(self):
        return 0 if self.fd is None else self.data_size

    def devnode(self):
        return "/dev/drbd%d" % self.minor

    def snapshot(self):
        return dict(volume=self.vol, minor=self.minor, disk=self.state, backing_dev=self.disk,
                    meta_disk=self.meta_disk, opts=self.opts,
                    size=self.size() // 1024, read=self.read_b // 1024, written=self.written_b // 1024)


class Peer:
    """One connection: its peer node, options, paths and state."""

    def __init__(self, node_id, name, opts):
        self.node_id = node_id
        self.name = name
        self.net_opts = dict(opts)
        self.paths = []              # [(local, remote)]
        self.want_connect = False
        self.cstate = "StandAlone"
        self.role = "Unknown"
        self.conn = None
        self.established = False
        # resource-level fencing, per connection as in DRBD 9: I/O frozen while
        # this connection's fence-peer runs (connection->susp_fen,
        # resource-and-stonith), and a counter of established connections
        # (connection->last_reconnect_jif) to ignore a stale helper result
        self.susp_fen = False
        self.conn_gen = 0


class Conn:
    """One established replication connection: framed JSON headers, each
    optionally followed by 'n' bytes of payload."""

    def __init__(self, res, peer, sock, hello):
        self.res, self.peer, self.sock, self.hello = res, peer, sock, hello
        self.send_lock = threading.Lock()
        self.waiters = {}
        self.next_id = 1
        self.last_rx = time.monotonic()
        self.alive = True
        self.bye = False   # the peer said it disconnects administratively
        self.why = None    # the first reason given to drop it
        self.graceful = False
        self.why_lock = threading.Lock()

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

    def query(self, hdr, timeout=ACK_TIMEOUT):
        """A request whose answer carries data: the peer's ack frame, or None."""
        ev = threading.Event()
        with self.send_lock:
            rid = self.next_id
            self.next_id += 1
            self.waiters[rid] = [ev, False, None]
        hdr["id"] = rid
        try:
            self.send(hdr)
        except OSError:
            self.waiters.pop(rid, None)
            return None
        ev.wait(timeout)
        w = self.waiters.pop(rid, None)
        return w[2] if w and w[1] and len(w) > 2 else None

    def ack(self, rid, ok=True, reply=None):
        w = self.waiters.get(rid)
        if w:
            w[1] = ok
            if len(w) > 2:
                w[2] = reply
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
    def __init__(self, name, node_id, v84=False):
        self.name = name
        self.node_id = node_id
        self.v84 = v84
        self.opts = {}
        self.role = "Secondary"
        self.volumes = {}            # vol -> Volume
        self.lock = threading.RLock()
        self.peers = {}              # node id -> Peer
        self.listeners = {}          # local "ipv4:A:P" -> listening socket (shared by the connections on it)
        self.stopping = False
        # I/O waits here while any connection has susp_fen (is_suspended_fen)
        self.resumed = threading.Condition(self.lock)
        if v84:
            # 8.4: the resource's one connection exists from new-resource on,
            # unconfigured (no addresses) until `connect LOCAL PEER`
            self.peers[PEER84] = Peer(PEER84, "peer", {})

    # ------------------------------------------------------------ helpers
    def vol_by_minor(self, minor):
        for v in self.volumes.values():
            if v.minor == minor:
                return v
        raise CmdError(10, "%d: No such device" % minor)

    def peer_of(self, args):
        """The peer named by `RES PEER_NODE_ID ...`."""
        try:
            return self.peers[int(args[1])]
        except (IndexError, ValueError, KeyError):
            raise CmdError(10, "%s: Failure: (158) Unknown connection" % self.name)

    def md_peer_ids(self):
        if self.peers:
            return sorted(self.peers)
        return [1 if self.node_id == 0 else 0]

    def connected(self):
        return [p for _, p in sorted(self.peers.items()) if p.cstate == "Connected" and p.conn is not None]

    def held_open(self, v):
        if v.loop is None:
            return False
        try:
            fd = os.open(v.loop, os.O_RDONLY | os.O_EXCL)
            os.close(fd)
            return False
        except OSError as e:
            return e.errno == errno.EBUSY

    # ------------------------------------------------------------ fencing
    def fencing(self, p):
        """The connection's fencing policy (a net option in DRBD 9, per
        connection; a disk option in 8.4)."""
        if self.v84:
            for v in self.volumes.values():
                if v.opts.get("fencing"):
                    return str(v.opts["fencing"]).strip('"')
            return "dont-care"
        return str(p.net_opts.get("fencing", "dont-care")).strip('"')

    def suspended(self):
        """is_suspended_fen(): some connection's fence-peer is running with resource-and-stonith."""
        return any(p.susp_fen for p in self.peers.values())

    def up_to_date_nodes(self, v, op_is_fence):
        """drbd_nl.c up_to_date_nodes(): this node, plus every peer (on any
        connection) whose disk is UpToDate; a Secondary also counts a peer
        whose bitmap UUID is 0 (in sync when last seen)."""
        mask = 1 << self.node_id
        if self.role == "Primary" or op_is_fence:
            for pid in self.peers:
                if v.pd(pid).pdisk == "UpToDate":
                    mask |= 1 << pid
        elif v.state == "UpToDate":
            for pid in self.peers:
                if v.pd(pid).pdisk == "UpToDate" or (pid in v.slots and v.md.bitmap.get(pid, 1) == 0):
                    mask |= 1 << pid
        else:
            mask = 0
        return mask

    def helper_env(self, p, cmd):
        """The environment drbd_khelper() gives a connection's helper."""
        env = {"HOME": "/", "TERM": "linux", "PATH": "/sbin:/usr/sbin:/bin:/usr/bin"}
        if self.v84:
            # 8.4's conn_khelper/drbd_khelper (setup_khelper_env): the peer's address only
            if p.paths:
                env["DRBD_PEER_AF"] = p.paths[0][1].split(":", 1)[0]
                env["DRBD_PEER_ADDRESS"] = addr_of(p.paths[0][1])[0]
            return env
        if p.paths:
            for prefix, a in (("DRBD_MY_", p.paths[0][0]), ("DRBD_PEER_", p.paths[0][1])):
                env[prefix + "ADDRESS"] = addr_of(a)[0]
                env[prefix + "AF"] = a.split(":", 1)[0]
        env["DRBD_PEER_NODE_ID"] = str(p.node_id)
        env["DRBD_CSTATE"] = p.cstate
        mask = -1
        for v in sorted(self.volumes.values(), key=lambda x: x.vol):
            env["DRBD_MINOR_%d" % v.vol] = str(v.minor)
            if v.fd is None:
                continue
            env["DRBD_BACKING_DEV_%d" % v.vol] = v.disk
            m = self.up_to_date_nodes(v, cmd == "fence-peer")
            if m:   # volumes up to date nowhere are ignored, as by the kernel
                mask &= m
        env["UP_TO_DATE_NODES"] = "0x%08X" % (mask & (2 ** 64 - 1))
        return env

    def run_helper(self, p, cmd, obj=None):
        """`drbdadm CMD RES` for connection p, as the kernel runs it (no lock held); the exit code.
        obj: what the helper is called for instead of the resource (8.4's device helpers: minor-N)."""
        with self.lock:
            env = self.helper_env(p, cmd)
        helper = HELPER if os.path.exists(HELPER) else "drbdadm"
        obj = obj or self.name
        log("%s: helper command: %s %s %s (%s)" % (p.name, helper, cmd, obj,
                                                  " ".join("%s=%s" % kv for kv in sorted(env.items()) if kv[0].startswith(("DRBD_", "UP_")))))
        t0 = time.monotonic()
        try:
            r = subprocess.run([helper, cmd, obj], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            rc, out = r.returncode, r.stdout
        except OSError as e:
            rc, out = -1, str(e)
        for line in out.strip().split("\n")[-40:]:
            if line:
                log("  %s: %s" % (cmd, line))
        # the kernel logs it for the connection ("drbd RES PEER: helper command: ...")
        log("%s: helper command: %s %s %s exit code %d (%.1f s)" % (p.name, helper, cmd, obj, rc, time.monotonic() - t0))
        return rc

    def try_outdate_peer(self, p, gen):
        """conn_try_outdate_peer() for one connection: run its fence-peer and
        apply the exit code to that connection's peer devices."""
        with self.lock:
            if p.cstate == "Connected":
                return
            vols = [v for v in self.volumes.values() if v.md is not None]
            if not any(v.state in ("UpToDate", "Consistent") for v in vols):
                # conn_highest_disk() < D_CONSISTENT: no data here to protect
                self.resume_io(p, "local disk not UpToDate")
                return
        rc = self.run_helper(p, "fence-peer")
        with self.lock:
            code = rc if rc >= 0 else -1
            vols = [v for v in self.volumes.values() if v.md is not None]
            if code == P_INCONSISTENT:
                why, pd = "peer is inconsistent or worse", "Inconsistent"
            elif code == P_OUTDATED:
                why, pd = "peer was fenced", "Outdated"
            elif code == P_DOWN:
                if any(v.state == "UpToDate" for v in vols):
                    why, pd = "peer is unreachable, assumed to be dead", "Outdated"
                else:
                    why, pd = "peer unreachable, doing nothing since disk != UpToDate", None
            elif code == P_PRIMARY:
                why, pd = "peer is active", None
            elif code == P_FENCING:
                if self.fencing(p) != "resource-and-stonith":
                    log("%s: fence-peer() = 7 && fencing != Stonith !!!" % p.name)
                why, pd = "peer was stonithed", "Outdated"
            else:
                log("%s: fence-peer helper broken, returned %d" % (p.name, code))
                return   # I/O stays frozen (resume-io or a reconnect resumes it)
            log("%s: fence-peer helper returned %d (%s)" % (p.name, code, why))
            if p.cstate == "Connected" or p.conn_gen != gen or self.peers.get(p.node_id) is not p:
                log("%s: Ignoring fence-peer exit code" % p.name)
                return
            if code == P_PRIMARY:
                log("%s: Peer is primary, outdating myself." % p.name)
                for v in vols:
                    if v.state in ("UpToDate", "Consistent"):
                        v.state = "Outdated"
                        v.md.flags["was_up_to_date"] = 0
                        self.persist(v)
                self.notify_peers()
            elif pd is not None:
                for v in vols:
                    pdv = v.pd(p.node_id)
                    if pdv.pdisk in ("DUnknown", "Consistent", "UpToDate") or (pd == "Inconsistent" and pdv.pdisk == "Outdated"):
                        pdv.pdisk = pd   # __downgrade_peer_disk_states(): only ever lower
                    if p.node_id in v.md.pflags:
                        v.md.pflags[p.node_id]["peer_outdated"] = 1
                    self.persist(v)
            # check_may_resume_io_after_fencing(): this connection's peer disks all outdated
            if p.susp_fen and all(v.pd(p.node_id).pdisk in ("Outdated", "Inconsistent") for v in vols):
                self.resume_io(p, "peer fenced")

    def resume_io(self, p, why):
        """Clear one connection's susp_fen; I/O runs again once no connection has it."""
        if p.susp_fen:
            p.susp_fen = False
            log("%s: resuming I/O (%s)%s" % (p.name, why, ", still frozen by another connection" if self.suspended() else ""))
            self.resumed.notify_all()

    def wait_resumed(self):
        with self.lock:
            while self.suspended():
                self.resumed.wait()

    def check_unfence(self):
        """drbd_should_unfence(), for every connection after a state change:
        each volume UpToDate here and at that peer, and some of that peer's
        disks were not UpToDate at the previous check: unfence-peer for it.
        (8.4 has no unfence-peer: its SyncTarget runs after-resync-target.)"""
        if self.v84:
            return
        for pid, p in sorted(self.peers.items()):
            pds = [v.pd(pid) for _, v in sorted(self.volumes.items())]
            was = [pd.pdisk_seen for pd in pds]
            for pd in pds:
                pd.pdisk_seen = pd.pdisk
            if self.fencing(p) == "dont-care" or not pds:
                continue
            if any(v.state != "UpToDate" or v.pd(pid).pdisk != "UpToDate" or v.pd(pid).rs_expect
                   for v in self.volumes.values()):
                continue
            if all(w == "UpToDate" for w in was):
                continue
            threading.Thread(target=self.run_helper, args=(p, "unfence-peer"), daemon=True).start()

    def snapshot(self):
        with self.lock:
            vols = [v for _, v in sorted(self.volumes.items())]
            return dict(
                name=self.name, node_id=self.node_id, role=self.role, opts=self.opts,
                suspended="fencing" if self.suspended() else "no",
                volumes=[v.snapshot() for v in vols],
                peers=[dict(node_id=p.node_id, name=p.name, cstate=p.cstate,
                            role=p.role if p.cstate == "Connected" else "Unknown",
                            net_opts=p.net_opts, paths=p.paths, established=p.established,
                            devices=[v.pd(p.node_id).snapshot(v.vol) for v in vols])
                       for _, p in sorted(self.peers.items())])

    def persist(self, v):
        if v.md is None:
            return
        v.md.flags["primary"] = 1 if self.role == "Primary" else 0
        for pid, p in self.peers.items():
            if pid in v.md.pflags:
                v.md.pflags[pid]["peer_connected"] = 1 if p.cstate == "Connected" else 0
        v.md.save()

    # ------------------------------------------------------------ I/O
    def io_read(self, v, size, offset):
        if self.suspended():
            self.wait_resumed()
        if self.role != "Primary" or v.fd is None or v.state not in ("UpToDate",):
            raise fusepy.FuseOSError(errno.EIO)
        size = max(0, min(size, v.size() - offset))
        data = os.pread(v.fd, size, offset)
        v.read_b += len(data)
        return data

    def io_write(self, v, data, offset):
        if self.suspended():
            self.wait_resumed()
        if self.role != "Primary" or v.fd is None or v.state != "UpToDate":
            raise fusepy.FuseOSError(errno.EIO)
        if offset + len(data) > v.size():
            raise fusepy.FuseOSError(errno.ENOSPC)
        droppers = []
        with v.io_lock:
            os.pwrite(v.fd, data, offset)
            v.written_b += len(data)
            for pid, p in sorted(self.peers.items()):
                pd = v.pd(pid)
                c = p.conn
                if c is not None and pd.repl in ("Established", "SyncSource", "PausedSyncS") and pd.pdisk != "Diskless":
                    # protocol C: complete only once every connected peer has it
                    if c.request({"t": "w", "vol": v.vol, "off": offset, "n": len(data)}, data):
                        pd.sent_b += len(data)
                    else:
                        pd.oos += len(data)
                        t = threading.Thread(target=self.drop, args=(c, "write not acknowledged"), daemon=True)
                        t.start()
                        droppers.append(t)
                else:
                    pd.oos += len(data)
        if droppers:
            # the write lost a peer: with resource-and-stonith on that connection it
            # completes only once fence-peer has outdated the peer (I/O frozen until then)
            for t in droppers:
                t.join(5)
            if self.suspended():
                self.wait_resumed()
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
        if v is None or peer not in self.peers:
            raise CmdError(10, "%s: No such peer device" % self.name)
        if v.md is None:
            raise CmdError(1, "Device has no disk")
        return v.md.gi(peer)

    def c_new_peer(self, args, opts):
        pid = int(args[1])
        name = opts.get("_name", "peer-%d" % pid).strip('"')
        if pid in self.peers:
            self.peers[pid].net_opts.update(opts)
            return
        self.peers[pid] = Peer(pid, name, opts)
        for v in self.volumes.values():
            if v.md is not None:
                v.md.add_peer(pid)

    def c_net_options(self, args, opts):
        self.peer_of(args).net_opts.update(opts)

    def c_new_path(self, args, opts):
        p = self.peer_of(args)
        path = (args[2], args[3])
        if path not in p.paths:
            p.paths.append(path)

    def c_del_path(self, args, opts):
        p = self.peer_of(args)
        p.paths = [x for x in p.paths if x != (args[2], args[3])]

    def c_del_peer(self, args, opts):
        p = self.peer_of(args)
        self.disconnect_peer(p)
        self.resume_io(p, "connection deleted")
        del self.peers[p.node_id]
        for v in self.volumes.values():
            v.pds.pop(p.node_id, None)
        # its bitmap slot stays taken (v.slots) until forget-peer, as in DRBD 9

    def c_forget_peer(self, args, opts):
        """drbd_adm_forget_peer(): a peer that is no longer configured (del-peer
        first) loses its bitmap slot and its generation identifiers in the meta
        data of every attached volume."""
        try:
            pid = int(args[1])
        except (IndexError, ValueError):
            raise CmdError(20, "forget-peer: expected RESOURCE PEER_NODE_ID")
        if pid in self.peers:
            raise CmdError(10, "%s: Failure: (125) Device has a net-config (use disconnect first)" % self.name)
        for v in self.volumes.values():
            v.slots.discard(pid)
            if v.md is not None and pid in v.md.peer_ids and pid != self.node_id:
                v.md.bitmap[pid] = 0
                v.md.pflags[pid] = dict.fromkeys(MetaData.PEER_FLAGS, 0)
                v.md.save()   # the slot's bitmap UUID and peer flags zeroed on disk
                v.md.peer_ids.remove(pid)
                del v.md.bitmap[pid], v.md.pflags[pid]
        log("forgot peer node-id %d" % pid)

    @staticmethod
    def set_options(current, opts):
        """--set-defaults (what drbdadm adjust passes): every option not given goes back to its default."""
        given = {k: v for k, v in opts.items() if k != "set-defaults"}
        if opts.get("set-defaults"):
            current.clear()
        current.update(given)

    def c_peer_device_options(self, args, opts):
        p = self.peer_of(args)
        vol = int(args[2]) if len(args) > 2 else 0
        if vol in self.volumes:
            self.set_options(self.volumes[vol].pd(p.node_id).opts, opts)

    def c_disk_options(self, args, opts):
        self.set_options(self.vol_by_minor(int(args[0])).opts, opts)

    def c_attach(self, args, opts):
        v = self.vol_by_minor(int(args[0]))
        if v.fd is not None:
            raise CmdError(10, "%d: Failure: (124) Device is attached to a disk (use detach first)" % v.minor)
        disk, meta, idx = args[1], args[2], args[3] if len(args) > 3 else "internal"
        if meta != disk or idx not in ("internal", "flexible"):
            raise CmdError(20, "only internal meta data is emulated by the test bed's DRBD stand-in")
        md = (MetaData84 if self.v84 else MetaData)(disk, self.md_peer_ids()).load()
        # DRBD 9 (drbd_nl.c, drbd_adm_attach): every peer with a disk needs a
        # bitmap slot in the meta data; create-md made max-peers of them.
        # (The stand-in gives the configured peers the slots; the kernel keeps
        # a slot's owner in the meta data until forget-peer.)
        needed = len(self.peers)
        if needed > md.max_peers:
            log("Not enough free bitmap slots (available=%d, needed=%d)" % (md.max_peers, needed))
            raise CmdError(10, "%d: Failure: (162) Invalid configuration request\n"
                               "additional info from kernel:\n"
                               "Not enough free bitmap slots (available=%d, needed=%d)" % (v.minor, md.max_peers, needed))
        v.slots = set(self.peers)
        size = md.data_size()
        v.fd = os.open(disk, os.O_RDWR)
        v.disk, v.meta_disk, v.md, v.data_size = disk, "internal", md, size
        v.opts.update(opts)
        v.state = md.disk_state()
        if self.v84:
            # 8.4's drbd_adm_attach(): Consistent (was up to date) is UpToDate when the peer
            # is known outdated or fencing is dont-care; the peer-outdated flag shows as pdsk
            pflag = any(f["peer_outdated"] for f in md.pflags.values())
            if v.state == "Consistent" and self.fencing(None) == "dont-care":
                v.state = "UpToDate"
            if pflag:
                v.pd(PEER84).pdisk = "Outdated"
        md.flags["al_clean"] = 1
        for f in md.pflags.values():
            f["peer_seen"] = 1
        self.persist(v)
        self.resize_device(v)
        self.notify_peers()
        for p in self.connected():   # attached while connected: negotiate again (no fencing: not a loss)
            threading.Thread(target=self.drop_gracefully, args=(p.conn, "re-negotiate after attach"), daemon=True).start()

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
        v.slots = set()
        self.resize_device(v)
        self.notify_peers()

    def c_connect(self, args, opts):
        p = self.peer_of(args)
        if not p.paths:
            raise CmdError(10, "%s: Failure: (126) Unknown connection or no path" % self.name)
        for v in self.volumes.values():
            # drbd_adm_connect: a peer without a bitmap slot gets one now, if one is free
            if v.md is not None and p.node_id not in v.slots:
                if len(v.slots) >= v.md.max_peers:
                    log("Not enough free bitmap slots")
                    raise CmdError(10, "%s: Failure: (162) Invalid configuration request" % self.name)
                v.slots.add(p.node_id)
        if p.want_connect:
            return
        p.want_connect = True
        p.cstate = "Connecting"
        local = p.paths[0][0]
        if local not in self.listeners:
            self.listeners[local] = None
            threading.Thread(target=self.listen_loop, args=(local,), daemon=True).start()
        # DRBD 9: the lower node-id connects; 8.4 (no node ids): here the lower address
        first = addr_of(p.paths[0][0]) < addr_of(p.paths[0][1]) if self.v84 else self.node_id < p.node_id
        if first:
            threading.Thread(target=self.connect_loop, args=(p,), daemon=True).start()

    # 8.4's connection commands name the connection by its two addresses and
    # configure it in one go (drbd_adm_connect, 8.4: the net options with the
    # addresses; `disconnect` removes them again: StandAlone, unconfigured)
    def c_connect84(self, args, opts):
        p = self.peers[PEER84]
        if p.paths:
            raise CmdError(10, "%s: Failure: (125) Device has a net-config (use disconnect first)" % self.name)
        p.paths = [(args[1], args[2])]
        p.net_opts = dict(opts)
        self.c_connect([self.name, str(PEER84)], {})

    def c_disconnect84(self, args, opts):
        p = self.peers[PEER84]
        if not p.paths:
            raise CmdError(11, "%s: State change failed: (-9) Can not disconnect a StandAlone device" % self.name)
        self.disconnect_peer(p)
        self.resume_io(p, "disconnected")
        p.paths, p.net_opts = [], {}

    def c_net_options84(self, args, opts):
        p = self.peers[PEER84]
        if not p.paths:
            raise CmdError(10, "%s: Failure: (102) Have no net/connection configuration" % self.name)
        self.set_options(p.net_opts, opts)

    def disconnect_peer(self, p):
        p.want_connect = False
        c = p.conn
        if c is not None:   # an administrative disconnect: the peer does not fence
            self.drop_gracefully(c, "disconnect")
        p.cstate = "StandAlone"
        for local in list(self.listeners):
            if not any(q.want_connect and q.paths and q.paths[0][0] == local for q in self.peers.values()):
                ls = self.listeners.pop(local)
                if ls is not None:
                    try:
                        ls.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    ls.close()

    def c_disconnect(self, args, opts):
        peers = [self.peer_of(args)] if len(args) > 1 else list(self.peers.values())
        for p in peers:
            self.disconnect_peer(p)

    def c_primary(self, args, opts):
        force = bool(opts.get("force") or opts.get("overwrite-data-of-peer"))
        if self.role == "Primary":
            return
        connected = self.connected()
        for p in connected:
            if p.role == "Primary" and p.net_opts.get("allow-two-primaries", "no") not in ("yes", "true"):
                raise CmdError(11, "%s: State change failed: (-10) Multiple primaries not allowed by config" % self.name)
        vols = list(self.volumes.values())
        for v in vols:
            ok = v.state == "UpToDate" or (v.state == "Consistent" and not connected)
            if v.fd is None and not any(v.pd(p.node_id).pdisk == "UpToDate" for p in connected):
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
            behind = [pid for pid, p in self.peers.items() if p.cstate != "Connected" or v.pd(pid).pdisk != "UpToDate"]
            if forced or not connected:
                md.rotate(new_uuid(), behind)
            for pid in behind:
                if pid in md.pflags:
                    md.pflags[pid]["peer_outdated"] = 1
            self.persist(v)
            try:
                fcntl.ioctl(v.loop_fd, BLKFLSBUF)
            except OSError:
                pass
            if forced:
                for p in connected:
                    if v.pd(p.node_id).pdisk != "Diskless":
                        self.start_resync(p.conn, v)
        self.notify_peers()

    def c_secondary(self, args, opts):
        if self.role != "Primary":
            return
        for v in self.volumes.values():
            if self.held_open(v):
                raise CmdError(11, "%s: State change failed: (-12) Device is held open by someone" % self.name)
        self.role = "Secondary"
        for v in self.volumes.values():
            self.persist(v)
        self.notify_peers()

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
            self.notify_peers()

    def c_new_current_uuid(self, args, opts):
        v = self.vol_by_minor(int(args[0]))
        if v.fd is None:
            raise CmdError(10, "%d: Failure: (138) Device does not have a disk" % v.minor)
        clear = bool(opts.get("clear-bitmap"))
        connected = self.connected()
        v.md.rotate(new_uuid(), [pid for pid in self.peers if pid not in [p.node_id for p in connected]])
        if clear:
            # "skip the initial sync": both sides become UpToDate with this UUID
            v.state = "UpToDate"
            v.md.flags["consistent"] = v.md.flags["was_up_to_date"] = 1
            for p in connected:
                p.conn.send({"t": "adopt", "vol": v.vol, "gi": v.md.wire(p.node_id)})
                v.pd(p.node_id).pdisk = "UpToDate"
        self.persist(v)
        if clear:
            self.check_unfence()
        self.notify_peers()

    # ------------------------------------------------------------ resize
    @staticmethod
    def backing_bytes(v):
        buf = fcntl.ioctl(v.fd, BLKGETSIZE64, b"\0" * 8)
        return struct.unpack("Q", buf)[0]

    def local_max(self, v):
        """drbd_local_max_size(): the data area the backing device allows now."""
        return v.md.max_data_size(self.backing_bytes(v))

    def commit_size(self, v, size, tid):
        """drbd_commit_size_change() / drbd_determine_dev_size() on one node:
        the meta data moved to the backing device's end (its layout follows
        the device's size), the effective size persisted, the device's
        capacity changed. I/O waits meanwhile (drbd_suspend_io)."""
        old = v.data_size
        if size == old:
            return
        with v.io_lock:
            md_moved = v.md.max_data_size(self.backing_bytes(v)) != v.md.bm_offset
            log("persisting effective size = %d KB" % (size // 1024))
            log("Writing the whole bitmap, %s" % ("size changed and md moved" if md_moved else "size changed"))
            v.md.move(size)
            v.data_size = size
        self.resize_device(v)
        log("size change %s: %d KB -> %d KB" % (tid, old // 1024, size // 1024))

    def c_resize(self, args, opts):
        """drbd_adm_resize() as DRBD 9.2 does it with peers that support a
        cluster-wide resize (change_cluster_wide_device_size): the new size
        is the smallest that every node's backing device allows (each
        connected peer answers with its own; a peer that holds a bitmap slot
        but is not connected makes it fall back to the size last agreed,
        unless --assume-peer-has-space), capped by --size; committed on
        every connected node; the new area is then resynced from the
        Primary (from this node when none is Primary), unless
        --assume-clean."""
        v = self.vol_by_minor(int(args[0]))
        if v.fd is None:
            raise CmdError(10, "%d: Failure: (138) Device does not have a disk-config" % v.minor)
        if any(pd.repl not in ("Off", "Established") for pd in v.pds.values()):
            raise CmdError(10, "%d: Failure: (130) Resize not allowed during resync." % v.minor)
        local = self.local_max(v)
        user = parse_size(opts["size"], "s") if opts.get("size") not in (None, True) else 0
        if user and local < user:
            log("requested %d sectors, backend seems only able to support %d" % (user // 512, local // 512))
            raise CmdError(10, "%d: Failure: (111) Low.dev. smaller than requested DRBD-dev. size." % v.minor)
        tid = "%08x" % random.getrandbits(32)
        log("Preparing cluster-wide size change %s (local_max_size = %d KB, user_cap = %d KB)" % (tid, local // 1024, user // 1024))
        reach = [p for p in self.connected() if v.pd(p.node_id).pdisk != "Diskless"]
        unreachable = [pid for pid in v.slots if pid not in [p.node_id for p in reach]]
        # the peers answer over the network: not under the resource's lock
        # (their answer may follow a state frame whose handler needs it)
        self.lock.release()
        try:
            answers = [(p, p.conn.query({"t": "rsz_prep", "vol": v.vol})) for p in reach]
        finally:
            self.lock.acquire()
        sizes = [local]
        for p, a in answers:
            if a is None or a.get("max") is None:
                log("Aborting cluster-wide size change %s: no answer from %s" % (tid, p.name))
                raise CmdError(11, "%s: State change failed: (-19) Interrupted state change" % self.name)
            sizes.append(a["max"])
        size = min(sizes)
        if unreachable and not opts.get("assume-peer-has-space"):
            # drbd_new_dev_size(): not all peers known: what was last agreed
            size = min(size, v.data_size)
        elif unreachable and size > v.data_size:
            log("Resize forced while not fully connected!")
        if user and user > size:
            log("Requested disk size is too big (%d > %d)kiB" % (user // 1024, size // 1024))
        elif user:
            size = user
        if size == v.data_size:
            log("Aborting cluster-wide size change %s size unchanged" % tid)
            return ""
        log("Committing cluster-wide size change %s" % tid)
        old = v.data_size
        self.lock.release()
        try:
            for p, _ in answers:
                if p.conn is None or p.conn.query({"t": "rsz_commit", "vol": v.vol, "size": size, "tid": tid,
                                                   "clean": bool(opts.get("assume-clean"))}) is None:
                    log("size change %s: %s did not confirm the commit" % (tid, p.name))
        finally:
            self.lock.acquire()
        self.commit_size(v, size, tid)
        if size > old and not opts.get("assume-clean"):
            # drbd_commit_size_change(): a Primary with a disk syncs the new
            # area to its peers; with none, the node that resized does
            primaries = self.role == "Primary" or any(p.role == "Primary" for p, _ in answers)
            if self.role == "Primary" or not primaries:
                for p, _ in answers:
                    if p.conn is not None:
                        self.start_resync(p.conn, v, start=old)
        self.notify_peers()
        return ""

    def c_resume_io(self, args, opts):
        # drbd_adm_resume_io: clears susp_fen on every connection
        for p in list(self.peers.values()):
            self.resume_io(p, "resume-io")

    def c_down(self, args, opts):
        if self.role == "Primary":
            for v in self.volumes.values():
                if self.held_open(v):
                    raise CmdError(11, "%s: State change failed: (-12) Device is held open by someone" % self.name)
            self.role = "Secondary"
            self.notify_peers()
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
    # ------------------------------------------------------------ network
    def hello(self):
        return {"t": "hello", "res": self.name, "node_id": self.node_id, "role": self.role,
                "vols": {str(v.vol): {"state": v.state, "size": v.data_size,
                                      "gi": v.md.wires() if v.md else None}
                         for v in self.volumes.values()}}

    def notify_peers(self):
        msg = {"t": "state", "role": self.role, "vols": {str(v.vol): v.state for v in self.volumes.values()}}
        for p in list(self.peers.values()):
            c = p.conn
            if c is None:
                continue
            try:
                c.send(msg)
            except OSError:
                pass

    def listen_loop(self, local_path):
        local = addr_of(local_path)
        ls = None
        while local_path in self.listeners and not self.stopping:
            try:
                ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                ls.bind(local)
                ls.listen(8)
                break
            except OSError as e:
                ls.close()
                ls = None
                log("listen on %s:%d: %s" % (local + (e,)))
                time.sleep(1)
        with self.lock:
            if ls is None:
                return
            if local_path not in self.listeners:
                ls.close()
                return
            self.listeners[local_path] = ls
        while self.listeners.get(local_path) is ls:
            try:
                s, _ = ls.accept()
            except OSError:
                break
            threading.Thread(target=self.handshake, args=(s, None), daemon=True).start()

    def connect_loop(self, p):
        local, remote = addr_of(p.paths[0][0]), addr_of(p.paths[0][1])
        while p.want_connect and not self.stopping and self.peers.get(p.node_id) is p:
            if p.conn is None:
                try:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.bind((local[0], 0))
                    s.settimeout(1.0)
                    s.connect(remote)
                    self.handshake(s, p)
                except OSError:
                    pass
            time.sleep(0.5)

    def handshake(self, s, expected):
        """Both sides send a hello and read the other's; the listening side
        learns from it which of its peers connected (one listener per local
        address serves all the connections on it, as in DRBD 9)."""
        try:
            s.settimeout(3.0)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                mine = self.hello()
            data = json.dumps(mine).encode()
            s.sendall(struct.pack("!I", len(data)) + data)
            hdr, _ = recv_frame(s)
            p = self.peers.get(PEER84 if self.v84 else hdr.get("node_id")) if hdr.get("t") == "hello" and hdr.get("res") == self.name else None
            if p is None or (expected is not None and p is not expected):
                s.close()
                return
            s.settimeout(None)
        except (OSError, ValueError, ConnectionError):
            s.close()
            return
        with self.lock:
            if p.conn is not None or not p.want_connect:
                s.close()
                return
            c = Conn(self, p, s, hdr)
            p.conn = c
            p.cstate = "Connected"
            p.established = True
            p.role = hdr["role"]
            p.conn_gen += 1
            log("connected to %s (node-id %d)" % (p.name, p.node_id))
            self.resume_io(p, "connected again")
            if self.v84:
                # 8.4's __drbd_set_state(): MDF_CONNECTED_IND from C_WF_REPORT_PARAMS on
                for v in self.volumes.values():
                    self.persist(v)
            sb = self.negotiate(c, hdr)
            if not sb:
                self.check_unfence()
        threading.Thread(target=self.reader, args=(c,), daemon=True).start()
        threading.Thread(target=self.pinger, args=(c,), daemon=True).start()
        threading.Thread(target=self.watchdog, args=(c,), daemon=True).start()
        if sb:
            if sb == "split-brain":
                log("Split-Brain detected, dropping connection!")
            self.drop(c, sb, graceful=True)
            with self.lock:
                self.disconnect_peer(p)
        else:
            self.notify_peers()

    def negotiate(self, c, peer):
        """Decide per volume who syncs whom with this peer (the same on both
        sides: the decision depends only on the two hellos). "split-brain" or
        "size" (the peer's disk is too small) when the connection must end."""
        sb = None
        pid = c.peer.node_id
        for v in self.volumes.values():
            pv = peer["vols"].get(str(v.vol))
            if pv is None:
                continue
            pd = v.pd(pid)
            pd.peer_size = pv["size"] or None
            pd.pdisk = pv["state"]
            pd.repl = "Established"
            if v.fd is None or pv["gi"] is None:
                continue
            if pd.peer_size and pd.peer_size < v.size() and v.state in ("UpToDate", "Consistent", "Outdated"):
                # receive_sizes(): never shrink a device with usable data on connect
                log("The peer's disk size is too small! (%d < %d sectors)" % (pd.peer_size // 512, v.size() // 512))
                return "size"
            theirs = pv["gi"].get(str(self.node_id)) or next(iter(pv["gi"].values()), None)
            if theirs is None:
                continue
            me = {"state": v.state, "gi": v.md.wire(pid), "primary": self.role == "Primary"}
            other = {"state": pv["state"], "gi": theirs, "primary": peer["role"] == "Primary"}
            verdict = decide(me, other)
            if verdict == "split-brain":
                sb = "split-brain"
            elif verdict == "equal":
                if v.state in ("UpToDate", "Consistent") and pv["state"] in ("UpToDate", "Consistent"):
                    v.state = pd.pdisk = "UpToDate"
                    if pid in v.md.pflags:
                        v.md.pflags[pid]["peer_outdated"] = 0
                    self.persist(v)
            elif verdict == "source":
                self.start_resync(c, v)
            elif verdict == "target":   # the peer starts the resync and tells us
                pd.rs_expect = True
        return sb

    def start_resync(self, c, v, start=0):
        """A resync of the data area from `start` on (0: all of it, as every
        resync here, there being no bitmap; after an online grow, the new
        area only: the bits DRBD sets for it)."""
        pd = v.pd(c.peer.node_id)
        pd.repl = "SyncSource"
        pd.pdisk = "Inconsistent"
        pd.rs_total, pd.rs_done = v.size() - start, 0
        threading.Thread(target=self.resync, args=(c, v, pd, start), daemon=True).start()

    def resync(self, c, v, pd, start=0):
        """Full resync (no bitmap): the whole data area, chunk by chunk, each
        chunk read and acked under the volume's I/O lock so that application
        writes and resync data cannot overtake each other."""
        # DRBD 9 keeps the rate per peer device (peer-device-options, what `drbdadm
        # peer-device-options --resync-rate=R` changes at run time); the disk's is the default
        conf = pd.opts.get("resync-rate") or v.opts.get("resync-rate")
        rate = parse_size(conf) if conf else DEFAULT_RATE
        total = pd.rs_total
        p = c.peer
        try:
            c.send({"t": "rs_begin", "vol": v.vol, "total": total, "start": start})
        except OSError:
            return
        t0, off = time.monotonic(), 0
        pd.rs_paused, pd.rs_next = False, None
        pd.rs_wake.clear()
        while off < total:
            if p.conn is not c or not c.alive or v.fd is None:
                return
            if pd.rs_paused:
                pd.rs_wake.wait(1.0)
                with self.lock:
                    what, pd.rs_next = pd.rs_next, None
                    pd.rs_wake.clear()
                    if what == "cancel":   # the peer synced from another node: nothing left to send
                        pd.rs_paused = False
                        pd.repl, pd.pdisk = "Established", "UpToDate"
                        pd.rs_total = pd.rs_done = 0
                        log("resync of volume %d to %s not needed: it synced from another node" % (v.vol, p.name))
                        self.check_unfence()
                        return
                    if what != "restart":
                        continue
                    pd.rs_paused = False
                    pd.repl = "SyncSource"
                    log("resync of volume %d to %s resumed from the start" % (v.vol, p.name))
                try:
                    c.send({"t": "rs_begin", "vol": v.vol, "total": total})
                except OSError:
                    return
                t0, off = time.monotonic(), 0
                pd.rs_done = 0
                continue
            n = min(CHUNK, total - off)
            with v.io_lock:
                data = os.pread(v.fd, n, start + off)
                if not c.request({"t": "rs", "vol": v.vol, "off": start + off, "n": n}, data):
                    return
            off += n
            pd.rs_done = off
            pd.sent_b += n
            ahead = off / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        with self.lock:
            if p.conn is not c:
                return
            try:
                c.send({"t": "rs_end", "vol": v.vol, "gi": v.md.wire(p.node_id)})
            except OSError:
                return
            pd.repl, pd.pdisk = "Established", "UpToDate"
            pd.rs_total = pd.rs_done = 0
            pd.oos = 0
            if p.node_id in v.md.pflags:
                v.md.pflags[p.node_id]["peer_outdated"] = 0
            v.md.bitmap[p.node_id] = 0
            self.persist(v)
            log("resync of volume %d to %s done (%d bytes%s)" % (v.vol, p.name, total, " from offset %d" % start if start else ""))
            self.check_unfence()

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
        pid = c.peer.node_id
        if t == "ping":
            c.send({"t": "pong"})
        elif t == "pong":
            pass
        elif t == "ack":
            c.ack(hdr["id"], hdr.get("ok", True), hdr)
        elif t == "rsz_prep":
            # P_TWOPC_PREP_RSZ: what this node's backing device allows
            v = self.volumes.get(hdr["vol"])
            with self.lock:
                mx = self.local_max(v) if v is not None and v.md is not None else None
            c.send({"t": "ack", "id": hdr["id"], "ok": mx is not None, "max": mx})
        elif t == "rsz_commit":
            # P_TWOPC_COMMIT of a size change: drbd_commit_size_change()
            v = self.volumes.get(hdr["vol"])
            with self.lock:
                if v is not None and v.md is not None:
                    old = v.data_size
                    self.commit_size(v, hdr["size"], hdr["tid"])
                    if self.role == "Primary" and hdr["size"] > old and not hdr.get("clean"):
                        for p in self.connected():   # the Primary syncs the new area to its peers
                            if v.pd(p.node_id).pdisk != "Diskless":
                                self.start_resync(p.conn, v, start=old)
            c.send({"t": "ack", "id": hdr["id"], "ok": True})
        elif t in ("w", "rs"):
            v = self.volumes.get(hdr["vol"])
            ok = v is not None and v.fd is not None
            if ok and t == "rs" and v.pd(pid).repl == "PausedSyncT":
                pass   # this source waits its turn: its data is not written
            elif ok:
                self.write_replicated(v, t, payload, hdr["off"])
                pd = v.pd(pid)
                pd.received_b += len(payload)
                if t == "rs":
                    pd.rs_done = hdr["off"] + len(payload) - pd.rs_start
            c.send({"t": "ack", "id": hdr["id"], "ok": ok})
        elif t == "rs_begin":
            v = self.volumes.get(hdr["vol"])
            with self.lock:
                pd = v.pd(pid)
                if any(q != pid and x.repl == "SyncTarget" for q, x in v.pds.items()):
                    # already syncing from another node: this one waits (PausedSyncT)
                    pd.repl, pd.pdisk, pd.rs_expect = "PausedSyncT", "UpToDate", False
                    pd.rs_total, pd.rs_done = hdr["total"], 0
                    log("resync of volume %d from %s paused: syncing from another node" % (v.vol, c.peer.name))
                    c.send({"t": "rs_pause", "vol": v.vol})
                    return
                pd.repl, pd.pdisk = "SyncTarget", "UpToDate"
                v.state = "Inconsistent"
                pd.rs_expect = False
                pd.rs_total, pd.rs_done, pd.rs_start = hdr["total"], 0, hdr.get("start", 0)
                v.md.flags["consistent"] = v.md.flags["was_up_to_date"] = 0
                self.persist(v)
            self.notify_peers()
        elif t in ("rs_end", "adopt"):
            v = self.volumes.get(hdr["vol"])
            with self.lock:
                gi = hdr["gi"]
                v.md.current, v.md.history = gi["current"], gi["history"]
                v.md.bitmap[pid] = 0
                v.md.flags["consistent"] = v.md.flags["was_up_to_date"] = 1
                if pid in v.md.pflags:
                    v.md.pflags[pid]["peer_outdated"] = 0
                pd = v.pd(pid)
                v.state, pd.repl, pd.pdisk = "UpToDate", "Established", "UpToDate"
                pd.rs_total = pd.rs_done = 0
                v.rs_written.clear()
                self.persist(v)
                # the sources that waited their turn have nothing left to send
                # when they hold this generation (they check: "rs_cancel")
                for q, x in sorted(v.pds.items()):
                    qc = self.peers[q].conn if q in self.peers else None
                    if x.repl == "PausedSyncT" and qc is not None:
                        x.repl, x.rs_total, x.rs_done = "Established", 0, 0
                        try:
                            qc.send({"t": "rs_cancel", "vol": v.vol, "current": v.md.current})
                        except OSError:
                            pass
                self.check_unfence()
                if self.v84 and t == "rs_end":
                    # 8.4's drbd_resync_finished() on the SyncTarget: the after-resync-target
                    # handler (crm-unfence-peer.sh in 8.4 configurations), for the device
                    threading.Thread(target=self.run_helper, args=(c.peer, "after-resync-target", "minor-%d" % v.minor),
                                     daemon=True).start()
            self.notify_peers()
        elif t == "rs_pause":
            with self.lock:
                pd = self.volumes[hdr["vol"]].pd(pid)
                pd.rs_paused, pd.repl = True, "PausedSyncS"
                log("resync of volume %d to %s paused: it syncs from another node" % (hdr["vol"], c.peer.name))
        elif t in ("rs_restart", "rs_cancel"):
            with self.lock:
                v = self.volumes[hdr["vol"]]
                pd = v.pd(pid)
                same = t == "rs_cancel" and v.md is not None and v.md.current == hdr["current"]
                pd.rs_next = "cancel" if same else "restart"
                pd.rs_wake.set()
        elif t == "uuid":
            # the Primary started a new data generation (it lost a peer): so do we
            v = self.volumes.get(hdr["vol"])
            with self.lock:
                if v is not None and v.md is not None and v.state == "UpToDate":
                    v.md.rotate(hdr["current"], [x for x in hdr.get("behind", []) if x != self.node_id])
                    self.persist(v)
        elif t == "state":
            with self.lock:
                c.peer.role = hdr["role"]
                for vol, st in hdr["vols"].items():
                    v = self.volumes.get(int(vol))
                    if v is not None:
                        pd = v.pd(pid)
                        if pd.repl != "SyncSource":
                            pd.pdisk = st
                if c.peer.conn is c:
                    self.check_unfence()
        elif t == "bye":
            c.bye = True   # the peer disconnects administratively: no fencing

    # DRBD sends pings and acks on a meta socket of their own, so a peer that
    # vanishes is noticed even while a data send is stuck on a full socket
    # buffer. Here one socket carries both: the ping may wait behind data, so
    # the timeout is watched by a thread that never sends.
    def pinger(self, c):
        while c.alive:
            time.sleep(PING_INT)
            try:
                c.send({"t": "ping"})
            except OSError as e:
                self.drop(c, "send: %s" % e)
                return

    def watchdog(self, c):
        while c.alive:
            time.sleep(PING_INT / 4)
            if time.monotonic() - c.last_rx > PING_TIMEOUT:
                self.drop(c, "PingAck did not arrive in time")
                return

    @staticmethod
    def write_replicated(v, t, data, off):
        """A peer's application write ("w") or resync data ("rs") to the backing
        device; while resyncing, resync data skips the sectors an application
        write already reached (the source may have read them before that write)."""
        first, end = off // 512, (off + len(data) + 511) // 512
        if t == "w":
            if any(x.repl in ("SyncTarget", "PausedSyncT") for x in v.pds.values()):
                v.rs_written.update(range(first, end))
            os.pwrite(v.fd, data, off)
        elif not v.rs_written.intersection(range(first, end)):
            os.pwrite(v.fd, data, off)
        else:
            for s in range(first, end):
                if s not in v.rs_written:
                    a, b = max(off, s * 512), min(off + len(data), (s + 1) * 512)
                    os.pwrite(v.fd, data[a - off:b - off], a)

    def restart_paused(self, v):
        """The source of this node's resync is gone: a source that waited its turn
        (PausedSyncT here) starts over; True if one does. Called with the
        resource lock held."""
        for q, x in sorted(v.pds.items()):
            qc = self.peers[q].conn if q in self.peers else None
            if x.repl == "PausedSyncT" and qc is not None:
                log("resync of volume %d: %s takes over as the source" % (v.vol, self.peers[q].name))
                try:
                    qc.send({"t": "rs_restart", "vol": v.vol})
                except OSError:
                    continue
                return True
        return False

    def drop_gracefully(self, c, why):
        """An administrative disconnect: a goodbye frame first, so that neither side fences.
        Never blocking (the caller holds the resource lock): not while another thread's
        send is stuck on a silent peer, nor on a full socket buffer."""
        if c.send_lock.acquire(timeout=1.0):
            try:
                data = json.dumps({"t": "bye"}).encode()
                c.sock.send(struct.pack("!I", len(data)) + data, socket.MSG_DONTWAIT)
            except OSError:
                pass
            finally:
                c.send_lock.release()
        self.drop(c, why, graceful=True)

    def drop(self, c, why, graceful=False):
        # the socket first, outside the resource lock: a thread blocked sending on
        # it (possibly holding that lock) gets an error and lets go
        with c.why_lock:   # the first caller's reason and kind of drop count
            if c.why is None:
                c.why, c.graceful = why, graceful
        try:
            c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if not self.lock.acquire(timeout=2.0):
            # says in the journal that the loss was seen, and by whom it is held up
            # (`systemctl kill -s USR1` then shows every thread's stack)
            log("connection to %s lost: %s; waiting for the resource lock" % (c.peer.name, c.why))
            self.lock.acquire()
        try:
            if not c.alive:
                return
            c.alive = False
            c.sock.close()
            c.fail_all()
            p = c.peer
            if p.conn is not c:
                return
            log("connection to %s lost: %s" % (p.name, c.why))
            p.conn = None
            p.established = False
            p.cstate = "Connecting" if p.want_connect else "StandAlone"
            p.role = "Unknown"
            graceful = c.graceful or c.bye
            fencing = self.fencing(p)
            # conn_disconnect(): a Primary that lost this peer while its disk may
            # be UpToDate (not Outdated/Inconsistent; not after an administrative
            # disconnect, which outdates or detaches the peer first) runs this
            # connection's fence-peer; the other connections are not concerned
            fence = self.role == "Primary" and fencing != "dont-care" and not graceful and \
                any(v.pd(p.node_id).pdisk not in ("Outdated", "Inconsistent") for v in self.volumes.values())
            for v in self.volumes.values():
                pd = v.pd(p.node_id)
                was, was_pdisk = pd.repl, pd.pdisk
                pd.repl, pd.pdisk, pd.peer_size = "Off", "DUnknown", None
                pd.pdisk_seen, pd.rs_expect = "DUnknown", False
                pd.rs_total = pd.rs_done = 0
                if v.md is None:
                    continue
                if self.role == "Primary" and v.state == "UpToDate" and was_pdisk not in ("Inconsistent", "Outdated"):
                    # the peer had our data and no longer sees our writes: new data
                    # generation, which the peers still connected follow (not for a
                    # peer that was behind anyway, e.g. a SyncTarget or a connection
                    # lost right after its handshake decided to resync it: its bitmap
                    # UUID already says where it stands, and a new UUID per such loss
                    # pushed the one it holds out of the two history slots)
                    new = new_uuid()
                    v.md.rotate(new, [p.node_id])
                    if not fence:   # with fencing: only once fence-peer says so
                        v.md.pflags.get(p.node_id, {})["peer_outdated"] = 1
                    for q in self.connected():
                        try:
                            q.conn.send({"t": "uuid", "vol": v.vol, "current": new, "behind": [p.node_id]})
                        except OSError:
                            pass
                elif was in ("SyncSource", "PausedSyncS"):
                    v.md.pflags.get(p.node_id, {})["peer_outdated"] = 1
                if was == "SyncTarget" and not self.restart_paused(v):
                    v.rs_written.clear()   # the resync period is over
                self.persist(v)
            if fence:
                if fencing == "resource-and-stonith":
                    p.susp_fen = True
                    log("%s: suspending I/O while the fence-peer handler runs (fencing %s)" % (p.name, fencing))
                threading.Thread(target=self.try_outdate_peer, args=(p, p.conn_gen), daemon=True).start()
        finally:
            self.lock.release()


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
    try:
        os.unlink(os.path.join(RUN, res.name + ".starting"))
    except OSError:
        pass

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
    opts = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    v84 = len(sys.argv) > 4 and sys.argv[4] == "8.4"
    os.makedirs(RUN, exist_ok=True)
    # Before any FUSE mount: libfuse takes over SIGTERM/SIGHUP only while they
    # are SIG_DFL, and would then merely end its loop. A "kernel" going away
    # (system shutdown, unit stop) just vanishes; AUTOCLEAR frees the loops.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGHUP, lambda *_: os._exit(0))
    # `systemctl kill -s USR1 drbd-standin-RES`: every thread's stack to the journal
    # (what a stand-in that seems stuck is waiting for; the bed tests' diagnostics)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    res = Resource(name, node_id, v84)
    res.opts.update(opts)   # new-resource's options
    if v84:
        log("DRBD %s stand-in: resource %s (8.4: one peer, no node ids)" % (VERSION_84, name))
    else:
        log("DRBD %s stand-in: resource %s, node-id %d" % (VERSION, name, node_id))
    serve(res)


if __name__ == "__main__":
    main()
