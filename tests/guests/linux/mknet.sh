#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The network initramfs: the card drivers (e1000, ne2k-pci, 8139too, virtio_pci and virtio_net, ne) and init-net.sh.
#   initrd-net.img
# Usage: mknet.sh KITDIR      (exits 77 when the package archive cannot be reached)
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/mkmodinitrd.sh" "$1" net "$here/init-net.sh" "e1000 ne2k_pci 8139too virtio_pci virtio_net ne"
