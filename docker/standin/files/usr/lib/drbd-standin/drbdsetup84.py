"""drbdsetup-84, as the test bed's DRBD stand-in provides it in its 8.4
personality (/etc/drbd-standin/personality says 8.4).

On a DRBD 8.4 kernel, drbd-utils 9's drbdadm runs /lib/drbd/drbdadm-84, which
calls /lib/drbd/drbdsetup-84 beside it, and drbd-utils 9's drbdsetup execs
that drbdsetup-84 too. The real one talks 8.4's netlink to the kernel; this
one talks to the stand-in daemon of each resource (standin.py, started with
its 8.4 flag) and prints what drbd-utils 9.22's user/v84/drbdsetup.c prints
over an 8.4 kernel: the command lines are 8.4's (minors for the device
commands, the two addresses for the connection commands, `connect RES LOCAL
PEER` configures and connects, `disconnect LOCAL PEER` unconfigures), and so
are the outputs (events2 with `peer-node-id:0 conn-name:peer`, show with
_remote_host/_this_host, role/cstate/dstate with 8.4's state names,
get-gi/show-gi in v08's layout). Imported by drbdsetup (one file, two
personalities); `d` is that module (daemon I/O, option parsing).
"""
import os
import sys
import time

VERSION = "8.4.11"

# 8.4 commands by context (user/v84/drbdsetup.c commands[])
BY_MINOR = {"primary", "secondary", "attach", "disk-options", "detach", "resize",
            "new-current-uuid", "invalidate", "invalidate-remote", "pause-sync", "resume-sync",
            "suspend-io", "resume-io", "outdate", "verify", "role", "state", "cstate", "dstate",
            "show-gi", "get-gi", "check-resize", "wait-connect", "wait-sync", "del-minor"}
BY_ADDRESSES = {"net-options", "disconnect"}
OTHER = {"connect", "down", "sh-status", "show", "status", "events", "events2", "new-resource",
         "new-minor", "del-resource", "resource-options"}


def conn_state(p):
    """8.4's connection state (enum drbd_conns) of the resource's one connection."""
    if not p["paths"]:
        return "StandAlone"
    return "Connected" if p["cstate"] == "Connected" else "WFConnection"


def dev_conn_state(p, d):
    """8.4's per-device conn state: the connection's, or the resync state while one runs."""
    c = conn_state(p)
    if c == "Connected" and d["repl"] not in ("Off", "Established"):
        return d["repl"]
    return c


def conn_str9(s):
    """drbd_conn_str9: WFConnection reads Connecting, WFReportParams Connected."""
    return {"WFConnection": "Connecting", "WFReportParams": "Connected"}.get(s, s)


def repl_str9(p, d):
    """drbd_repl_str9 of peer_repl_state = max(C_WF_REPORT_PARAMS, the device's conn state)."""
    s = dev_conn_state(p, d)
    if s in ("StandAlone", "WFConnection", "WFReportParams"):
        return "Off"
    return "Established" if s == "Connected" else s


def the_peer(s):
    return s["peers"][0]


def peer_dev(s, vol):
    return next((d for d in the_peer(s)["devices"] if d["volume"] == vol), None)


def event_lines(s, stats):
    """`drbdsetup-84 events2 --now`: print_notifications() over 8.4's initial
    state (event_key: `peer-node-id:0` always, `conn-name:peer` only while the
    connection has addresses)."""
    res = s["name"]
    p = the_peer(s)
    cn = " conn-name:peer" if p["paths"] else ""
    line = "resource name:%s role:%s suspended:%s" % (res, s["role"], s.get("suspended", "no").replace("fencing", "fencing"))
    if stats:
        line += " write-ordering:flush"
    out = [line]
    line = "connection name:%s peer-node-id:0%s connection:%s role:%s" % (
        res, cn, conn_str9(conn_state(p)), p["role"])
    if stats:
        line += " congested:no"
    out.append(line)
    for v in s["volumes"]:
        line = "device name:%s volume:%d minor:%d disk:%s" % (res, v["volume"], v["minor"], v["disk"])
        if stats:
            line += " read:%d written:%d" % (v["read"], v["written"])
        out.append(line)
    for v in s["volumes"]:
        d = peer_dev(s, v["volume"])
        line = "peer-device name:%s peer-node-id:0%s volume:%d replication:%s peer-disk:%s resync-suspended:%s" % (
            res, cn, v["volume"], repl_str9(p, d), d["pdisk"], d.get("resync_suspended", "no"))
        if stats:
            line += " received:%d sent:%d" % (d["received"], d["sent"])
            if d["oos"]:
                line += " out-of-sync:%d" % d["oos"]
        out.append(line)
    return out


