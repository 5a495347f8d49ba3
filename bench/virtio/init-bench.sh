#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the virtio disk benchmark's initramfs (bench/virtio/run.py): loads the disk
# drivers, then on /dev/vda (virtio-blk) and /dev/sda (IDE), or the disks named by
# vbench.disks=vda,sda, runs four phases of vbench.mib MiB each in 4 KiB direct requests
# (O_DIRECT: one request in flight, no page cache): sequential write and read (busybox
# dd), then random write and read within that first part of the disk (randio, one
# process). Each phase is announced with a VBENCH-BEGIN line, then the guest idles 0.3 s
# so that the host can read its own clock and the emulator's CPU time while nothing
# runs; the VBENCH line that ends it gives the guest's uptime at its start and end and
# the guest's own CPU accounting over it (/proc/stat ticks: user, system, idle, iowait).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m.ko"; done
i=0
while { [ ! -e /dev/vda ] || [ ! -e /dev/sda ]; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
arg() { sed -n "s/.*vbench\.$1=\([a-z0-9,]*\).*/\1/p" /proc/cmdline; }
mib=$(arg mib)
n=$((mib * 256))
now() { cut -d' ' -f1 /proc/uptime; }
# user, system, idle and iowait ticks of /proc/stat's cpu line
ticks() { set -- $(sed -n 's/^cpu  //p' /proc/stat); echo "$1 $3 $4 $5"; }
echo "VBENCH-CLOCKSOURCE $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"

phase() {
    d=$1
    p=$2
    shift 2
    echo "VBENCH-BEGIN $d $p"
    sleep 0.3
    c0=$(ticks)
    t0=$(now)
    "$@" 2>/dev/null || echo "VBENCH-FAILED $d $p"
    t1=$(now)
    c1=$(ticks)
    set -- $c0 $c1
    echo "VBENCH $d $p $t0 $t1 $(($5 - $1)) $(($6 - $2)) $(($7 - $3)) $(($8 - $4))"
    sleep 0.3
}

phase none idle sleep 1
disks=$(arg disks)
for d in $(echo "${disks:-vda,sda}" | tr , ' '); do
    [ -e /dev/$d ] || { echo "VBENCH-MISSING $d"; continue; }
    phase $d seqwrite dd if=/dev/zero of=/dev/$d bs=4k count=$n oflag=direct
    phase $d seqread dd if=/dev/$d of=/dev/null bs=4k count=$n iflag=direct
    phase $d randwrite randio /dev/$d w $n $n
    phase $d randread randio /dev/$d r $n $n
done
# How the disks interrupted: INTx through the I/O APIC or MSI-X messages.
grep -E "virtio|ata_piix" /proc/interrupts | tr -s " " | sed "s/^/VBENCH-IRQ/"
echo "VBENCH-DONE"
poweroff -f
