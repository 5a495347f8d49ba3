#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the USB disk benchmark's initramfs (bench/usb/run.py): loads the EHCI, xHCI and
# USB storage drivers, then on /dev/sda (usb-storage) writes and reads ubench.mib MiB
# sequentially in 64 KiB direct requests (O_DIRECT: no page cache), timed with the
# guest's uptime, and prints one BENCH line (and BENCH-PHASE lines as each phase starts
# and ends, for the host's CPU time).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m.ko"; done
i=0
while [ ! -e /dev/sda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
mib=$(sed -n 's/.*ubench\.mib=\([0-9]*\).*/\1/p' /proc/cmdline)
n=$((mib * 16))
now() { cut -d' ' -f1 /proc/uptime; }
if [ -e /dev/sda ]; then
    # The host reads its emulator's CPU time at each BENCH-PHASE line.
    echo "BENCH-PHASE 0"
    t0=$(now)
    dd if=/dev/zero of=/dev/sda bs=64k count=$n oflag=direct 2>/dev/null
    t1=$(now)
    echo "BENCH-PHASE 1"
    dd if=/dev/sda of=/dev/null bs=64k count=$n iflag=direct 2>/dev/null
    t2=$(now)
    echo "BENCH-PHASE 2"
    echo "BENCH sda $t0 $t1 $t2"
else
    echo "BENCH-MISSING sda"
fi
echo "BENCH-DONE"
poweroff -f
