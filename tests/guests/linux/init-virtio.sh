#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the virtio initramfs (mkvirtio.sh), driven by tests/guests/virtio.py through
# the kernel command line:
#   vireo.loops=N     write-and-verify rounds on the disk (the host saves and loads the
#                     VM state while they run)
#   vireo.http=PORT   with a virtio-net card: DHCP, then fetch http://10.0.2.2:PORT/blob
#   vireo.mode=gpu    instead: virtio-serial (the com.redhat.spice.0 port both ways, hvc0)
#                     and virtio-gpu (text and colour blocks on tty1, display-info
#                     changes the host makes), see gpu_mode below
#   vireo.gpu-late=1  (with gpu) virtio_gpu is loaded only after the port's exchange, so
#                     the host sees the VGA's screen first (virtio-vga)
#   vireo.mode=follow virtio-gpu alone (the app's window resize test, tests/ui/resize.c):
#                     the console's size, then every change of the preferred mode
#   vireo.mode=cursor virtio-gpu with a hardware cursor set by /bin/drm-cursor (the
#                     initramfs mkvirtio.sh builds with it, tests/guests/spice.py)
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
    [ "$m" = virtio_gpu ] && [ "$(arg gpu-late)" = 1 ] && continue
    insmod "/lib/modules/$m.ko" || echo "VIREO-VIRTIO-FAILED insmod $m"
done

