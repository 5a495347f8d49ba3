#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The virtio initramfs: virtio_pci, virtio_blk, virtio_rng, virtio_net, virtio_gpu (DRM with
# fbdev emulation), virtio_console and init-virtio.sh.
#   initrd-virtio.img
# With CURSOR (drm-cursor.asm assembled) the same with it as /bin/drm-cursor:
#   initrd-virtio-cursor.img
# Usage: mkvirtio.sh KITDIR [CURSOR]     (exits 77 when the package archive cannot be reached)
here=$(cd "$(dirname "$0")" && pwd)
mods="virtio_pci virtio_blk virtio_rng virtio_net virtio_gpu virtio_console"
if [ -n "${2:-}" ]; then
    # mkmodinitrd.sh works in the kit's directory: the program's path must not be relative.
    cursor=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
    export MODSET=virtio
    exec sh "$here/mkmodinitrd.sh" "$1" virtio-cursor "$here/init-virtio.sh" "$mods" "file:bin/drm-cursor=$cursor:755"
fi
exec sh "$here/mkmodinitrd.sh" "$1" virtio "$here/init-virtio.sh" "$mods"
