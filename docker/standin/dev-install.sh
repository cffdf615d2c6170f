#!/bin/bash
# Copies the stand-ins into running test bed containers (for iterating
# without rebuilding the image): dev-install.sh CONTAINER...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for c in "$@"; do
  tar -C "$here/files" -c . | docker exec -i "$c" tar -C / -x --no-same-owner
  docker cp "$here/../image/rootfs/etc/systemd/system/ha-bed-udev.service" "$c:/etc/systemd/system/"
  docker exec "$c" bash -c '/usr/lib/drbd-standin/install.sh && systemctl daemon-reload && systemctl enable --quiet ha-bed-udev && systemctl restart ha-bed-udev'
done
