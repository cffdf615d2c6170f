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
# drbdadm-84 (what drbdadm runs on an 8.4 module) calls the drbdsetup-84
# beside it; the stand-in's drbdsetup answers under that name in its 8.4
# personality (/usr/lib is /lib in bookworm: dpkg's path is /lib/drbd)
install -d /usr/lib/drbd /etc/drbd-standin
divert /lib/drbd/drbdsetup-84 /lib/drbd/drbdsetup-84.real
ln -sfn $d/drbdsetup /usr/lib/drbd/drbdsetup-84
install -d /usr/lib/ocf/resource.d/linbit
divert /usr/lib/ocf/resource.d/linbit/drbd $d/ocf-linbit-drbd.real
ln -sfn $d/ocf-linbit-drbd /usr/lib/ocf/resource.d/linbit/drbd
install -d -m 0755 /var/lib/drbd-standin
