#!/usr/bin/env bash
# The main job, end to end, on this machine: engine + node image (from nothing
# if need be), the two-node lab (bob, alice), then ha-provision against it.
#   bash docker/lab.sh          set up and converge the lab
#   bash docker/lab.sh down     remove the lab
set -euo pipefail
cd "$(dirname "$0")/.."
export TESTCONTAINERS_RYUK_DISABLED=true
if [ "${1:-up}" = "down" ]; then exec npx tsx docker/lab.ts down; fi
[ -d node_modules ] || npm ci --no-audit --no-fund
bash docker/testbed.sh
npm run -s build
npx tsx docker/lab.ts up
# The main job: converge the lab with the playbook inventory/lab.yaml names.
node bin/ha-provision.js apply inventory/lab.yaml
echo
echo "Look around: node bin/ha-provision.js plan inventory/lab.yaml   (a second run changes nothing)"
