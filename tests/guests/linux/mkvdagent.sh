#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The vdagent initramfs: virtio_pci, virtio_console, init-vdagent.sh and the test agent
# (vdagent-guest.c built -m32 -static by meson; it runs only inside the guest).
#   initrd-vdagent.img
# Usage: mkvdagent.sh KITDIR AGENT   (exits 77 when the package archive cannot be reached)
here=$(cd "$(dirname "$0")" && pwd)
agent=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
exec sh "$here/mkmodinitrd.sh" "$1" vdagent "$here/init-vdagent.sh" "virtio_pci virtio_console" \
    "file:bin/vdagent-guest=$agent:755"
