#!/usr/bin/env bash
# Self-test of the DRBD stand-in's online resize (drbdsetup resize, as DRBD
# 9.2 does it: a cluster-wide size change) against two running node
# containers, driven with `docker exec`:
#   docker/standin/selftest-resize.sh [BOB [ALICE]]      (default: bob alice)
# Each needs a >= 256 MiB /dev/vdb; the test installs drbd-utils if missing
# and WIPES /dev/vdb on both. One resource r0 on a 100 MiB partition, bob
# Primary with data on it; bob's partition grown alone -> `drbdadm resize`
# changes nothing (DRBD uses the smallest node's size); alice's grown less ->
# `drbdadm resize` on alice (a Secondary may ask) grows both to what alice's
# allows, the metadata moved to each device's new end (drbdmeta finds it
# there, la-size-sect the new size), the new area synced from the Primary
# only (alice SyncTarget, then both data areas equal, the data kept); a
# resize during a resync is refused as DRBD does ("(130) Resize not allowed
# during resync."); down/up keeps the agreed size and finds the activity
# log at its new place. Exits non-zero at the
# first failed check.
set -euo pipefail
BOB=${1:-bob}
ALICE=${2:-alice}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=selftest-lib.sh
. "$here/selftest-lib.sh"
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
size_of() { on "$1" "blockdev --getsize64 /dev/drbd0"; }
# the data area drbdmeta finds on the backing device now, and the size last agreed
bm_offset() { on "$1" "drbdmeta --force - v09 /dev/vdb1 internal dump-md 2>/dev/null | sed -n 's/^# bm_offset //p'"; }
la_size() { on "$1" "drbdmeta --force - v09 /dev/vdb1 internal dump-md 2>/dev/null | sed -n 's/^la-size-sect \\([0-9]*\\);/\\1/p'"; }
grow_partition() { on "$1" "echo ',$2' | sfdisk -q -N 1 --no-reread /dev/vdb >/dev/null 2>&1; partx -u /dev/vdb"; }

say "drbd-utils on both nodes; r0 on a 100 MiB /dev/vdb1"
for c in "$BOB" "$ALICE"; do
  on "$c" "dpkg -s drbd-utils >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq drbd-utils >/dev/null 2>&1; }" &
done
wait
BOB_IP=$(ip_of "$BOB"); ALICE_IP=$(ip_of "$ALICE")
BOB_HOST=$(on "$BOB" "uname -n"); ALICE_HOST=$(on "$ALICE" "uname -n")
for c in "$BOB" "$ALICE"; do
  on "$c" "drbdadm down all >/dev/null 2>&1; wipefs -q -a /dev/vdb >/dev/null 2>&1; rm -f /var/lib/drbd/drbd-minor-*.lkbd"
  on "$c" "printf 'label: dos\n,100M\n' | sfdisk -q /dev/vdb >/dev/null 2>&1 || true"
  wait_for 3 "$c" 'test -b /dev/vdb1' || fail "$c: /dev/vdb1 did not appear"
  cat <<EOF | docker exec -i "$c" tee /etc/drbd.d/r0.res >/dev/null
resource r0 {
  on $BOB_HOST { device /dev/drbd0; disk /dev/vdb1; address $BOB_IP:7788; meta-disk internal; }
  on $ALICE_HOST { device /dev/drbd0; disk /dev/vdb1; address $ALICE_IP:7788; meta-disk internal; }
}
EOF
  on "$c" "yes yes | drbdadm create-md --force --max-peers=2 r0 >/dev/null 2>&1" || fail "$c: create-md"
  on "$c" "drbdadm up r0" || fail "$c: up"
done
wait_for 10 "$BOB" "[ \"\$(drbdadm cstate r0)\" = Connected ]" || fail "r0 not Connected"
on "$BOB" "drbdadm primary --force r0" || fail "primary --force"
wait_for 30 "$ALICE" "[ \"\$(drbdadm dstate r0)\" = UpToDate/UpToDate ]" || fail "initial sync did not end"
old=$(size_of "$BOB")
[ "$old" = "$(bm_offset "$BOB")" ] || fail "/dev/drbd0 is $old bytes, drbdmeta's data area $(bm_offset "$BOB")"
# data at the end of the old area, to be kept
on "$BOB" "head -c 1048576 /dev/urandom > /tmp/pattern && dd if=/tmp/pattern of=/dev/drbd0 bs=1048576 seek=$(( old / 1048576 - 1 )) oflag=direct conv=notrunc status=none"
pat=$(on "$BOB" "md5sum < /tmp/pattern")
say "  /dev/drbd0 is $old bytes on both; 1 MiB of data written at its end on $BOB_HOST"

say "only $BOB_HOST's partition grown (160 MiB): drbdadm resize changes nothing (the smallest node's size counts)"
grow_partition "$BOB" 160M
[ "$(on "$BOB" "blockdev --getsize64 /dev/vdb1")" = $(( 160 << 20 )) ] || fail "$BOB_HOST: /dev/vdb1 did not grow"
on "$BOB" "drbdadm resize r0" || fail "drbdadm resize r0 (peer not grown) failed"
[ "$(size_of "$BOB")" = "$old" ] && [ "$(size_of "$ALICE")" = "$old" ] || fail "size changed although $ALICE_HOST did not grow: $(size_of "$BOB") / $(size_of "$ALICE")"
wait_for 5 "$BOB" "journalctl -u drbd-standin-r0 --no-pager | grep -q 'Aborting cluster-wide size change .* size unchanged'" || fail "no 'size unchanged' in $BOB_HOST's log"
# drbdadm resize ran drbdsetup check-resize: the new size is the last known one
on "$BOB" "head -n 1 /var/lib/drbd/drbd-minor-0.lkbd" | grep -q "^$(( 160 << 20 ))	/dev/vdb1$" || fail "lkbd: $(on "$BOB" "cat /var/lib/drbd/drbd-minor-0.lkbd")"

