#!/bin/sh
# PID 1 of the test bed hypervisor container (hv): no systemd, the image's
# real sshd in the foreground. The fence user's password and the domain map
# are set afterwards by the bed (docker exec, on stdin): until then the
# account is locked and ha-bed-virsh knows no domain.
set -eu
src=/usr/lib/ha-bed-hv   # this folder, copied in by the bed before the start
install -m 0755 "$src/ha-bed-virsh" /usr/local/sbin/ha-bed-virsh
install -m 0755 "$src/virsh" /usr/local/bin/virsh
install -m 0440 "$src/sudoers-fence" /etc/sudoers.d/ha-bed-fence
visudo -cqf /etc/sudoers.d/ha-bed-fence
install -m 0644 "$src/sshd-fence.conf" /etc/ssh/sshd_config.d/20-hypervisor.conf
id fence >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --user-group fence
# The socket is the engine's (root:docker 0660 on the host): owned by root,
# nothing for others, and the fence user shares no group with it.
sock=/var/run/docker.sock
test -S "$sock" || { echo "hv: no Docker socket at $sock" >&2; exit 1; }
sock_gid=$(stat -c %g "$sock")
case "$(stat -c %u:%a "$sock")" in
  0:*[!0]) echo "hv: $sock is open to others ($(stat -c %U:%G:%a "$sock"))" >&2; exit 1 ;;
  0:*) ;;
  *) echo "hv: $sock is not root's ($(stat -c %U:%G:%a "$sock"))" >&2; exit 1 ;;
esac
for g in $(id -G fence); do
  if [ "$g" = "$sock_gid" ]; then echo "hv: fence is in the socket's group $g" >&2; exit 1; fi
done
install -d -m 0700 /etc/ha-bed
# A container without CAP_AUDIT_CONTROL cannot set the login uid: the session
# would be refused (pam_loginuid is `required` in Debian's sshd PAM stack).
sed -i 's/^session\s\+required\s\+pam_loginuid.so/session optional pam_loginuid.so/' /etc/pam.d/sshd
test -s /etc/ssh/ssh_host_ed25519_key || ssh-keygen -A >/dev/null
install -d -m 0755 /run/sshd
/usr/sbin/sshd -t
exec /usr/sbin/sshd -D -e
