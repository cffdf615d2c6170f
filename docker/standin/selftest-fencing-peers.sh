#!/usr/bin/env bash
# Self-test of the DRBD stand-in's resource-level fencing with several peers
# (DRBD 9: per connection), on three running node containers:
#   docker/standin/selftest-fencing-peers.sh A B C
# The containers must run the node image with a data disk /dev/vdb, on one
# Docker network. It installs drbd-utils if missing, WIPES /dev/vdb, and
# pauses/unpauses B and C. One resource r9 in a connection-mesh of the three,
# fencing resource-and-stonith, a test handler that records its environment,
# sleeps 3 s and exits 4. A is Primary. Exits non-zero at the first failed check.
set -euo pipefail
A=${1:-ams}; B=${2:-fra}; C=${3:-par}
. "$(dirname "$0")/selftest-lib.sh"
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  docker unpause "$B" "$C" >/dev/null 2>&1 || true
  for c in "$A" "$B" "$C"; do
    printf '%s journal:\n' "$c" >&2; docker exec "$c" journalctl -u drbd-standin-r9 --no-pager -o cat 2>&1 | grep -v '^  ' | tail -n 40 >&2
  done
  exit 1
}

say "drbd-utils on the three nodes"
for c in "$A" "$B" "$C"; do
  on "$c" "dpkg -s drbd-utils >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq drbd-utils >/dev/null 2>&1; }" &
done
wait
declare -A IP HOST
for c in "$A" "$B" "$C"; do IP[$c]=$(ip_of "$c"); HOST[$c]=$(on "$c" "uname -n"); done

say "r9 on ${HOST[$A]} (node-id 0), ${HOST[$B]} (1), ${HOST[$C]} (2): connection-mesh, fencing resource-and-stonith"
for c in "$A" "$B" "$C"; do
  docker exec -i "$c" bash -c 'cat > /usr/local/sbin/standin-test-handler && chmod 755 /usr/local/sbin/standin-test-handler' <<'EOF2'
#!/bin/bash
# standin-test-handler CMD: as a DRBD fence-peer/unfence-peer handler; one record per call
d=/run/standin-test/$1.$DRBD_PEER_NODE_ID; mkdir -p $d
date +%s.%N > $d/start
env | grep -E '^(DRBD_[A-Z0-9_]*|UP_TO_DATE_NODES)=' | sort > $d/env
echo "$1 $DRBD_PEER_NODE_ID $(date +%s.%N)" >> /run/standin-test/calls
[ "$1" = fence-peer ] && sleep 3
date +%s.%N > $d/end
[ "$1" = fence-peer ] && exit 4
exit 0
EOF2
  cat <<EOR | docker exec -i "$c" tee /etc/drbd.d/r9.res >/dev/null
resource r9 {
  net { fencing resource-and-stonith; }
  handlers { fence-peer "/usr/local/sbin/standin-test-handler fence-peer"; unfence-peer "/usr/local/sbin/standin-test-handler unfence-peer"; }
  on ${HOST[$A]} { node-id 0; device /dev/drbd9; disk /dev/vdb; address ${IP[$A]}:7790; meta-disk internal; }
  on ${HOST[$B]} { node-id 1; device /dev/drbd9; disk /dev/vdb; address ${IP[$B]}:7790; meta-disk internal; }
  on ${HOST[$C]} { node-id 2; device /dev/drbd9; disk /dev/vdb; address ${IP[$C]}:7790; meta-disk internal; }
  connection-mesh { hosts ${HOST[$A]} ${HOST[$B]} ${HOST[$C]}; }
}
EOR
  on "$c" "drbdadm down r9 >/dev/null 2>&1; wipefs -q -a /dev/vdb >/dev/null 2>&1; yes yes | drbdadm create-md --force --max-peers=2 r9 >/dev/null 2>&1" || fail "$c: create-md"
  on "$c" "drbdadm up r9" || fail "$c: drbdadm up r9"
done
for c in "$A" "$B" "$C"; do
  wait_for 15 "$c" "[ \$(drbdsetup events2 --now r9 | grep -c '^exists connection .*connection:Connected') = 2 ]" || fail "$c: r9 not Connected to both peers"
done
on "$A" "drbdadm primary --force r9" || fail "primary --force r9"
wait_for 60 "$A" "[ \$(drbdsetup events2 --now r9 | grep -c '^exists peer-device .*replication:Established peer-disk:UpToDate') = 2 ]" || fail "r9 not UpToDate at both peers: $(on "$A" "drbdsetup status r9")"
wait_for 10 "$A" "[ \$(grep -c '^unfence-peer' /run/standin-test/calls) = 2 ]" || fail "expected unfence-peer for each of the two connections after the initial sync: $(on "$A" "cat /run/standin-test/calls 2>&1")"
say "  initial sync done; unfence-peer on ${HOST[$A]} once per connection (peers 1 and 2)"