say "$ALICE_HOST's partition grown to 140 MiB, drbdadm resize on $ALICE_HOST (Secondary): both grow to what $ALICE_HOST allows"
grow_partition "$ALICE" 140M
on "$ALICE" "drbdadm resize r0" || fail "drbdadm resize r0 on $ALICE_HOST failed"
new=$(size_of "$ALICE")
[ "$new" -gt $(( old + (39 << 20) )) ] && [ "$new" -lt $(( 140 << 20 )) ] || fail "$ALICE_HOST: /dev/drbd0 is $new bytes after the resize (was $old)"
[ "$(size_of "$BOB")" = "$new" ] || fail "$BOB_HOST: /dev/drbd0 is $(size_of "$BOB"), $ALICE_HOST's $new"
[ "$(bm_offset "$ALICE")" = "$new" ] || fail "$ALICE_HOST's metadata not at the new end: data area $(bm_offset "$ALICE"), size $new"
[ "$(bm_offset "$BOB")" -gt "$new" ] || fail "$BOB_HOST's metadata not at the new end of its larger partition: $(bm_offset "$BOB")"
for c in "$BOB" "$ALICE"; do
  [ "$(la_size "$c")" = $(( new / 512 )) ] || fail "$c: la-size-sect $(la_size "$c"), expected $(( new / 512 ))"
done
say "  /dev/drbd0 $old -> $new bytes on both; metadata moved (la-size-sect $(( new / 512 )))"

say "the new area synced from the Primary: $ALICE_HOST SyncTarget, then both data areas equal, the data kept"
wait_for 30 "$ALICE" "[ \"\$(drbdadm dstate r0)\" = UpToDate/UpToDate ]" || fail "resync after grow did not end: $(on "$ALICE" "drbdadm status r0")"
wait_for 5 "$BOB" "journalctl -u drbd-standin-r0 --no-pager | grep -qF 'resync of volume 0 to $ALICE_HOST done ($(( new - old )) bytes from offset $old)'" \
  || fail "no resync of the new area only in $BOB_HOST's log: $(on "$BOB" "journalctl -u drbd-standin-r0 --no-pager | grep resync")"
sb=$(on "$BOB" "head -c $new /dev/vdb1 | md5sum"); sa=$(on "$ALICE" "head -c $new /dev/vdb1 | md5sum")
[ "$sb" = "$sa" ] || fail "data areas differ after the resync: $sb vs $sa"
got=$(on "$BOB" "dd if=/dev/drbd0 bs=1048576 skip=$(( old / 1048576 - 1 )) count=1 iflag=direct status=none | md5sum")
[ "$got" = "$pat" ] || fail "the data written before the grow changed"
gb=$(on "$BOB" "drbdadm get-gi r0"); ga=$(on "$ALICE" "drbdadm get-gi r0")
[ "${gb%%:*}" = "${ga%%:*}" ] || fail "current UUIDs differ: $gb / $ga"
on "$ALICE" "drbdadm resize r0" || fail "a second resize failed"
[ "$(size_of "$BOB")" = "$new" ] || fail "a second resize changed the size"

say "a resize during a resync is refused: (130) Resize not allowed during resync."
on "$BOB" "drbdadm peer-device-options --resync-rate=20M r0"
on "$ALICE" "drbdadm disconnect r0 && drbdadm connect r0"
wait_for 10 "$BOB" "drbdadm status r0 | grep -q replication:SyncSource" || fail "no resync after reconnect: $(on "$BOB" "drbdadm status r0")"
out=$(on "$BOB" "drbdadm resize r0 2>&1") && fail "resize during a resync succeeded: $out"
grep -q '(130) Resize not allowed during resync.' <<<"$out" || fail "resize during a resync: '$out'"
on "$BOB" "drbdadm peer-device-options --resync-rate=200M r0"
wait_for 30 "$ALICE" "[ \"\$(drbdadm dstate r0)\" = UpToDate/UpToDate ]" || fail "resync did not end"

say "down/up on $ALICE_HOST: the agreed size is kept (la-size-sect), not all of its partition"
out=$(on "$ALICE" "drbdadm down r0 && drbdadm up r0 2>&1") || fail "down/up on $ALICE_HOST: $out"
# the activity log moved with the metadata (apply-al at up reads it)
grep -q 'No usable activity log' <<<"$out" && fail "$ALICE_HOST: the activity log did not move: $out"
wait_for 10 "$ALICE" "[ \"\$(drbdadm dstate r0)\" = UpToDate/UpToDate ]" || fail "$ALICE_HOST not UpToDate after up: $(on "$ALICE" "drbdadm status r0")"
[ "$(size_of "$ALICE")" = "$new" ] || fail "$ALICE_HOST: /dev/drbd0 is $(size_of "$ALICE") after up, expected $new"
on "$BOB" "drbdadm down r0 && drbdadm up r0 && drbdadm primary r0" || fail "down/up/primary on $BOB_HOST"
[ "$(size_of "$BOB")" = "$new" ] || fail "$BOB_HOST: /dev/drbd0 is $(size_of "$BOB") after up (its partition allows more), expected $new"
for c in "$BOB" "$ALICE"; do on "$c" "drbdadm down r0"; done
say "PASS: resize checks passed"
