#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The network initramfs from the Linux boot kit (mkkit.sh): the kit's busybox, the
# network card drivers of the kit's kernel package (e1000, ne2k-pci, ne and what they
# need, picked as mkmedia.sh picks the disk drivers) and init-net.sh as /init.
#   initrd-net.img
# Usage: mknet.sh KITDIR      (exits 77 when the package archive cannot be reached)
set -eu

kit=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cd "$kit"
# Network tests run in parallel (meson test) and share the kit: one builder at a time.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$kit/.net-lock"
    flock 9
fi
skip() { echo "SKIP: $*"; exit 77; }
[ -f vmlinuz ] && [ -f busybox ] || { echo "mknet: run mkkit.sh first"; exit 1; }

want="e1000 ne2k_pci ne"
kpkg=$(cat kernel-package)
if [ ! -f modules-net/order ] || [ "$(cat modules-net/package 2>/dev/null)" != "$kpkg" ]; then
    rm -rf debs-net.tmp modules-net && mkdir debs-net.tmp
    (cd debs-net.tmp && apt-get download -q "$kpkg:i386" >/dev/null) || skip "cannot download $kpkg:i386"
    dpkg-deb -x debs-net.tmp/"$kpkg"_*.deb debs-net.tmp/x
    # shellcheck disable=SC2086
    python3 "$here/pickmodules.py" debs-net.tmp/x/lib/modules modules-net $want
    echo "$kpkg" > modules-net/package
    rm -rf debs-net.tmp
fi

if [ ! -f initrd-net.img ] || [ "$here/init-net.sh" -nt initrd-net.img ] || [ modules-net/order -nt initrd-net.img ]; then
    common="dir:bin dir:dev dir:proc dir:sys dir:tmp dir:root dir:etc file:bin/busybox=$kit/busybox:755"
    mods="dir:lib dir:lib/modules"
    for m in $(cat modules-net/order); do
        mods="$mods file:lib/modules/$m.ko=$kit/modules-net/$m.ko:644"
    done
    # shellcheck disable=SC2086
    python3 "$here/mkinitramfs.py" initrd-net.img.tmp $common $mods "file:init=$here/init-net.sh:755"
    mv initrd-net.img.tmp initrd-net.img
fi
echo "net initramfs: $kit/initrd-net.img ($(tr '\n' ' ' < modules-net/order))"
