#!/usr/bin/env bash
# Self-test of the test bed's stand-ins (udev partition nodes, DRBD kernel
# side) against two running node containers, driven with `docker exec`:
#   docker/standin/selftest.sh [BOB [ALICE]]      (default: bob alice)
# The containers must run the node image (docker/image/build.sh) with a data
# disk as /dev/vdb (>= 400 MiB), on one Docker network. The test installs
# drbd-utils if missing, then WIPES /dev/vdb on both. It stops and starts
# ALICE's container. Exits non-zero at the first failed check.
# Last, peer slots: a resource with more peers than its metadata has slots
# is refused at attach ("Not enough free bitmap slots"), as by DRBD 9.
set -euo pipefail
BOB=${1:-bob}
ALICE=${2:-alice}
. "$(dirname "$0")/selftest-lib.sh"
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

for c in "$BOB" "$ALICE"; do
  [ "$(docker inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] || fail "container $c is not running"
  on "$c" "test -b /dev/vdb" || fail "$c has no /dev/vdb"
done

say "drbd-utils (real, from Debian) on both nodes"
for c in "$BOB" "$ALICE"; do
  on "$c" "dpkg -s drbd-utils >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq drbd-utils >/dev/null 2>&1; }" &
done
wait
for c in "$BOB" "$ALICE"; do
  on "$c" "readlink -f /sbin/drbdsetup" | grep -q drbd-standin || fail "$c: /sbin/drbdsetup is not the stand-in"
  v=$(on "$c" "drbdadm --version 2>/dev/null | sed -n 's/^DRBD_KERNEL_VERSION=//p'")
  [ "$v" = 9.2.12 ] || fail "$c: drbdadm sees kernel version '$v', expected 9.2.12"
done

say "partitions: sfdisk writes a table, /dev/vdb1 and /dev/vdb2 appear (udev stand-in)"
for c in "$BOB" "$ALICE"; do
  on "$c" "drbdadm down all >/dev/null 2>&1; wipefs -q -a /dev/vdb >/dev/null 2>&1"
  wait_for 3 "$c" '! test -e /dev/vdb1' || fail "$c: /dev/vdb1 still there after wipefs"
  on "$c" "printf 'label: dos\n,200M\n,\n' | sfdisk -q /dev/vdb >/dev/null 2>&1 || true"
  wait_for 3 "$c" 'test -b /dev/vdb1 && test -b /dev/vdb2' || fail "$c: /dev/vdb1,2 did not appear"
done

BOB_IP=$(ip_of "$BOB"); ALICE_IP=$(ip_of "$ALICE")
BOB_HOST=$(on "$BOB" "uname -n"); ALICE_HOST=$(on "$ALICE" "uname -n")
say "resources r0 (minor 0, port 7788) and r1 (minor 1, port 7789): $BOB_HOST=$BOB_IP $ALICE_HOST=$ALICE_IP"
res() { # name minor port partition
  cat <<EOF
resource $1 {
  on $BOB_HOST { device /dev/drbd$2; disk $4; address $BOB_IP:$3; meta-disk internal; }
  on $ALICE_HOST { device /dev/drbd$2; disk $4; address $ALICE_IP:$3; meta-disk internal; }
}
EOF
}
for c in "$BOB" "$ALICE"; do
  res r0 0 7788 /dev/vdb1 | docker exec -i "$c" tee /etc/drbd.d/r0.res >/dev/null
  res r1 1 7789 /dev/vdb2 | docker exec -i "$c" tee /etc/drbd.d/r1.res >/dev/null
  on "$c" "yes yes | drbdadm create-md --force r0 r1 >/dev/null 2>&1" || fail "$c: create-md"
  on "$c" "drbdadm up r0 r1" || fail "$c: drbdadm up"
done
for c in "$BOB" "$ALICE"; do
  for r in r0 r1; do
    wait_for 10 "$c" "[ \"\$(drbdadm cstate $r)\" = Connected ]" || fail "$c: $r not Connected"
    d=$(on "$c" "drbdadm dstate $r")
    [ "$d" = Inconsistent/Inconsistent ] || fail "$c: $r dstate is $d, expected Inconsistent/Inconsistent"
  done
  gi=$(on "$c" "drbdadm get-gi r0 2>/dev/null")
  [ "${gi%%:*}" = 0000000000000004 ] || fail "$c: r0 generation identifiers '$gi' do not say 'never synced'"
  on "$c" "drbdadm -d adjust r0 r1 | grep -q ." && fail "$c: drbdadm adjust would change something"
done

say "primary --force r0 on $BOB_HOST: $ALICE_HOST goes through SyncTarget to UpToDate"
on "$BOB" "drbdadm primary --force r0" || fail "primary --force"
seen=""
for _ in $(seq 1 300); do
  st=$(on "$ALICE" "drbdadm status r0")
  case "$st" in *replication:SyncTarget*done:*) seen=$(grep -o 'done:[0-9.]*' <<<"$st") ;; esac
  grep -q 'disk:UpToDate' <<<"$(sed -n 2p <<<"$st")" && break
  sleep 0.2
