#!/bin/bash
# Installs the test bed's DRBD kernel stand-in into a Debian root (run in the
# image chroot by docker/image/build.sh, or inside a running node).  Real
# drbd-utils is installed later by the tool under test, with apt: the
# diversions below make dpkg put its files aside (*.real) and leave ours.
set -euo pipefail
d=/usr/lib/drbd-standin
divert() { # path, where the packaged file goes
  dpkg-divert --quiet --local --add --rename --divert "$2" "$1"
}
divert /sbin/drbdsetup /sbin/drbdsetup.real
ln -sfn $d/drbdsetup /usr/sbin/drbdsetup
divert /sbin/modinfo /sbin/modinfo.kmod
ln -sfn $d/modinfo /usr/sbin/modinfo
divert /sbin/modprobe /sbin/modprobe.kmod
ln -sfn $d/modprobe /usr/sbin/modprobe
install -d /usr/lib/ocf/resource.d/linbit
divert /usr/lib/ocf/resource.d/linbit/drbd $d/ocf-linbit-drbd.real
ln -sfn $d/ocf-linbit-drbd /usr/lib/ocf/resource.d/linbit/drbd
install -d -m 0755 /var/lib/drbd-standin