say "one peer lost (docker pause ${HOST[$C]}): fence-peer for that connection only, with the peer still connected in UP_TO_DATE_NODES"
on "$A" "rm -rf /run/standin-test"
freeze "$C"
tp=$(date +%s.%N)
wait_for 15 "$A" "test -e /run/standin-test/fence-peer.2/start" || fail "no fence-peer for ${HOST[$C]} on ${HOST[$A]}"
st=$(on "$A" "drbdsetup status r9")
w=$(on "$A" 's=$(date +%s.%N); dd if=/dev/urandom of=/dev/drbd9 bs=4k count=1 seek=100 oflag=direct status=none && echo $s $(date +%s.%N)')
sleep 1
ev=$(on "$A" "drbdsetup events2 --now r9")
calls=$(on "$A" "cat /run/standin-test/calls")
env=$(on "$A" "cat /run/standin-test/fence-peer.2/env")
he=$(on "$A" "cat /run/standin-test/fence-peer.2/end"); hs=$(on "$A" "cat /run/standin-test/fence-peer.2/start")
docker unpause "$C" >/dev/null
grep -q 'suspended:fencing' <<<"$(sed -n 1p <<<"$st")" || fail "status while fence-peer runs: '$st'"
read -r ws we <<<"$w"
awk -v we="$we" -v he="$he" 'BEGIN { exit !(we >= he) }' || fail "a write completed at $we, before fence-peer ended at $he"
[ "$(grep -c '^fence-peer' <<<"$calls")" = 1 ] || fail "expected one fence-peer call (peer 2), got: $calls"
for kv in DRBD_PEER_NODE_ID=2 "DRBD_PEER_ADDRESS=${IP[$C]}" "DRBD_MY_ADDRESS=${IP[$A]}" UP_TO_DATE_NODES=0x00000003 DRBD_RESOURCE=r9; do
  grep -qx "$kv" <<<"$env" || fail "fence-peer environment lacks $kv:\n$env"
done
grep -q "^exists resource name:r9 .*suspended:no" <<<"$ev" || fail "I/O still suspended: $ev"
grep -q "^exists peer-device name:r9 peer-node-id:2 .*peer-disk:Outdated" <<<"$ev" || fail "peer 2 not Outdated: $ev"
grep -q "^exists peer-device name:r9 peer-node-id:1 .*replication:Established peer-disk:UpToDate" <<<"$ev" || fail "peer 1 not untouched: $ev"
grep -q "^exists connection name:r9 peer-node-id:1 .*connection:Connected" <<<"$ev" || fail "connection to peer 1 not kept: $ev"
for c in "$B" "$C"; do on "$c" "test -e /run/standin-test/calls && grep -q ^fence-peer /run/standin-test/calls" && fail "$c (Secondary) ran fence-peer"; done
say "$(awk -v p="$tp" -v hs="$hs" -v he="$he" -v ws="$ws" -v we="$we" 'BEGIN { printf "  loss -> fence-peer start %.1f s, handler %.1f s, a write issued %.1f s into it completed %.2f s after it ended; peer 1 Established throughout", hs - p, he - hs, ws - hs, we - he }')"
wait_for 60 "$A" "[ \$(drbdsetup events2 --now r9 | grep -c '^exists peer-device .*replication:Established peer-disk:UpToDate') = 2 ]" || fail "$C not back UpToDate: $(on "$A" "drbdsetup status r9")"
wait_for 10 "$A" "test -e /run/standin-test/unfence-peer.2/end" || fail "no unfence-peer for peer 2 after its resync: $(on "$A" "cat /run/standin-test/calls")"
on "$A" "grep -qx UP_TO_DATE_NODES=0x00000007 /run/standin-test/unfence-peer.2/env" || fail "unfence-peer env: $(on "$A" "cat /run/standin-test/unfence-peer.2/env")"
on "$A" "test -e /run/standin-test/unfence-peer.1" && fail "unfence-peer ran for peer 1, which stayed UpToDate"
say "  ${HOST[$C]} back: resynced, unfence-peer for peer 2 only (UP_TO_DATE_NODES=0x00000007)"

say "both peers lost (docker pause ${HOST[$B]} ${HOST[$C]}): two fence-peer handlers, I/O frozen until both have outdated their peer"
on "$A" "rm -rf /run/standin-test"
freeze "$B" "$C"
tp=$(date +%s.%N)
wait_for 15 "$A" "test -e /run/standin-test/fence-peer.1/start && test -e /run/standin-test/fence-peer.2/start" || fail "not two fence-peer calls: $(on "$A" "cat /run/standin-test/calls 2>&1")"
w=$(on "$A" 's=$(date +%s.%N); dd if=/dev/urandom of=/dev/drbd9 bs=4k count=1 seek=200 oflag=direct status=none && echo $s $(date +%s.%N)')
sleep 1
ev=$(on "$A" "drbdsetup events2 --now r9")
e1=$(on "$A" "cat /run/standin-test/fence-peer.1/end"); e2=$(on "$A" "cat /run/standin-test/fence-peer.2/end")
u1=$(on "$A" "grep ^UP_TO_DATE_NODES= /run/standin-test/fence-peer.1/env"); u2=$(on "$A" "grep ^UP_TO_DATE_NODES= /run/standin-test/fence-peer.2/env")
docker unpause "$B" "$C" >/dev/null
read -r ws we <<<"$w"
awk -v we="$we" -v a="$e1" -v b="$e2" 'BEGIN { exit !(we >= a && we >= b) }' || fail "a write completed at $we, before both handlers ended ($e1, $e2)"
[ "$(grep -c "peer-disk:Outdated" <<<"$ev")" = 2 ] || fail "not both peers Outdated: $ev"
grep -q "^exists resource name:r9 .*suspended:no" <<<"$ev" || fail "I/O still suspended: $ev"
# the lost peers are DUnknown when each handler starts; the other may or may not be outdated by then
say "  both handlers ran ($u1 / $u2), the write completed $(awk -v we="$we" -v a="$e1" -v b="$e2" 'BEGIN { m = a > b ? a : b; printf "%.2f", we - m }') s after the later one"
wait_for 60 "$A" "[ \$(drbdsetup events2 --now r9 | grep -c '^exists peer-device .*replication:Established peer-disk:UpToDate') = 2 ]" || fail "peers not back UpToDate: $(on "$A" "drbdsetup status r9")"
for c in "$A" "$B" "$C"; do on "$c" "drbdadm down r9" || fail "$c: down r9"; done
say "PASS"
