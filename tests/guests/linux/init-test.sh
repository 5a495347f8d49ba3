#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the Linux test initramfs: mount the usual file systems, run a workload whose
# output depends only on its input, print the results between markers, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o size=200m tmpfs /tmp

stamp() { read up idle < /proc/uptime; echo "VIREO-PHASE $1 $up"; }

echo "VIREO-LINUX-BOOT-OK"
# The processors Linux brought up (-smp): both counts must say the same.
echo "VIREO-NPROC $(nproc) $(grep -c '^processor' /proc/cpuinfo)"
stamp boot
. /workload.sh
stamp done
echo "VIREO-WORKLOAD-DONE"
poweroff -f
