#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the vdagent initramfs (mkvdagent.sh), driven by tests/guests/vdagent.py: a
# test agent (vdagent-guest) on every virtio-serial port named com.redhat.spice.0, each
# tagged with its virtio-serial card's PCI slot ("s05") and offering the text
# "$vireo.text-s05" as the guest's clipboard. The agents print VDAGENT-<tag> lines on
# the serial console; the guest then idles until the host ends the VM.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "VIREO-LINUX-BOOT-OK"

arg() { sed -n "s/.*vireo\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
for m in $(cat /lib/modules/order); do
    insmod "/lib/modules/$m.ko" || echo "VIREO-VDAGENT-FAILED insmod $m"
done
want=$(arg ports)
i=0
while [ "$(grep -ls com.redhat.spice.0 /sys/class/virtio-ports/*/name | wc -l)" -lt "${want:-1}" ] && [ $i -lt 200 ]; do
    sleep 0.1
    i=$((i + 1))
done
for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = com.redhat.spice.0 ] || continue
    # .../0000:00:05.0/virtio2/virtio-ports/vport2p1: the card's slot names the agent.
    slot=$(readlink -f "$p/device" | sed -n 's|.*/0000:00:\([0-9a-f][0-9a-f]\)\.[0-7]/virtio[0-9]*$|\1|p')
    echo "VIREO-VDAGENT-PORT $(basename "$p") s$slot"
    vdagent-guest "/dev/$(basename "$p")" "s$slot" "$(arg text)-s$slot" &
done
echo "VIREO-VDAGENT-STARTED"
while true; do sleep 1000; done
