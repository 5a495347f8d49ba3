#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the virtio disk benchmark's initramfs (bench/virtio/run.py): loads the disk
# drivers, then on /dev/vda (virtio-blk) and /dev/sda (IDE) writes and reads
# vbench.mib MiB sequentially in 4 KiB direct requests (O_DIRECT: one request each,
# no page cache), timed with the guest's uptime, and prints one BENCH line per disk.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m.ko"; done
i=0
while { [ ! -e /dev/vda ] || [ ! -e /dev/sda ]; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mib=$(sed -n 's/.*vbench\.mib=\([0-9]*\).*/\1/p' /proc/cmdline)
n=$((mib * 256))
now() { cut -d' ' -f1 /proc/uptime; }
for d in vda sda; do
    [ -e /dev/$d ] || { echo "BENCH-MISSING $d"; continue; }
    t0=$(now)
    dd if=/dev/zero of=/dev/$d bs=4k count=$n oflag=direct 2>/dev/null
    t1=$(now)
    dd if=/dev/$d of=/dev/null bs=4k count=$n iflag=direct 2>/dev/null
    t2=$(now)
    echo "BENCH $d $t0 $t1 $t2"
done
echo "BENCH-DONE"
poweroff -f
