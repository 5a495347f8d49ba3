#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The virtio initramfs: virtio_pci, virtio_blk, virtio_rng, virtio_net, virtio_gpu (DRM with
# fbdev emulation), virtio_console and init-virtio.sh.
#   initrd-virtio.img
# Usage: mkvirtio.sh KITDIR      (exits 77 when the package archive cannot be reached)
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/mkmodinitrd.sh" "$1" virtio "$here/init-virtio.sh" "virtio_pci virtio_blk virtio_rng virtio_net virtio_gpu virtio_console"
