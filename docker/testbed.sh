#!/usr/bin/env bash
# Everything the tests need on this machine, from nothing: host tools
# (docker/host-tools.sh: sshd for the loopback harness), a Docker engine
# (docker/engine.sh) and the node image (docker/image/build.sh). Idempotent:
# a second call takes a second.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
t0=$(date +%s%N)
bash "$here/host-tools.sh"
bash "$here/engine.sh"
t1=$(date +%s%N)
image=$(bash "$here/image/build.sh")
t2=$(date +%s%N)
echo "testbed: engine $(( (t1 - t0) / 1000000 )) ms, image $(( (t2 - t1) / 1000000 )) ms -> $image"