done
[ "$(on "$ALICE" "drbdadm dstate r0")" = UpToDate/UpToDate ] || fail "$ALICE_HOST r0 did not reach UpToDate"
[ -n "$seen" ] || fail "no SyncTarget progress (done:NN.NN) was visible in drbdadm status"
say "  sync progress seen on $ALICE_HOST: $seen"
[ "$(on "$BOB" "drbdadm role r0")" = Primary ] || fail "$BOB_HOST is not Primary"
size=$(on "$BOB" "blockdev --getsize64 /dev/drbd0")
mdo=$(on "$BOB" "drbdmeta - v09 /dev/vdb1 internal dump-md 2>/dev/null | sed -n 's/^# bm_offset //p'")
[ "$size" = "$mdo" ] || fail "/dev/drbd0 is $size bytes, the data area $mdo"
sb=$(on "$BOB" "head -c $size /dev/vdb1 | md5sum"); sa=$(on "$ALICE" "head -c $size /dev/vdb1 | md5sum")
[ "$sb" = "$sa" ] || fail "data areas differ after sync: $sb vs $sa"
gb=$(on "$BOB" "drbdadm get-gi r0 2>/dev/null"); ga=$(on "$ALICE" "drbdadm get-gi r0 2>/dev/null")
[ "${gb%%:*}" = "${ga%%:*}" ] && [ "${gb%%:*}" != 0000000000000004 ] || fail "generation identifiers after sync: $gb / $ga"
say "  data areas equal ($size bytes, md5 ${sb%% *}), current UUID ${gb%%:*} on both"
# an attached volume: drbdadm get-gi is answered by drbdsetup (the "kernel"), as drbdadm 9 asks it
# first, and says what the meta data on disk says
peer=$(on "$BOB" "drbdadm -d get-gi r0 | sed -n 's/^drbdsetup get-gi r0 \\([0-9]*\\) 0\$/\\1/p'")
[ -n "$peer" ] || fail "drbdadm get-gi r0 does not ask drbdsetup first"
gk=$(on "$BOB" "drbdsetup get-gi r0 $peer 0")
gd=$(on "$BOB" "drbdmeta --force - v09 /dev/vdb1 internal --node-id=$peer get-gi 2>/dev/null | tail -n 1")
[ -n "$gk" ] && [ "$gk" = "$gb" ] && [ "$gk" = "$gd" ] || fail "get-gi of the attached r0: drbdsetup '$gk', drbdadm '$gb', on disk '$gd'"

say "mkfs.ext4 + mount on $BOB_HOST, write a file; replicated writes reach $ALICE_HOST"
token=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
on "$BOB" "mkfs.ext4 -q -F /dev/drbd0 && mkdir -p /mnt/r0 && mount /dev/drbd0 /mnt/r0 && echo $token > /mnt/r0/token && sync" || fail "mkfs/mount/write on $BOB_HOST"
on "$BOB" "drbdadm secondary r0 2>/dev/null" && fail "secondary succeeded while /dev/drbd0 is mounted"
on "$BOB" "umount /mnt/r0 && drbdadm secondary r0" || fail "umount + secondary on $BOB_HOST"
sb=$(on "$BOB" "head -c $size /dev/vdb1 | md5sum"); sa=$(on "$ALICE" "head -c $size /dev/vdb1 | md5sum")
[ "$sb" = "$sa" ] || fail "data areas differ after writes: $sb vs $sa"
on "$ALICE" "mkdir -p /mnt/r0; mount /dev/drbd0 /mnt/r0 2>/dev/null" && fail "a Secondary could be mounted"

say "stop $ALICE's container: $BOB_HOST sees Connecting"
docker stop "$ALICE" >/dev/null
wait_for 10 "$BOB" "[ \"\$(drbdadm cstate r0)\" = Connecting ]" || fail "$BOB_HOST r0 not Connecting after $ALICE stopped"
on "$BOB" "drbdadm status r0" | grep -q "$ALICE_HOST connection:Connecting" || fail "status does not show Connecting"

