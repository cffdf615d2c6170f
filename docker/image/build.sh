#!/usr/bin/env bash
# Build the test bed's node image from nothing (no registry can be reached):
# debootstrap Debian bookworm, add what every node has (systemd as PID 1,
# OpenSSH, sudo) plus the bed's stand-ins (udev for partitions, the DRBD
# kernel side), and `docker import` the result.
#
# The HA packages (corosync, pacemaker, crmsh, drbd-utils, resource-agents)
# are NOT in this image: installing them is ha-provision's job.
#
# The image is tagged with a digest of this folder, so it is rebuilt exactly
# when its inputs change; `--force` rebuilds anyway.
#   usage: docker/image/build.sh [--force]   prints the image name last
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo="ha-provision/node"
standin="$here/../standin"   # the bed's stand-ins (udev for partitions, DRBD kernel side)
digest=$( (cd "$here" && find . -type f -print0 | sort -z | xargs -0 sha256sum;
           cd "$standin/files" && find . -type f -print0 | sort -z | xargs -0 sha256sum;
           find . -type f -perm -u=x | sort) | sha256sum | cut -c1-12)
image="$repo:$digest"

if [ "${1:-}" != "--force" ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "image: $image is up to date" >&2
  echo "$image"
  exit 0
fi

t0=$(date +%s%N)
if ! command -v debootstrap >/dev/null; then
  echo "image: installing debootstrap from Debian's packages" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
fi
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d /var/tmp/ha-provision-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

packages=(
  systemd systemd-sysv dbus libpam-systemd        # systemd as PID 1
  openssh-server sudo                              # how the tool reaches a node
  iproute2 iputils-ping netcat-openbsd procps less ca-certificates
  fdisk e2fsprogs kmod                             # what a real server has
  python3 python3-fusepy libfuse2 inotify-tools    # the bed's stand-ins
)
echo "image: debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
  bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 40 "$work/debootstrap.log" >&2; exit 1; }
t1=$(date +%s%N)

cp -a "$here/rootfs/." "$rootfs/"
cp -a "$standin/files/." "$rootfs/"
chroot "$rootfs" /usr/lib/drbd-standin/install.sh
chroot "$rootfs" /bin/bash -euo pipefail <<'CHROOT'
# Host keys are generated per container at first boot (ssh-hostkeys.service).
rm -f /etc/ssh/ssh_host_*
# Units a container cannot or must not run.
for u in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
         systemd-udev-trigger.service systemd-udev-settle.service \
         getty@.service getty.target console-getty.service serial-getty@.service \
         systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount \
         systemd-firstboot.service systemd-journald-audit.socket; do
  ln -sf /dev/null "/etc/systemd/system/$u"
done
systemctl enable ssh-hostkeys.service ssh.service >/dev/null 2>&1
for unit in /etc/systemd/system/ha-bed-*.service; do
  [ -e "$unit" ] && systemctl enable "$(basename "$unit")" >/dev/null 2>&1
done
# A sudo user as on a real server; authorized keys are given per container.
useradd --create-home --shell /bin/bash --groups sudo ha
echo 'ha ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/ha && chmod 0440 /etc/sudoers.d/ha
install -d -m 0700 /root/.ssh
install -d -m 0700 -o ha -g ha /home/ha/.ssh
: > /etc/machine-id
echo 'APT::Install-Recommends "false";' > /etc/apt/apt.conf.d/90norecommends
apt-get clean
rm -rf /var/lib/apt/lists/*
CHROOT
# The container gets /etc/hosts and /etc/hostname from Docker.
tar -C "$rootfs" -c . | docker import \
  --change 'CMD ["/sbin/init"]' --change 'ENV container=docker' \
  --change 'LABEL org.ha-provision.image=node' - "$image" >/dev/null
t2=$(date +%s%N)
echo "image: built $image (debootstrap $(( (t1 - t0) / 1000000 )) ms, configure+import $(( (t2 - t1) / 1000000 )) ms)" >&2
echo "$image"
