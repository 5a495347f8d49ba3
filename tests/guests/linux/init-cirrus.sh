#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the Cirrus initramfs (mkcirrus.sh), driven by tests/guests/cirrus-linux.py:
# loads Debian's cirrus DRM driver, reports what it made of the card (the PCI function it
# bound, the framebuffer's name, size and depth), writes text on the framebuffer console
# (tty1), and prints VIREO-CIRRUS-READY for the host's screendump.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "VIREO-LINUX-BOOT-OK"
for m in $(cat /lib/modules/order); do
    insmod "/lib/modules/$m.ko" || echo "VIREO-CIRRUS-FAILED insmod $m"
done
i=0
while [ ! -e /sys/class/graphics/fb0/virtual_size ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
for d in /sys/bus/pci/devices/*; do
    if [ "$(cat "$d/vendor")" = 0x1013 ]; then
        echo "VIREO-CIRRUS-PCI $(cat "$d/vendor") $(cat "$d/device") $(cat "$d/class") $(basename "$(readlink "$d/driver")")"
    fi
done
fb=/sys/class/graphics/fb0
echo "VIREO-CIRRUS-FB $(cat $fb/name 2>/dev/null) $(cat $fb/virtual_size 2>/dev/null) $(cat $fb/bits_per_pixel 2>/dev/null)"
# Text on the framebuffer console: a screenful of lines.
printf '\033[2J\033[H' > /dev/tty1
n=0
while [ $n -lt 30 ]; do
    echo "Vireo Cirrus CL-GD5446: line $n of text on the Linux framebuffer console" > /dev/tty1
    n=$((n + 1))
done
sleep 1
dmesg | grep -iE "cirrus|fbcon|drm" | sed 's/^/VIREO-CIRRUS-DMESG /'
dmesg | grep -E "BUG:|Oops|WARNING: CPU" | sed 's/^/VIREO-CIRRUS-FAILED kernel: /' 
echo "VIREO-CIRRUS-READY"
while true; do sleep 10; done