say "start $ALICE, drbdadm up: Connected again, persisted UpToDate"
docker start "$ALICE" >/dev/null
on "$ALICE" "systemctl is-system-running --wait >/dev/null" || true
[ "$(ip_of "$ALICE")" = "$ALICE_IP" ] || fail "$ALICE came back with another address: $(ip_of "$ALICE")"
wait_for 5 "$ALICE" 'test -b /dev/vdb1 && test -b /dev/vdb2' || fail "$ALICE: partition nodes missing after restart"
on "$ALICE" "test -e /dev/drbd0" && fail "$ALICE: /dev/drbd0 survived the restart"
on "$ALICE" "drbdadm up r0 r1" || fail "$ALICE: drbdadm up after restart"
for r in r0 r1; do
  wait_for 10 "$ALICE" "[ \"\$(drbdadm cstate $r)\" = Connected ]" || fail "$ALICE_HOST $r not Connected after restart"
done
wait_for 10 "$ALICE" "[ \"\$(drbdadm dstate r0)\" = UpToDate/UpToDate ]" || fail "$ALICE_HOST r0: $(on "$ALICE" "drbdadm dstate r0")"

say "primary r0 on $ALICE_HOST, mount: the file is there"
on "$ALICE" "drbdadm primary r0 && mount /dev/drbd0 /mnt/r0" || fail "primary + mount on $ALICE_HOST"
got=$(on "$ALICE" "cat /mnt/r0/token")
[ "$got" = "$token" ] || fail "file content on $ALICE_HOST is '$got', expected '$token'"
on "$ALICE" "umount /mnt/r0 && drbdadm secondary r0" || fail "umount + secondary on $ALICE_HOST"

say "resource-level fencing on r1: fencing resource-and-stonith + test fence-peer/unfence-peer handlers"
# The handler records its argv and environment, sleeps (I/O must stay frozen
# meanwhile) and exits 4 (peer outdated) for fence-peer, 0 for unfence-peer.
for c in "$BOB" "$ALICE"; do
  docker exec -i "$c" bash -c 'cat > /usr/local/sbin/standin-test-handler && chmod 755 /usr/local/sbin/standin-test-handler' <<'EOF2'
#!/bin/bash
# standin-test-handler CMD: as a DRBD fence-peer/unfence-peer handler
d=/run/standin-test; mkdir -p $d
date +%s.%N > $d/$1.start
env | grep -E '^(DRBD_[A-Z0-9_]*|UP_TO_DATE_NODES|HOME|TERM|PATH)=' | sort > $d/$1.env
echo "$1 $(date +%s.%N)" >> $d/calls
[ "$1" = fence-peer ] && sleep 3
date +%s.%N > $d/$1.end
[ "$1" = fence-peer ] && exit 4
exit 0
EOF2
  on "$c" "rm -rf /run/standin-test"
  res r1 1 7789 /dev/vdb2 | sed 's/^resource r1 {$/resource r1 {\n  net { fencing resource-and-stonith; }\n  handlers { fence-peer "\/usr\/local\/sbin\/standin-test-handler fence-peer"; unfence-peer "\/usr\/local\/sbin\/standin-test-handler unfence-peer"; }/' \
    | docker exec -i "$c" tee /etc/drbd.d/r1.res >/dev/null
  on "$c" "drbdadm adjust r1" || fail "$c: adjust r1 with fencing"
  on "$c" "drbdsetup show r1" | grep -q 'fencing[[:space:]]*resource-and-stonith' || fail "$c: drbdsetup show r1 has no fencing"
done
on "$BOB" "drbdadm primary --force r1" || fail "primary --force r1"
wait_for 30 "$ALICE" "[ \"\$(drbdadm dstate r1)\" = UpToDate/UpToDate ]" || fail "$ALICE_HOST r1 did not reach UpToDate"
# DRBD 9 calls unfence-peer on the node whose peer became UpToDate (the sync source)
wait_for 10 "$BOB" "grep -q '^unfence-peer' /run/standin-test/calls" || fail "no unfence-peer on $BOB_HOST after the initial sync"
on "$ALICE" "test -e /run/standin-test/calls" && fail "$ALICE_HOST (sync target) ran a handler: $(on "$ALICE" "cat /run/standin-test/calls")"
BOB_ID=$(on "$BOB" "drbdsetup status r1 --verbose" | sed -n '1s/.* node-id:\([0-9]*\) .*/\1/p')
ALICE_ID=$(on "$ALICE" "drbdsetup status r1 --verbose" | sed -n '1s/.* node-id:\([0-9]*\) .*/\1/p')
say "  unfence-peer ran on $BOB_HOST after the initial sync (node-ids: $BOB_HOST $BOB_ID, $ALICE_HOST $ALICE_ID)"

