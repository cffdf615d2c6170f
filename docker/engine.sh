#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
#
# - An engine that already answers is left alone.
# - Otherwise Debian's docker.io (engine, containerd, runc) is installed if
#   missing and dockerd is started in the background, with a runc wrapper as
#   its default runtime: this VM's capability bounding set lacks
#   CAP_SYS_RESOURCE, so `--privileged` containers fail with "unable to apply
#   caps" unless that capability is removed from the OCI spec first
#   (see docker/runc-nocap and ../shared/notes/testbed.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log=${HA_ENGINE_LOG:-/var/log/ha-provision-dockerd.log}
t0=$(date +%s%N)

answers() { timeout 10 docker info >/dev/null 2>&1; }

if answers; then
  echo "engine: a Docker engine already answers; leaving it alone"
  exit 0
fi

if ! command -v dockerd >/dev/null; then
  echo "engine: installing docker.io from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io iptables ca-certificates python3 >/dev/null
fi

install -m 0755 "$here/runc-nocap" /usr/local/sbin/runc-nocap
mkdir -p /etc/docker
cat > /etc/docker/daemon.json <<JSON
{
  "storage-driver": "overlay2",
  "runtimes": { "runc-nocap": { "path": "/usr/local/sbin/runc-nocap" } },
  "default-runtime": "runc-nocap"
}
JSON

# containerd is started by dockerd itself when none runs.
echo "engine: starting dockerd (log: $log)"
nohup setsid dockerd >>"$log" 2>&1 </dev/null &
for _ in $(seq 1 60); do
  if answers; then
    echo "engine: ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    exit 0
  fi
  sleep 0.5
done
echo "engine: dockerd did not answer within 30 s; last lines of $log:" >&2
tail -n 30 "$log" >&2
exit 1
