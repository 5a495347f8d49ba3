#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The USB initramfs from the Linux boot kit (mkkit.sh): the kit's busybox, the USB host,
# HID and storage modules of the kit's kernel package (uhci-hcd, usbhid, hid-generic,
# evdev, usb-storage, sd_mod and what they depend on, picked as mkmedia.sh picks the
# disk modules), a copy of usbcore.ko as /payload (data the test writes to a USB disk
# and finds in the image) and init-usb.sh.
# Usage: mkusb.sh KITDIR      (exits 77 when the kernel package cannot be downloaded)
set -eu

kit=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cd "$kit"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$kit/.usb-lock"
    flock 9
fi
skip() { echo "SKIP: $*"; exit 77; }
[ -f vmlinuz ] && [ -x busybox ] || { echo "mkusb: run mkkit.sh first"; exit 1; }

wanted="uhci_hcd usbhid hid_generic evdev crct10dif_generic usb_storage sd_mod"
kpkg=$(cat kernel-package)
if [ ! -f usb-modules/order ] || [ "$(cat usb-modules/package 2>/dev/null)" != "$kpkg $wanted" ]; then
    rm -rf debs-usb.tmp usb-modules && mkdir debs-usb.tmp usb-modules
    (cd debs-usb.tmp && apt-get download -q "$kpkg:i386" >/dev/null) || skip "cannot download $kpkg:i386"
    dpkg-deb -x debs-usb.tmp/"$kpkg"_*.deb debs-usb.tmp/x
    # shellcheck disable=SC2086
    python3 "$here/pickmodules.py" debs-usb.tmp/x/lib/modules usb-modules $wanted
    echo "$kpkg $wanted" > usb-modules/package
    rm -rf debs-usb.tmp
fi

common="dir:bin dir:dev dir:proc dir:sys dir:tmp dir:root dir:etc file:bin/busybox=$kit/busybox:755"
mods="dir:lib dir:lib/modules file:lib/modules/order=$kit/usb-modules/order:644"
for m in $(cat usb-modules/order); do
    mods="$mods file:lib/modules/$m.ko=$kit/usb-modules/$m.ko:644"
done
# shellcheck disable=SC2086
python3 "$here/mkinitramfs.py" initrd-usb.img.tmp $common $mods "file:init=$here/init-usb.sh:755" \
    "file:payload=$kit/usb-modules/usbcore.ko:644"
mv initrd-usb.img.tmp initrd-usb.img
echo "usb initramfs: $kit/initrd-usb.img ($(cat usb-modules/order | tr '\n' ' '))"
