#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The USB initramfs: the USB host, HID and storage modules (ehci-hcd, ehci-pci, uhci-hcd,
# xhci-hcd, xhci-pci, usbhid, hid-generic, evdev, usb-storage, sd_mod), init-usb.sh, and a
# copy of usbcore.ko as /payload (data the test writes to a USB disk and finds in the image).
#   initrd-usb.img
# Usage: mkusb.sh KITDIR      (exits 77 when the kernel package cannot be downloaded)
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/mkmodinitrd.sh" "$1" usb "$here/init-usb.sh" \
    "ehci_hcd ehci_pci uhci_hcd xhci_hcd xhci_pci usbhid hid_generic evdev crct10dif_generic usb_storage sd_mod" "file:payload=MODDIR/usbcore.ko:644"
