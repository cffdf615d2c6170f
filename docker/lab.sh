#!/usr/bin/env bash
# The main job, end to end, on this machine: engine + node image (from nothing
# if need be), the two-node lab (bob, alice), then ha-provision applies the
# Kopano chapter (playbooks/kopano-drbd.yaml, named by inventory/lab.yaml).
#   bash docker/lab.sh                  set up and converge the lab (Kopano chapter)
#   bash docker/lab.sh mutual-failover  the same lab with 003's layout instead
#                                       (inventory/lab-mutual-failover.yaml; on a fresh lab)
#   bash docker/lab.sh down             remove the lab
set -euo pipefail
cd "$(dirname "$0")/.."
export TESTCONTAINERS_RYUK_DISABLED=true
case "${1:-up}" in
  down) exec npx tsx docker/lab.ts down ;;
  up) inventory=inventory/lab.yaml ;;
  mutual-failover) inventory=inventory/lab-mutual-failover.yaml ;;
  *) echo "usage: bash docker/lab.sh [up|mutual-failover|down]" >&2; exit 2 ;;
esac
[ -d node_modules ] || npm ci --no-audit --no-fund
bash docker/testbed.sh
npm run -s build
npx tsx docker/lab.ts up
# corosync's shared key, made once per lab (inventory/lab.yaml reads it as
# secrets.corosync_authkey: {file: ...}); owner-only, never printed.
key=.state/lab/corosync-authkey
if [ ! -s "$key" ]; then
  (umask 077; head -c 256 /dev/urandom | base64 -w0 > "$key")
fi
chmod 600 "$key"
# The main job: converge the lab with the playbook inventory/lab.yaml names.
node bin/ha-provision.js apply "$inventory"
ssh_to() { echo "ssh -i .state/lab/id_ed25519 -o UserKnownHostsFile=.state/lab/known_hosts -p $1 root@127.0.0.1"; }
echo
echo "Where to look:"
echo "  cluster status:  $(ssh_to 2201) crm_mon -1"
echo "  DRBD:            $(ssh_to 2201) drbdadm status"
echo "                   $(ssh_to 2202) drbdadm status"
echo "  a second run:    node bin/ha-provision.js plan $inventory   (changes nothing)"
echo "  the chapter's tests: 11.6 docker kill the active node's container; 11.7 kill -9 mariadbd on it"
