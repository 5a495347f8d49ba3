#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the media initramfs (mkmedia.sh): like init-test.sh, and when the command line
# names a disk partition (vireo.disk=/dev/sda1), it loads the IDE disk modules, mounts it,
# prints what an earlier boot left there, counts this boot in a file, and unmounts before
# powering off. vireo.workload=off skips the workload.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o size=200m tmpfs /tmp
echo "VIREO-LINUX-BOOT-OK"

for m in $(cat /lib/modules/order); do
    insmod /lib/modules/$m.ko || echo "VIREO-MODULE-FAILED $m"
done

disk=$(sed -n 's/.*vireo\.disk=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$disk" ]; then
    i=0
    while [ ! -b "$disk" ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    echo "VIREO-DISK-DEVICES $(cd /sys/block && echo *)"
    if mount -t vfat "$disk" /mnt; then
        n=0
        if [ -f /mnt/BOOTS.TXT ]; then
            n=$(cat /mnt/BOOTS.TXT)
            echo "VIREO-DISK-READ $n"
        fi
        n=$((n + 1))
        echo "$n" > /mnt/BOOTS.TXT
        sync
        umount /mnt
        echo "VIREO-DISK-WROTE $n"
    else
        echo "VIREO-DISK-FAILED cannot mount $disk"
    fi
fi
if ! grep -q 'vireo.workload=off' /proc/cmdline; then
    . /workload.sh
    echo "VIREO-WORKLOAD-DONE"
fi
poweroff -f
