# Shared by the stand-in's self-tests (selftest.sh, selftest-fencing-peers.sh, selftest-resize.sh),
# which drive running node containers with `docker exec`. Sourced; each
# script defines its own fail().
t0=$(date +%s)
say() { printf '[%3ds] %s\n' $(( $(date +%s) - t0 )) "$*"; }
on() { local c=$1; shift; docker exec "$c" bash -c "$*"; }
# wait_for SECONDS CONTAINER COMMAND: until COMMAND succeeds in CONTAINER
wait_for() {
  local secs=$1 c=$2; shift 2
  local end=$(( $(date +%s) + secs ))
  until on "$c" "$*" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}
ip_of() { on "$1" "ip -4 -o addr show scope global | awk '{print \$4}' | cut -d/ -f1 | head -n1"; }
# freeze CONTAINER...: docker pause each, retried: runc's cgroup freeze can
# time out on a loaded machine ("OCI runtime pause failed: unable to freeze"),
# and then leaves the container running
freeze() {
  local c i
  for c in "$@"; do
    for i in 1 2 3 4 5; do
      docker pause "$c" >/dev/null 2>&1 && break
      [ "$(docker inspect -f '{{.State.Paused}}' "$c")" = true ] && break
      [ "$i" -lt 5 ] || { docker pause "$c" >/dev/null; return 1; }
      sleep 1
    done
  done
}
