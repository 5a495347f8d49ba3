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
# Where Linux placed each: its APIC ID, package and core (from CPUID's topology leaves).
awk -F'\t*: ' '$1 == "processor" { p = $2 } $1 == "physical id" { pk = $2 } $1 == "core id" { c = $2 }
    $1 == "apicid" { print "VIREO-CPU " p " apicid " $2 " package " pk " core " c }' /proc/cpuinfo
# The clocksources the kernel registered and the one it uses (the pc board's HPET is one;
# isapc has none).
cs=/sys/devices/system/clocksource/clocksource0
echo "VIREO-CLOCKSOURCE available: $(cat $cs/available_clocksource)"
echo "VIREO-CLOCKSOURCE current: $(cat $cs/current_clocksource)"
# The ACPI processor device each CPU is bound to (its _UID, which pairs it with the MADT
# entry), "none" when the DSDT has none for it.
for c in /sys/devices/system/cpu/cpu[0-9]*; do
    uid=none
    [ -e "$c/firmware_node/uid" ] && uid=$(cat "$c/firmware_node/uid")
    echo "VIREO-CPU-ACPI ${c##*/cpu} uid $uid"
done
stamp boot
. /workload.sh
stamp done
echo "VIREO-WORKLOAD-DONE"
poweroff -f
