#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the virtio initramfs (mkvirtio.sh), driven by tests/guests/virtio.py through
# the kernel command line:
#   vireo.loops=N     write-and-verify rounds on the disk (the host saves and loads the
#                     VM state while they run)
#   vireo.http=PORT   with a virtio-net card: DHCP, then fetch http://10.0.2.2:PORT/blob
# The disk is /dev/vda; the host filled its first 8 MiB with a pattern whose hash it
# knows. Each step prints a VIREO-VIRTIO-* line on the serial console.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o size=200m tmpfs /tmp
echo "VIREO-LINUX-BOOT-OK"

arg() { sed -n "s/.*vireo\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
hash() { sha256sum | cut -d' ' -f1; }
for m in $(cat /lib/modules/order); do
    insmod "/lib/modules/$m.ko" || echo "VIREO-VIRTIO-FAILED insmod $m"
done
i=0
while { [ ! -e /dev/vda ] || [ ! -e /dev/hwrng ]; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
# Each virtio device's type and whether the driver took the modern interface (feature
# bit 32, VERSION_1, is the 33rd character of the features file).
for d in /sys/bus/virtio/devices/*; do
    echo "VIREO-VIRTIO-DEV $(cat "$d/device") $(cut -c33 "$d/features")"
done
echo "VIREO-VIRTIO-DISK $(cat /sys/block/vda/size 2>/dev/null) $(cat /sys/block/vda/serial 2>/dev/null)"

# The entropy device: two reads of the size asked for.
echo "VIREO-VIRTIO-RNG $(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
dd if=/dev/hwrng of=/tmp/r1 bs=1000 count=1 2>/dev/null
dd if=/dev/hwrng of=/tmp/r2 bs=1000 count=1 2>/dev/null
echo "VIREO-VIRTIO-HWRNG $(wc -c < /tmp/r1) $(wc -c < /tmp/r2) $(hash < /tmp/r1) $(hash < /tmp/r2)"

# The host's pattern, read through the driver.
echo "VIREO-VIRTIO-READ $(dd if=/dev/vda bs=1M count=8 2>/dev/null | hash)"

# 8 MiB written at 16 MiB, read back from the device (not the page cache).
dd if=/dev/urandom of=/tmp/w bs=1M count=8 2>/dev/null
want=$(hash < /tmp/w)
dd if=/tmp/w of=/dev/vda bs=1M seek=16 conv=fsync 2>/dev/null || echo "VIREO-VIRTIO-FAILED write"
echo 3 > /proc/sys/vm/drop_caches
echo "VIREO-VIRTIO-WRITE $want $(dd if=/dev/vda bs=1M skip=16 count=8 2>/dev/null | hash)"

# Discard: 1 MiB at 32 MiB is written, then discarded; it reads as zeros afterwards.
dd if=/tmp/w of=/dev/vda bs=1M seek=32 count=1 conv=fsync 2>/dev/null
blkdiscard -o $((32 << 20)) -l $((1 << 20)) /dev/vda || echo "VIREO-VIRTIO-FAILED blkdiscard"
echo 3 > /proc/sys/vm/drop_caches
echo "VIREO-VIRTIO-DISCARD $(dd if=/dev/vda bs=1M skip=32 count=1 2>/dev/null | hash)"

# Rounds of write, flush, read back and an entropy read, while the host saves and
# loads the VM state.
loops=$(arg loops)
echo "VIREO-VIRTIO-LOOP-START"
n=0
good=0
while [ "$n" -lt "${loops:-0}" ]; do
    off=$((48 + (n % 4) * 8))
    dd if=/tmp/w of=/dev/vda bs=64k seek=$((off * 16)) conv=fsync 2>/dev/null
    echo 3 > /proc/sys/vm/drop_caches
    got=$(dd if=/dev/vda bs=64k skip=$((off * 16)) count=128 2>/dev/null | hash)
    r=$(dd if=/dev/hwrng bs=512 count=1 2>/dev/null | wc -c)
    if [ "$got" = "$want" ] && [ "$r" = 512 ]; then
        good=$((good + 1))
        echo "VIREO-VIRTIO-LOOP $n ok"
    else
        echo "VIREO-VIRTIO-LOOP $n bad $got rng $r"
    fi
    n=$((n + 1))
done
echo "VIREO-VIRTIO-LOOP-DONE $good/$n"

port=$(arg http)
if [ -n "$port" ]; then
    i=0
    while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    echo "VIREO-VIRTIO-MAC $(cat /sys/class/net/eth0/address 2>/dev/null)"
    ifconfig lo 127.0.0.1 up
    ifconfig eth0 up
    cat > /tmp/dhcp.sh <<'EOS'
#!/bin/sh
case "$1" in
    bound|renew)
        ifconfig "$interface" "$ip" netmask "$subnet"
        route add default gw "$router" dev "$interface"
        echo "VIREO-VIRTIO-IP $ip"
        ;;
esac
EOS
    chmod 755 /tmp/dhcp.sh
    udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 20 -T 1 || echo "VIREO-VIRTIO-FAILED dhcp"
    if wget -q -O /tmp/blob "http://10.0.2.2:$port/blob"; then
        echo "VIREO-VIRTIO-FETCH $(hash < /tmp/blob) $(wc -c < /tmp/blob)"
    else
        echo "VIREO-VIRTIO-FAILED wget"
    fi
    # The host takes the link down and up again (QMP set_link): the card's status
    # changes with a configuration interrupt, and the carrier follows.
    for want in 0 1; do
        i=0
        while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != "$want" ] && [ $i -lt 600 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        echo "VIREO-VIRTIO-CARRIER $(cat /sys/class/net/eth0/carrier 2>/dev/null)"
    done
fi
sync
echo "VIREO-VIRTIO-DONE"
poweroff -f
