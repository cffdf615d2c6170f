#!/usr/bin/env bash
# Tools the test suite and the benchmark need on the controller machine
# itself, installed from Debian's packages when missing: OpenSSH's sshd (the
# loopback sshd harness, test/support/sshd.ts, runs its own daemons; the
# system service is not started) and sudo (password-sudo tests).
set -euo pipefail
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v sudo >/dev/null || missing+=(sudo)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "host-tools: installing ${missing[*]}"
# Keep package scripts from starting the system sshd.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