def fmt_status(s, verbose, stats):
    """`drbdsetup-84 status` (status_cmd): the DRBD 9 layout, the connection named "peer"."""
    out = []
    line = s["name"] + " role:%s" % s["role"]
    susp = s.get("suspended", "no")
    if verbose or susp != "no":
        line += " suspended:%s" % susp
    out.append(line)
    single = len(s["volumes"]) == 1
    for v in s["volumes"]:
        line = "  "
        if verbose or not (single and v["volume"] == 0):
            line += "volume:%d" % v["volume"] + (" minor:%d" % v["minor"] if verbose else "")
        line += " disk:%s" % v["disk"] if line.strip() else "disk:%s" % v["disk"]
        if stats:
            line += "\n      read:%d written:%d" % (v["read"], v["written"])
        out.append(line)
    p = the_peer(s)
    c = conn_state(p)
    line = "  peer"
    if verbose or c != "Connected":
        line += " connection:%s" % conn_str9(c)
    if verbose or c == "Connected":
        line += " role:%s" % p["role"]
    out.append(line)
    if verbose or stats or c == "Connected":
        for v in s["volumes"]:
            d = peer_dev(s, v["volume"])
            parts = []
            if verbose or not (single and v["volume"] == 0):
                parts.append("volume:%d" % v["volume"])
            r = repl_str9(p, d)
            if verbose or r not in ("Off", "Established"):
                parts.append("replication:%s" % r)
            if verbose or stats or r != "Off" or d["pdisk"] != "DUnknown":
                parts.append("peer-disk:%s" % d["pdisk"])
                if r in ("SyncSource", "SyncTarget", "PausedSyncS", "PausedSyncT") and d["rs_total"]:
                    parts.append("done:%.2f" % (100.0 * d["rs_done"] / d["rs_total"]))
            line = "    " + " ".join(parts)
            if stats:
                line += "\n        received:%d sent:%d" % (d["received"], d["sent"])
            out.append(line)
    return "\n".join(out) + "\n\n"