# Waits up to $2 tenths of a second for the command $1 to succeed.
wait_for() { i=0; while ! eval "$1" && [ $i -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done; }

gpu_mode() {
    # virtio-serial: the named port and the console. The host is connected to both
    # sockets before the guest gets here.
    wait_for 'grep -qs com.redhat.spice.0 /sys/class/virtio-ports/*/name' 100
    for p in /sys/class/virtio-ports/*; do
        echo "VIREO-SERIAL-PORT $(basename "$p") $(cat "$p/name" 2>/dev/null)"
    done
    port=""
    for p in /sys/class/virtio-ports/*; do
        [ "$(cat "$p/name" 2>/dev/null)" = com.redhat.spice.0 ] && port=/dev/$(basename "$p")
    done
    if [ -n "$port" ]; then
        # The host answers a line with the line reversed; read it with the port open.
        exec 5<>"$port"
        echo "vireo-guest-to-host $(arg token)" >&5
        read -r reply <&5
        exec 5>&-
        echo "VIREO-SERIAL-GOT $reply"
        [ "$(arg gpu-late)" = 1 ] && { insmod /lib/modules/virtio_gpu.ko || echo "VIREO-VIRTIO-FAILED insmod virtio_gpu"; }
    else
        echo "VIREO-VIRTIO-FAILED no com.redhat.spice.0 port"
    fi
    wait_for '[ -e /dev/hvc0 ]' 50
    if [ -e /dev/hvc0 ]; then
        echo "vireo-on-hvc0 $(arg token)" > /dev/hvc0
        echo "VIREO-SERIAL-HVC0 $(cat /sys/class/tty/hvc0/dev 2>/dev/null)"
    else
        echo "VIREO-VIRTIO-FAILED no hvc0"
    fi

    # virtio-gpu: the DRM driver's fbdev emulation gives fb0 and the console on tty1.
    conn=/sys/class/drm/card0-Virtual-1
    wait_for "[ -e /sys/class/graphics/fb0/virtual_size ] && [ -e $conn/modes ]" 150
    fb=/sys/class/graphics/fb0
    echo "VIREO-GPU-FB $(cat $fb/name 2>/dev/null) $(cat $fb/virtual_size 2>/dev/null) $(cat $fb/bits_per_pixel 2>/dev/null) $(cat $fb/stride 2>/dev/null)"
    echo "VIREO-GPU-MODES $(head -n1 $conn/modes 2>/dev/null)"
    echo 0 > /sys/class/graphics/fbcon/cursor_blink 2>/dev/null
    printf '\033[2J\033[H' > /dev/tty1
    n=0
    while [ $n -lt 20 ]; do
        echo "Vireo virtio-gpu: line $n of text on the Linux framebuffer console" > /dev/tty1
        n=$((n + 1))
    done
    # Colour blocks on line 20: ten cells each of red, blue and green background
    # (the console's palette: aa0000, 0000aa, 00aa00).
    printf '\033[41m          \033[44m          \033[42m          \033[0m\n' > /dev/tty1
    w=$(cut -d, -f1 $fb/virtual_size); h=$(cut -d, -f2 $fb/virtual_size)
    sleep 1
    echo "VIREO-GPU-READY $w $h"
    # The host changes the display info twice; the console's mode follows each time.
    for want in $(arg modes | tr , ' '); do
        wait_for "[ \"\$(head -n1 $conn/modes)\" = $want ] && [ \"\$(cat /sys/class/drm/card0-Virtual-1/enabled)\" = enabled ]" 600
        sleep 2
        echo "VIREO-GPU-MODE $(head -n1 $conn/modes)"
    done
    dmesg | grep -iE "virtio_gpu|virtio-gpu|\[drm\]" | sed 's/^/VIREO-GPU-DMESG /'
    dmesg | grep -E "BUG:|Oops|WARNING: CPU" | sed 's/^/VIREO-VIRTIO-FAILED kernel: /'
    echo "VIREO-GPU-DONE"
    while true; do sleep 10; done
}
follow_mode() {
    conn=/sys/class/drm/card0-Virtual-1
    fb=/sys/class/graphics/fb0
    wait_for "[ -e $fb/virtual_size ] && [ -e $conn/modes ]" 150
    echo 0 > /sys/class/graphics/fbcon/cursor_blink 2>/dev/null
    printf '\033[2J\033[HVireo virtio-gpu follows the window\n' > /dev/tty1
    echo "VIREO-GPU-READY $(cut -d, -f1 $fb/virtual_size) $(cut -d, -f2 $fb/virtual_size)"
    last=$(head -n1 $conn/modes)
    while true; do
        now=$(head -n1 $conn/modes)
        if [ "$now" != "$last" ] && [ "$(cat $conn/enabled)" = enabled ]; then
            echo "VIREO-GPU-MODE $now"
            last=$now
        fi
        sleep 0.2
    done
}
cursor_mode() {
    fb=/sys/class/graphics/fb0
    wait_for "[ -e $fb/virtual_size ] && [ -e /dev/dri/card0 ]" 150
    echo 0 > /sys/class/graphics/fbcon/cursor_blink 2>/dev/null
    printf '\033[2J\033[HVireo virtio-gpu with a hardware cursor\n' > /dev/tty1
    drm-cursor &
    pid=$!
    wait_for "grep -q 'drm-cursor' /proc/$pid/cmdline 2>/dev/null && [ -n \"\$(ls -l /proc/$pid/fd 2>/dev/null | grep dri)\" ]" 50
    sleep 1
    if ! kill -0 $pid 2>/dev/null; then
        wait $pid
        echo "VIREO-VIRTIO-FAILED drm-cursor exit $?"
    fi
    echo "VIREO-GPU-READY $(cut -d, -f1 $fb/virtual_size) $(cut -d, -f2 $fb/virtual_size)"
    while true; do sleep 10; done
}
if [ "$(arg mode)" = cursor ]; then
    cursor_mode
fi
if [ "$(arg mode)" = gpu ]; then
    gpu_mode
fi
if [ "$(arg mode)" = follow ]; then
    follow_mode
fi
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
# Each queue's interrupt: MSI-X vectors (PCI-MSI) where the board delivers messages.
grep virtio /proc/interrupts | tr -s ' ' | sed 's/^/VIREO-VIRTIO-IRQ/'
sync
echo "VIREO-VIRTIO-DONE"
poweroff -f