say "administrative disconnect of r1 on $ALICE_HOST: $BOB_HOST (Primary) does not fence"
on "$BOB" "rm -rf /run/standin-test"
on "$ALICE" "drbdadm disconnect r1" || fail "disconnect r1"
wait_for 10 "$BOB" "[ \"\$(drbdadm cstate r1)\" = Connecting ]" || fail "$BOB_HOST r1 not Connecting after the peer's disconnect"
sleep 6   # past the ping timeout
on "$BOB" "test -e /run/standin-test/calls" && fail "a handler ran after an administrative disconnect: $(on "$BOB" "cat /run/standin-test/calls")"
on "$BOB" "drbdsetup status r1" | grep -q suspended && fail "I/O suspended after an administrative disconnect"
on "$ALICE" "drbdadm connect r1" || fail "connect r1"
wait_for 30 "$ALICE" "[ \"\$(drbdadm dstate r1)\" = UpToDate/UpToDate ]" || fail "$ALICE_HOST r1 not UpToDate after reconnect"
wait_for 10 "$BOB" "grep -q '^unfence-peer' /run/standin-test/calls" || fail "no unfence-peer on $BOB_HOST after the reconnect"
on "$BOB" "grep -q '^fence-peer' /run/standin-test/calls" && fail "fence-peer ran after an administrative disconnect"

say "connection loss (docker pause $ALICE): $BOB_HOST runs fence-peer with I/O frozen until it exits 4"
on "$BOB" "rm -rf /run/standin-test"
freeze "$ALICE"
tpause=$(date +%s.%N)
wait_for 15 "$BOB" "test -e /run/standin-test/fence-peer.start" || { docker unpause "$ALICE" >/dev/null; fail "fence-peer did not run on $BOB_HOST after the connection loss"; }
st=$(on "$BOB" "drbdsetup status r1")
w=$(on "$BOB" 's=$(date +%s.%N); dd if=/dev/urandom of=/dev/drbd1 bs=4k count=1 seek=100 oflag=direct status=none && echo $s $(date +%s.%N)')
ev=$(on "$BOB" "drbdsetup events2 --now r1")
docker unpause "$ALICE" >/dev/null
grep -q 'suspended:fencing' <<<"$(sed -n 1p <<<"$st")" || fail "status while fence-peer runs: '$st', expected suspended:fencing"
hs=$(on "$BOB" "cat /run/standin-test/fence-peer.start"); he=$(on "$BOB" "cat /run/standin-test/fence-peer.end")
read -r ws we <<<"$w"
awk -v we="$we" -v he="$he" 'BEGIN { exit !(we >= he) }' || fail "a write completed at $we, before fence-peer ended at $he (I/O not frozen)"
env=$(on "$BOB" "cat /run/standin-test/fence-peer.env")
for kv in DRBD_RESOURCE=r1 "DRBD_PEER_NODE_ID=$ALICE_ID" "DRBD_PEER_ADDRESS=$ALICE_IP" DRBD_PEER_AF=ipv4 \
    "DRBD_MY_ADDRESS=$BOB_IP" DRBD_MINOR_0=1 DRBD_BACKING_DEV_0=/dev/vdb2 \
    "UP_TO_DATE_NODES=$(printf '0x%08X' $((1 << BOB_ID)))" HOME=/ PATH=/sbin:/usr/sbin:/bin:/usr/bin; do
  grep -qx "$kv" <<<"$env" || fail "fence-peer environment lacks $kv:\n$env"
done
grep -q "^exists peer-device name:r1 .*peer-disk:Outdated" <<<"$ev" || fail "after fence-peer exit 4 the peer is not Outdated: $ev"
grep -q "^exists resource name:r1 .*suspended:no" <<<"$ev" || fail "I/O still suspended after fence-peer exit 4: $ev"
on "$ALICE" "test -e /run/standin-test/fence-peer.start" && fail "$ALICE_HOST (Secondary) ran fence-peer"
say "$(awk -v p="$tpause" -v hs="$hs" -v he="$he" -v ws="$ws" -v we="$we" 'BEGIN { printf "  loss -> fence-peer start %.1f s, handler %.1f s, a write issued %.1f s into it completed %.2f s after it ended", hs - p, he - hs, ws - hs, we - he }')"