def sh_status(s):
    """sh_status_scmd() for each minor of the resource: shell variables, then
    `_sh_status_process` (which the agent's eval calls)."""
    out = ""
    p = the_peer(s)
    for v in s["volumes"]:
        d = peer_dev(s, v["volume"])
        out += "_minor=%d\n_res_name=%s\n_volume=%d\n" % (v["minor"], s["name"], v["volume"])
        if not p["paths"] and v["disk"] == "Diskless" and s["role"] != "Primary":
            out += ("_known=Unconfigured\n\n_cstate=Unconfigured\n_role=\n_peer=\n_disk=\n_pdsk=\n_flags_susp=\n"
                    "_flags_aftr_isp=\n_flags_peer_isp=\n_flags_user_isp=\n_resynced_percent=\n")
        else:
            pct = ""
            if d["rs_total"] and repl_str9(p, d) in ("SyncSource", "SyncTarget", "PausedSyncS", "PausedSyncT"):
                synced = int(1000 * d["rs_done"] / d["rs_total"])
                pct = "%d.%d" % (synced // 10, synced % 10)
            out += ("_known=Configured\n\n_cstate=%s\n_role=%s\n_peer=%s\n_disk=%s\n_pdsk=%s\n\n"
                    "_flags_susp=%s\n_flags_aftr_isp=\n_flags_peer_isp=%s\n_flags_user_isp=\n\n_resynced_percent=%s\n") % (
                dev_conn_state(p, d), s["role"], p["role"], v["disk"], d["pdisk"],
                "1" if s.get("suspended", "no") != "no" else "", "1" if d.get("resync_suspended") == "peer" else "", pct)
        out += "\n_sh_status_process\n\n\n"
    return out


def opts_section(opts, indent, section):
    """print_options(): `name<pad>\\tvalue;` per option set (the values as
    drbdadm-84 passed them, so that `drbdadm adjust` finds them equal)."""
    if not opts:
        return []
    pad = " " * indent
    out = [pad + section + " {"]
    for k, v in opts.items():
        if k.startswith("_") or k == "set-defaults":
            continue
        if v is True:
            v = "yes"
        v = str(v)
        if k in STRING_OPTS or not v.replace(".", "").replace("-", "").isalnum():
            v = '"%s"' % v.strip('"')
        out.append("%s    %-16s\t%s;" % (pad, k, v))
    out.append(pad + "}")
    return out


# the string fields of 8.4's option contexts (needs_double_quoting in config_flags.c)
STRING_OPTS = {"shared-secret", "cram-hmac-alg", "integrity-alg", "verify-alg", "csums-alg", "cpu-mask"}


def address(a):
    """show_address(): `ipv4 1.2.3.4:7788`."""
    af, rest = a.split(":", 1)
    return "%s %s" % (af, rest)


def fmt_show(s):
    """show_scmd() over 8.4: resource options, net options and _remote_host
    only while the connection is configured, _this_host with its address
    and the volumes (INDENT_WIDTH 4)."""
    p = the_peer(s)
    out = ["resource %s {" % s["name"]]
    out += opts_section(s["opts"], 4, "options")
    if p["paths"]:
        out += opts_section(p["net_opts"], 4, "net")
        out += ["    _remote_host {", "        address\t\t\t%s;" % address(p["paths"][0][1]), "    }"]
    out.append("    _this_host {")
    if p["paths"]:
        out.append("        address\t\t\t%s;" % address(p["paths"][0][0]))
    for v in s["volumes"]:
        out.append("        volume %d {" % v["volume"])
        out.append("            device\t\t\tminor %d;" % v["minor"])
        if v["backing_dev"]:
            out.append('            disk\t\t\t"%s";' % v["backing_dev"])
            out.append("            meta-disk\t\t\tinternal;")
        out += opts_section(v["opts"], 12, "disk")
        out.append("        }")
    out += ["    }", "}"]
    return "\n".join(out) + "\n\n"


PRETTY_GI = """
       +--<  Current data generation UUID  >-
       |               +--<  Bitmap's base data generation UUID  >-
       |               |                 +--<  younger history UUID  >-
       |               |                 |         +-<  older history  >-
       V               V                 V         V
%s
                                                                    ^ ^ ^ ^ ^ ^ ^
                                      -<  Data consistency flag  >--+ | | | | | |
                             -<  Data was/is currently up-to-date  >--+ | | | | |
                                  -<  Node was/is currently primary  >--+ | | | |
                                  -<  Node was/is currently connected  >--+ | | |
         -<  Node was in the progress of setting all bits in the bitmap  >--+ | |
                        -<  The peer's disk was out-dated or inconsistent  >--+ |
      -<  This node was a crashed primary, and has not seen its peer since   >--+

flags:%s %s, %s, %s%s%s
meta-data: %s"""


def pretty_gi(gi):
    """dt_pretty_print_uuids() (user/v84/drbdtool_common.c) of a v08 get-gi line."""
    f = [int(x) for x in gi.split(":")[4:]]
    cons, utd, pri, conn, full, pout, crashed = (f + [0] * 7)[:7]
    return PRETTY_GI % (gi, " crashed" if crashed else "", "Primary" if pri else "Secondary",
                        "Connected" if conn else "StandAlone",
                        ("UpToDate" if utd else "Outdated") if cons else "Inconsistent",
                        ", need full sync" if full else "", ", peer Outdated" if pout else "",
                        "clean")


def obj_key(line):
    """The object an events2 line is about: its type, resource and volume."""
    w = line.split()
    return " ".join([w[0], w[1]] + [x for x in w[2:] if x.startswith("volume:")])


def minor_of(x):
    """A minor as drbdsetup takes it: N, drbdN or /dev/drbdN."""
    x = str(x)
    for prefix in ("/dev/drbd", "drbd"):
        if x.startswith(prefix) and x[len(prefix):].isdigit():
            return x[len(prefix):]
    return x


def by_minor(d, minor):
    """The resource of a minor (also given as /dev/drbdN or drbdN, as the agent's
    `drbdsetup wait-connect $dev` does); 8.4's answer for an unknown one (exit 10)."""
    minor = minor_of(minor)
    if not minor.isdigit():
        # CTX_MINOR commands take a minor; drbdadm-84 always passes one
        raise d.Fail(20, "%s is not a minor number" % minor)
    try:
        return d.res_of_minor(minor)
    except d.Fail:
        raise d.Fail(10, "%s: Failure: (127) Device minor not allocated" % minor)


def by_addresses(d, local, peer):
    """The resource whose connection has these two addresses (8.4's CTX_CONNECTION)."""
    for r in d.resources():
        p = the_peer(d.snapshot(r))
        if p["paths"] and tuple(p["paths"][0]) == (local, peer):
            return r
    # 8.4's drbd_adm_prepare(DRBD_ADM_NEED_CONNECTION): no connection with these addresses
    raise d.Fail(10, "%s %s: Failure: (162) Invalid configuration request\n"
                     "additional info from kernel:\nunknown connection" % (local, peer))


def volume_of(s, minor):
    return next((v for v in s["volumes"] if v["minor"] == int(minor)), None)


def main(d, argv):
    if argv and argv[0] in ("--version", "-V", "version"):
        print("DRBDADM_BUILDTAG=drbd-standin\nDRBD_KERNEL_VERSION=%s" % VERSION)
        return 0
    if len(argv) >= 2 and argv[0].isdigit() and argv[1] in BY_MINOR:
        argv = [argv[1], argv[0]] + argv[2:]   # old syntax: drbdsetup MINOR CMD
    if not argv or argv[0] not in BY_MINOR | BY_ADDRESSES | OTHER:
        print("drbdsetup-84 (test bed DRBD %s stand-in): unknown command %s" %
              (VERSION, argv[0] if argv else "(none)"), file=sys.stderr)
        return 20
    cmd, (pos, opts) = argv[0], d.parse(argv[1:])

    if cmd in ("events2", "events"):
        names = [r for r in d.resources() if not pos or pos[0] in ("all", r)]
        stats = bool(opts.get("statistics"))
        seen = {}
        for r in names:
            for line in event_lines(d.snapshot(r), stats):
                print("exists " + line)
                seen[obj_key(line)] = line
        print("exists -", flush=True)
        if opts.get("now"):
            return 0
        while True:   # follow, polled (as the DRBD 9 side)
            time.sleep(0.5)
            cur = {}
            for r in d.resources():
                if pos and pos[0] not in ("all", r):
                    continue
                try:
                    for line in event_lines(d.snapshot(r), stats):
                        cur[obj_key(line)] = line
                except d.Fail:
                    pass
            for k, line in cur.items():
                if k not in seen:
                    print("create " + line)
                elif seen[k] != line:
                    print("change " + line)
            for k, line in seen.items():
                if k not in cur:
                    print("destroy " + k)
            sys.stdout.flush()
            seen = cur
    if cmd == "status":
        name = pos[0] if pos else "all"
        names = [r for r in d.resources() if name in ("all", r)]
        if not names and name != "all":
            print("%s: No such resource" % name, file=sys.stderr)
            return 10
        for r in names:
            sys.stdout.write(fmt_status(d.snapshot(r), opts.get("verbose"), opts.get("statistics")))
        return 0
    if cmd == "show":
        name = pos[0] if pos else "all"
        if name.isdigit():
            name = by_minor(d, name)
        names = [r for r in d.resources() if name in ("all", r)]
        if not names and name != "all":
            raise d.Fail(10, "%s: Failure: (158) Unknown resource" % name)
        for r in names:
            sys.stdout.write(fmt_show(d.snapshot(r)))
        return 0
    if cmd == "sh-status":
        # what ocf:linbit:drbd reads on 8.4 (no events2 below DRBD 9 there); missing_ok: nothing for an unknown name
        name = pos[0] if pos else "all"
        if name.isdigit():
            name = by_minor(d, name)
        for r in d.resources():
            if name in ("all", r):
                sys.stdout.write(sh_status(d.snapshot(r)))
        return 0
    if cmd == "new-resource":
        d.spawn(pos[0], 0, opts, "8.4")
        return 0
    if cmd in ("down", "del-resource"):
        if pos[0] not in d.resources():
            return 0
        d.request(pos[0], "down", pos, opts)
        for _ in range(100):
            if not d.alive(pos[0]):
                break
            time.sleep(0.05)
        return 0
    if cmd in ("new-minor", "resource-options"):
        if pos[0] not in d.resources():
            raise d.Fail(10, "%s: Failure: (158) Unknown resource" % pos[0])
        out = d.request(pos[0], cmd, pos, opts)
        if out:
            print(out)
        return 0
    if cmd == "connect":
        # connect RES LOCAL PEER [net options]: configure the connection and connect
        if len(pos) < 3:
            print("USAGE: connect {resource} {local_addr} {remote_addr}", file=sys.stderr)
            return 20
        if pos[0] not in d.resources():
            raise d.Fail(10, "%s: Failure: (158) Unknown resource" % pos[0])
        d.request(pos[0], "connect84", pos, opts)
        return 0
    if cmd in BY_ADDRESSES:
        if len(pos) < 2:
            print("USAGE: %s {local_addr} {remote_addr}" % cmd, file=sys.stderr)
            return 20
        res = by_addresses(d, pos[0], pos[1])
        if cmd == "net-options" and "--set-defaults" in argv:
            opts = dict(opts, **{"set-defaults": True})
        d.request(res, cmd + "84", [res] + pos, opts)
        return 0

    # the device commands: by minor
    minor = minor_of(pos[0]) if pos else ""
    if pos:
        pos[0] = minor
    res = by_minor(d, minor)
    if cmd in ("role", "state", "cstate", "dstate", "get-gi", "show-gi"):
        s = d.snapshot(res)
        v = volume_of(s, minor)
        if v is None:
            raise d.Fail(10, "%s: Failure: (127) Device minor not allocated" % minor)
        p, pd = the_peer(s), peer_dev(s, v["volume"])
        unconfigured = not p["paths"] and v["disk"] == "Diskless"
        if cmd in ("role", "state"):
            if cmd == "state":
                print("'drbdsetup-84 ... state' is deprecated, use 'drbdsetup-84 ... role' instead.", file=sys.stderr)
            print("Unconfigured" if unconfigured else "%s/%s" % (s["role"], p["role"]))
        elif cmd == "cstate":
            print("Unconfigured" if unconfigured else dev_conn_state(p, pd))
        elif cmd == "dstate":
            print("Unconfigured" if unconfigured else "%s/%s" % (v["disk"], pd["pdisk"]))
        else:
            # uuids_scmd: exit 1 without a disk, and drbdadm-84 then reads the meta data with drbdmeta
            if unconfigured:
                print("Device is unconfigured", file=sys.stderr)
                return 1
            if v["disk"] == "Diskless":
                print("Device has no disk", file=sys.stderr)
                return 1
            gi = d.request(res, "get-gi", [res, "1", str(v["volume"])], {})
            print(pretty_gi(gi) if cmd == "show-gi" else gi)
        return 0
    if cmd.startswith("wait-"):
        timeout = int(opts.get("wfc-timeout", 0) or 0)
        if cmd == "wait-sync":
            return d.wait_for(res, lambda s: all(x["repl"] == "Established" for p in s["peers"] for x in p["devices"]), timeout)
        return d.wait_for(res, lambda s: all(p["cstate"] == "Connected" for p in s["peers"]), timeout)
    if cmd == "check-resize":
        return d.check_resize(minor)
    if cmd in ("primary", "secondary", "outdate", "suspend-io", "resume-io", "invalidate", "invalidate-remote",
               "pause-sync", "resume-sync", "verify"):
        out = d.request(res, cmd, [minor], opts)
    else:
        if cmd == "disk-options" and "--set-defaults" in argv:
            opts = dict(opts, **{"set-defaults": True})
        out = d.request(res, cmd, pos, opts)
    if out:
        print(out)
    return 0
