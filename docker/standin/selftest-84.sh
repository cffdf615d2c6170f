#!/usr/bin/env bash
# Self-test of the DRBD stand-in's 8.4 personality against two running node
# containers whose /etc/drbd-standin/personality says 8.4 (startBed's
# `drbd: '8.4'`), driven with `docker exec`:
#   docker/standin/selftest-84.sh BOB ALICE
# The containers must run the node image with a data disk as /dev/vdb
# (>= 256 MiB), on one Docker network. It installs drbd-utils if missing and
# WIPES /dev/vdb on both. Everything above the stand-in is drbd-utils 9.22's
# own 8.4 code: drbdadm execs /lib/drbd/drbdadm-84, which calls drbdsetup-84
# (the stand-in under that name) and drbdmeta v08. Exits non-zero at the
# first failed check.
set -euo pipefail
BOB=${1:-bob}
ALICE=${2:-alice}
. "$(dirname "$0")/selftest-lib.sh"
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
expect() { # what got expected
  [ "$2" = "$3" ] || fail "$1: got
$2
expected
$3"
}

for c in "$BOB" "$ALICE"; do
  [ "$(docker inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] || fail "container $c is not running"
  on "$c" "test -b /dev/vdb" || fail "$c has no /dev/vdb"
  [ "$(on "$c" "cat /etc/drbd-standin/personality")" = 8.4 ] || fail "$c: the stand-in's personality is not 8.4"
done

say "drbd-utils (real, from Debian) on both nodes; the module says 8.4.11; drbdadm runs drbdadm-84"
for c in "$BOB" "$ALICE"; do
  on "$c" "dpkg -s drbd-utils >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq drbd-utils >/dev/null 2>&1; }" &
done
wait
for c in "$BOB" "$ALICE"; do
  expect "$c: modinfo -F version drbd" "$(on "$c" "modinfo -F version drbd")" 8.4.11
  expect "$c: drbdadm's API" "$(on "$c" "drbdadm --version 2>/dev/null | grep DRBDADM_API_VERSION=")" DRBDADM_API_VERSION=1
  on "$c" "readlink -f /lib/drbd/drbdsetup-84" | grep -q drbd-standin || fail "$c: /lib/drbd/drbdsetup-84 is not the stand-in"
  on "$c" "test -x /lib/drbd/drbdsetup-84.real" || fail "$c: the packaged drbdsetup-84 was not put aside"
  expect "$c: the agent's /proc/drbd" "$(on "$c" "head -n1 /usr/lib/drbd-standin/proc-drbd-84")" "version: 8.4.11 (api:1/proto:86-101)"
done

say "partitions; an 8.4 resource file (no node-id); create-md makes v08 meta data"
for c in "$BOB" "$ALICE"; do
  on "$c" "drbdadm down all >/dev/null 2>&1; wipefs -q -a /dev/vdb >/dev/null 2>&1"
  wait_for 3 "$c" '! test -e /dev/vdb1' || fail "$c: /dev/vdb1 still there after wipefs"
  on "$c" "printf 'label: dos\n,128M\n,\n' | sfdisk -q /dev/vdb >/dev/null 2>&1 || true"
  wait_for 3 "$c" 'test -b /dev/vdb1' || fail "$c: /dev/vdb1 did not appear"
done
BOB_IP=$(ip_of "$BOB"); ALICE_IP=$(ip_of "$ALICE")
BOB_HOST=$(on "$BOB" "uname -n"); ALICE_HOST=$(on "$ALICE" "uname -n")
for c in "$BOB" "$ALICE"; do
  docker exec -i "$c" tee /etc/drbd.d/r0.res >/dev/null <<EOF
resource r0 {
  device /dev/drbd0 minor 0;
  meta-disk internal;
  disk { resync-rate 40M; c-plan-ahead 0; }
  net { protocol C; cram-hmac-alg sha256; shared-secret "s3cret"; after-sb-0pri discard-zero-changes; }
  on $BOB_HOST { address ipv4 $BOB_IP:7788; disk /dev/vdb1; }
  on $ALICE_HOST { address ipv4 $ALICE_IP:7788; disk /dev/vdb1; }
}
EOF
  on "$c" "yes yes | drbdadm create-md --force r0 >/dev/null 2>&1" || fail "$c: create-md"
  expect "$c: meta data version" "$(on "$c" "blkid -p -s VERSION -o value /dev/vdb1")" v08
  if [ "$c" = "$BOB" ]; then me=$BOB_IP peer=$ALICE_IP; else me=$ALICE_IP peer=$BOB_IP; fi
  up=$(on "$c" "drbdadm -d up r0")
  expect "$c: drbdadm -d up r0" "$up" "drbdsetup-84 new-resource r0
drbdsetup-84 new-minor r0 0 0
drbdmeta 0 v08 /dev/vdb1 internal apply-al
drbdsetup-84 attach 0 /dev/vdb1 /dev/vdb1 internal --c-plan-ahead=0 --resync-rate=40M
drbdsetup-84 connect r0 ipv4:$me:7788 ipv4:$peer:7788 --protocol=C --cram-hmac-alg=sha256 --shared-secret=s3cret --after-sb-0pri=discard-zero-changes"
  on "$c" "drbdadm up r0" || fail "$c: drbdadm up"
done

say "Connected, Inconsistent/Inconsistent, never synced; events2 in 8.4's format; adjust changes nothing"
NEVER=0000000000000004:0000000000000000:0000000000000000:0000000000000000:0:0:0:0:0:0:0
for c in "$BOB" "$ALICE"; do
  wait_for 10 "$c" "[ \"\$(drbdadm cstate r0)\" = Connected ]" || fail "$c: r0 not Connected: $(on "$c" "drbdadm cstate r0")"
  expect "$c: dstate" "$(on "$c" "drbdadm dstate r0")" Inconsistent/Inconsistent
  expect "$c: role" "$(on "$c" "drbdadm role r0")" Secondary/Secondary
  expect "$c: events2" "$(on "$c" "drbdsetup events2 --now r0")" "exists resource name:r0 role:Secondary suspended:no
exists connection name:r0 peer-node-id:0 conn-name:peer connection:Connected role:Secondary
exists device name:r0 volume:0 minor:0 disk:Inconsistent
exists peer-device name:r0 peer-node-id:0 conn-name:peer volume:0 replication:Established peer-disk:Inconsistent resync-suspended:no
exists -"
  # drbdadm-84 get-gi asks drbdsetup-84 (attached: the daemon's, as the kernel's) first
  # (the v08 "connected" flag is set from WFReportParams on, as 8.4's __drbd_set_state does)
  expect "$c: get-gi" "$(on "$c" "drbdadm get-gi r0 2>/dev/null")" "${NEVER%:0:0:0:0:0:0:0}:0:0:0:1:0:0:0"
  on "$c" "drbdadm show-gi r0 2>/dev/null" | grep -q '^flags: Secondary, Connected, Inconsistent$' || fail "$c: show-gi: $(on "$c" "drbdadm show-gi r0")"
  [ -z "$(on "$c" "drbdadm -d adjust r0")" ] || fail "$c: drbdadm adjust would change something: $(on "$c" "drbdadm -d adjust r0")"
done

say "primary --overwrite-data-of-peer (8.4's spelling) on $BOB_HOST: $ALICE_HOST goes through SyncTarget to UpToDate"
on "$BOB" "drbdadm -- --overwrite-data-of-peer primary r0" || fail "primary --overwrite-data-of-peer"
seen=""
for _ in $(seq 1 300); do
  ev=$(on "$ALICE" "drbdsetup events2 --now r0")
  grep -q 'replication:SyncTarget peer-disk:UpToDate' <<<"$ev" && seen=yes
  grep -q 'device name:r0 volume:0 minor:0 disk:UpToDate' <<<"$ev" && break
  sleep 0.2
done
[ -n "$seen" ] || fail "no replication:SyncTarget seen in $ALICE_HOST's events2"
expect "$ALICE_HOST dstate" "$(on "$ALICE" "drbdadm dstate r0")" UpToDate/UpToDate
expect "$BOB_HOST role" "$(on "$BOB" "drbdadm role r0")" Primary/Secondary
expect "$BOB_HOST cstate" "$(on "$BOB" "drbdadm cstate r0")" Connected
gb=$(on "$BOB" "drbdadm get-gi r0 2>/dev/null"); ga=$(on "$ALICE" "drbdadm get-gi r0 2>/dev/null")
[ "${gb%%:*}" = "${ga%%:*}" ] && [ "${gb%%:*}" != 0000000000000004 ] || fail "current UUIDs after the sync: $BOB_HOST $gb, $ALICE_HOST $ga"
# v08 flags: consistent, was-up-to-date, primary, connected, full-sync, peer-outdated, crashed-primary
expect "$BOB_HOST get-gi flags" "${gb#*:*:*:*:}" 1:1:1:1:0:0:0
expect "$ALICE_HOST get-gi flags" "${ga#*:*:*:*:}" 1:1:0:1:0:0:0
say "  current UUID ${gb%%:*} on both"
# what ocf:linbit:drbd reads on 8.4 (sh-status, eval'd), and a minor given as the device (the agent's wait-connect)
sh=$(on "$BOB" "drbdsetup sh-status r0")
for kv in _minor=0 _res_name=r0 _volume=0 _known=Configured _cstate=Connected _role=Primary _peer=Secondary _disk=UpToDate _pdsk=UpToDate _sh_status_process; do
  grep -qx "$kv" <<<"$sh" || fail "$BOB_HOST sh-status lacks $kv: $sh"
done
on "$BOB" "drbdsetup wait-connect /dev/drbd0 --wfc-timeout=5" || fail "wait-connect /dev/drbd0"
size=$(on "$BOB" "blockdev --getsize64 /dev/drbd0")
bm=$(on "$BOB" "drbdmeta - v08 /dev/vdb1 internal dump-md 2>/dev/null | sed -n 's/^# bm_offset //p'")
expect "size of /dev/drbd0 (v08 bm_offset)" "$size" "$bm"
m1=$(on "$BOB" "head -c $size /dev/vdb1 | md5sum"); m2=$(on "$ALICE" "head -c $size /dev/vdb1 | md5sum")
expect "data areas" "$m2" "$m1"

say "ext4 on $BOB_HOST's /dev/drbd0; $ALICE_HOST disconnects: StandAlone there (no conn-name), Connecting on $BOB_HOST"
on "$BOB" "mkfs.ext4 -q -F /dev/drbd0 && mkdir -p /mnt/r0 && mount /dev/drbd0 /mnt/r0 && echo one > /mnt/r0/file && sync" || fail "mkfs/mount on $BOB_HOST"
on "$ALICE" "drbdadm disconnect r0" || fail "disconnect"
expect "$ALICE_HOST events2 after disconnect" "$(on "$ALICE" "drbdsetup events2 --now r0")" "exists resource name:r0 role:Secondary suspended:no
exists connection name:r0 peer-node-id:0 connection:StandAlone role:Unknown
exists device name:r0 volume:0 minor:0 disk:UpToDate
exists peer-device name:r0 peer-node-id:0 volume:0 replication:Off peer-disk:DUnknown resync-suspended:no
exists -"
expect "$ALICE_HOST cstate" "$(on "$ALICE" "drbdadm cstate r0")" StandAlone
wait_for 10 "$BOB" "[ \"\$(drbdadm cstate r0)\" = WFConnection ]" || fail "$BOB_HOST: not WFConnection: $(on "$BOB" "drbdadm cstate r0")"
on "$BOB" "drbdsetup events2 --now r0" | grep -q '^exists connection name:r0 peer-node-id:0 conn-name:peer connection:Connecting role:Unknown$' || fail "$BOB_HOST events2: $(on "$BOB" "drbdsetup events2 --now r0")"
# drbdadm-84 adjust: the connection is not configured (drbdsetup-84 show has no _remote_host): connect
adj=$(on "$ALICE" "drbdadm -d adjust r0")
[[ "$adj" == "drbdsetup-84 connect r0 ipv4:$ALICE_IP:7788 ipv4:$BOB_IP:7788 "* ]] || fail "adjust of a StandAlone resource: $adj"
# 8.4: disconnect of a connection that has no addresses is refused by the kernel
r=$(on "$ALICE" "drbdadm disconnect r0 2>&1; echo rc=\$?")
grep -q 'unknown connection' <<<"$r" && grep -q 'rc=10' <<<"$r" || fail "disconnect of a StandAlone resource: $r"
on "$BOB" "echo two > /mnt/r0/file2 && sync"

say "connect again: $BOB_HOST (new data generation since the loss) is the SyncSource"
on "$ALICE" "drbdadm connect r0" || fail "connect"
# (not UpToDate/UpToDate alone: right after the handshake, before the resync starts, both still say so)
wait_for 30 "$BOB" "[ \$(journalctl -u drbd-standin-r0 --no-pager | grep -c 'resync of volume 0 to peer done') -ge 2 ]" ||
  fail "no second resync to $ALICE_HOST in $BOB_HOST's journal"
wait_for 20 "$ALICE" "[ \"\$(drbdadm dstate r0)\" = UpToDate/UpToDate ]" || fail "$ALICE_HOST not UpToDate after reconnect: $(on "$ALICE" "drbdadm dstate r0")"
gb=$(on "$BOB" "drbdadm get-gi r0 2>/dev/null"); ga=$(on "$ALICE" "drbdadm get-gi r0 2>/dev/null")
[ "${gb%%:*}" = "${ga%%:*}" ] || fail "current UUIDs after the resync: $BOB_HOST $gb, $ALICE_HOST $ga"

say "switch-over: secondary refused while mounted; then umount, secondary, primary on $ALICE_HOST: the files are there"
r=$(on "$BOB" "drbdadm secondary r0 2>&1; echo rc=\$?")
grep -q 'Device is held open by someone' <<<"$r" && grep -q 'rc=11' <<<"$r" || fail "secondary while mounted: $r"
on "$BOB" "umount /mnt/r0 && drbdadm secondary r0" || fail "secondary"
on "$ALICE" "drbdadm primary r0 && mkdir -p /mnt/r0 && mount /dev/drbd0 /mnt/r0" || fail "primary + mount on $ALICE_HOST"
expect "files on $ALICE_HOST" "$(on "$ALICE" "cat /mnt/r0/file /mnt/r0/file2")" "one
two"
on "$ALICE" "umount /mnt/r0 && drbdadm secondary r0"

say "down on both: no device, no FUSE mount; the generation identifiers stay on disk (drbdmeta v08)"
for c in "$BOB" "$ALICE"; do
  before=$(on "$c" "drbdadm get-gi r0 2>/dev/null")
  on "$c" "drbdadm down r0" || fail "$c: down"
  expect "$c: events2 after down" "$(on "$c" "drbdsetup events2 --now")" "exists -"
  on "$c" "test -e /dev/drbd0" && fail "$c: /dev/drbd0 still there"
  on "$c" "grep -q drbd-standin /proc/self/mountinfo" && fail "$c: a FUSE mount is left"
  after=$(on "$c" "drbdadm get-gi r0 2>/dev/null")
  expect "$c: get-gi from the disk after down" "${after%%:*}" "${before%%:*}"
done
say "PASS"