say "$ALICE back: $BOB_HOST is SyncSource (it wrote meanwhile), then unfence-peer on $BOB_HOST"
wait_for 40 "$ALICE" "[ \"\$(drbdadm dstate r1)\" = UpToDate/UpToDate ]" || fail "$ALICE_HOST r1: $(on "$ALICE" "drbdadm status r1")"
wait_for 10 "$BOB" "test -e /run/standin-test/unfence-peer.end" || fail "no unfence-peer on $BOB_HOST after the resync"
env=$(on "$BOB" "cat /run/standin-test/unfence-peer.env")
grep -qx "UP_TO_DATE_NODES=$(printf '0x%08X' $(( (1 << BOB_ID) | (1 << ALICE_ID) )))" <<<"$env" || fail "unfence-peer environment: $env"
jl=$(on "$BOB" "journalctl -u drbd-standin-r1 --no-pager -o cat")
grep -q "fence-peer helper returned 4 (peer was fenced)" <<<"$jl" || fail "the stand-in's log does not say 'fence-peer helper returned 4'"
on "$BOB" "umount /mnt/r1 2>/dev/null; drbdadm secondary r1" || fail "secondary r1"

say "down on both: devices, loop devices and FUSE mounts are gone"
declare -A loops
for c in "$BOB" "$ALICE"; do
  loops[$c]=$(on "$c" "stat -c '%T' /dev/drbd0 /dev/drbd1")   # loop minors, hex
done
for c in "$BOB" "$ALICE"; do
  on "$c" "drbdadm down r0 r1" || fail "$c: down"
done
for c in "$BOB" "$ALICE"; do
  on "$c" "test -e /dev/drbd0 || test -e /dev/drbd1" && fail "$c: /dev/drbdN left after down"
  on "$c" "grep -q drbd-standin /proc/self/mountinfo" && fail "$c: FUSE mount left after down"
  for m in ${loops[$c]}; do
    on "$c" "grep -qs drbd-standin /sys/block/loop$((16#$m))/loop/backing_file" && fail "$c: loop$((16#$m)) still attached"
  done
done
say "peer slots: r2 on $BOB_HOST with two peers, metadata made with --max-peers=1: attach refused as by DRBD 9"
r2() {
  cat <<EOF
resource r2 {
  device /dev/drbd2 minor 2;
  meta-disk internal;
  on $BOB_HOST { node-id 0; address $BOB_IP:7790; disk /dev/vdb2; }
  on $ALICE_HOST { node-id 1; address $ALICE_IP:7790; disk /dev/vdb2; }
  on ghost { node-id 2; address 192.0.2.1:7790; disk /dev/vdb2; }
  connection-mesh { hosts $BOB_HOST $ALICE_HOST ghost; }
}
EOF
}
r2 | docker exec -i "$BOB" tee /etc/drbd.d/r2.res >/dev/null
on "$BOB" "yes yes | drbdadm create-md --force --max-peers=1 r2 >/dev/null 2>&1" || fail "create-md --max-peers=1 r2"
[ "$(on "$BOB" "drbdadm -- --force dump-md r2 2>/dev/null | grep '^max-peers'")" = "max-peers 1;" ] || fail "dump-md r2 does not say max-peers 1;"
out=$(on "$BOB" "drbdadm up r2 2>&1") && fail "drbdadm up r2 succeeded with 2 peers and 1 slot"
grep -q '^2: Failure: (162) Invalid configuration request$' <<<"$out" || fail "up r2: no '(162) Invalid configuration request': $out"
grep -q '^Not enough free bitmap slots (available=1, needed=2)$' <<<"$out" || fail "up r2: no 'Not enough free bitmap slots': $out"
[ "$(on "$BOB" "drbdsetup status r2 | sed -n 2p")" = "  disk:Diskless client:no" ] || fail "r2 is not Diskless after the refused attach: $(on "$BOB" "drbdsetup status r2")"
on "$BOB" "drbdadm down r2" || fail "down r2"
say "  refused: $(grep -m1 'Not enough' <<<"$out"); with --max-peers=2 it attaches"
on "$BOB" "yes yes | drbdadm create-md --force --max-peers=2 r2 >/dev/null 2>&1" || fail "create-md --max-peers=2 r2"
on "$BOB" "drbdadm up r2" || fail "drbdadm up r2 with 2 slots"
[ "$(on "$BOB" "drbdadm dstate r2")" = Inconsistent/DUnknown ] || fail "r2 with 2 slots: dstate $(on "$BOB" "drbdadm dstate r2")"
on "$BOB" "drbdadm down r2 && rm /etc/drbd.d/r2.res" || fail "down r2"

say "PASS"
