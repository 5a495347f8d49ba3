#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The virtio initramfs from the Linux boot kit (mkkit.sh): the kit's busybox, the virtio
# drivers of the kit's kernel package (virtio_pci, virtio_blk, virtio_rng, virtio_net and
# what they need, picked as mkmedia.sh picks the disk drivers) and init-virtio.sh as /init.
#   initrd-virtio.img
# Usage: mkvirtio.sh KITDIR      (exits 77 when the package archive cannot be reached)
set -eu

kit=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cd "$kit"
# Virtio tests run in parallel (meson test) and share the kit: one builder at a time.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$kit/.virtio-lock"
    flock 9
fi
skip() { echo "SKIP: $*"; exit 77; }
[ -f vmlinuz ] && [ -f busybox ] || { echo "mkvirtio: run mkkit.sh first"; exit 1; }

want="virtio_pci virtio_blk virtio_rng virtio_net"
kpkg=$(cat kernel-package)
if [ ! -f modules-virtio/order ] || [ "$(cat modules-virtio/package 2>/dev/null)" != "$kpkg" ]; then
    rm -rf debs-virtio.tmp modules-virtio && mkdir debs-virtio.tmp
    (cd debs-virtio.tmp && apt-get download -q "$kpkg:i386" >/dev/null) || skip "cannot download $kpkg:i386"
    dpkg-deb -x debs-virtio.tmp/"$kpkg"_*.deb debs-virtio.tmp/x
    # shellcheck disable=SC2086
    python3 "$here/pickmodules.py" debs-virtio.tmp/x/lib/modules modules-virtio $want
    echo "$kpkg" > modules-virtio/package
    rm -rf debs-virtio.tmp
fi

if [ ! -f initrd-virtio.img ] || [ "$here/init-virtio.sh" -nt initrd-virtio.img ] || [ modules-virtio/order -nt initrd-virtio.img ]; then
    common="dir:bin dir:dev dir:proc dir:sys dir:tmp dir:root dir:etc file:bin/busybox=$kit/busybox:755"
    mods="dir:lib dir:lib/modules file:lib/modules/order=$kit/modules-virtio/order:644"
    for m in $(cat modules-virtio/order); do
        mods="$mods file:lib/modules/$m.ko=$kit/modules-virtio/$m.ko:644"
    done
    # shellcheck disable=SC2086
    python3 "$here/mkinitramfs.py" initrd-virtio.img.tmp $common $mods "file:init=$here/init-virtio.sh:755"
    mv initrd-virtio.img.tmp initrd-virtio.img
fi
echo "virtio initramfs: $kit/initrd-virtio.img ($(tr '\n' ' ' < modules-virtio/order))"
