#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the network initramfs (mknet.sh), driven by tests/guests/net.py through the
# kernel command line:
#   vireo.nic=e1000|ne2k_pci|rtl8139|virtio_net|ne   the driver to load (ne: vireo.ne=IO,IRQ)
#   vireo.ip=ADDR                 a static address on a /24 instead of DHCP (TAP)
#   vireo.http=PORT               fetch http://10.0.2.2:PORT/blob, print its SHA-256
#   vireo.httphost=ADDR           ... from ADDR instead of 10.0.2.2
#   vireo.echo=PORT               serve two TCP echo connections on PORT (busybox nc)
#   vireo.carrier=on              then follow eth0's carrier: down, then up again
# Each step prints a VIREO-NET-* line on the serial console; the host checks them.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o size=200m tmpfs /tmp
echo "VIREO-LINUX-BOOT-OK"

arg() { sed -n "s/.*vireo\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
# How the kernel was started (net.py --pxe looks for its iPXE script's token).
echo "VIREO-NET-CMDLINE $(cat /proc/cmdline)"
nic=$(arg nic)
case "$nic" in
    e1000) insmod /lib/modules/e1000.ko ;;
    ne2k_pci) insmod /lib/modules/8390.ko && insmod /lib/modules/ne2k_pci.ko ;;
    rtl8139) insmod /lib/modules/mii.ko && insmod /lib/modules/8139too.ko ;;
    virtio_net)
        # The virtio chain in the order pickmodules.py found for it.
        for m in $(cat /lib/modules/order); do
            case "$m" in virtio* | failover | net_failover) insmod "/lib/modules/$m.ko" || break ;; esac
        done ;;
    ne)
        ne=$(arg ne)
        insmod /lib/modules/8390p.ko && insmod /lib/modules/ne.ko io="${ne%,*}" irq="${ne#*,}" ;;
esac || echo "VIREO-NET-FAILED insmod $nic"

i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "VIREO-NET-MAC $(cat /sys/class/net/eth0/address 2>/dev/null)"
ifconfig lo 127.0.0.1 up
ifconfig eth0 up

cat > /tmp/dhcp.sh <<'EOS'
#!/bin/sh
case "$1" in
    bound|renew)
        ifconfig "$interface" "$ip" netmask "$subnet"
        route add default gw "$router" dev "$interface"
        echo "VIREO-NET-IP $ip router $router dns $dns"
        ;;
esac
EOS
chmod 755 /tmp/dhcp.sh
ip=$(arg ip)
if [ -n "$ip" ]; then
    ifconfig eth0 "$ip" netmask 255.255.255.0 && echo "VIREO-NET-IP $ip static"
else
    udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 20 -T 1 || echo "VIREO-NET-FAILED dhcp"
fi

port=$(arg http)
if [ -n "$port" ]; then
    t0=$(cut -d' ' -f1 /proc/uptime)
    host=$(arg httphost)
    if wget -q -O /tmp/blob "http://${host:-10.0.2.2}:$port/blob"; then
        t1=$(cut -d' ' -f1 /proc/uptime)
        echo "VIREO-NET-FETCH $(sha256sum /tmp/blob | cut -d' ' -f1) $(wc -c < /tmp/blob) in $t0..$t1 s"
    else
        echo "VIREO-NET-FAILED wget"
    fi
    rm -f /tmp/blob
fi

port=$(arg echo)
if [ -n "$port" ]; then
    # Twice: through the -netdev's forward, then through one added at run time. READY
    # once nc listens, so the host's connection does not meet a closed port.
    for n in "" 2; do
        nc -l -p "$port" -e /bin/cat &
        i=0
        while ! netstat -ltn | grep -q ":$port " && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        echo "VIREO-NET-ECHO$n-READY $port"
        wait $! || echo "VIREO-NET-FAILED nc"
    done
    echo "VIREO-NET-ECHO-DONE"
fi

if [ "$(arg carrier)" = on ]; then
    for want in 0 1; do
        i=0
        while [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" != "$want" ] && [ $i -lt 600 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        echo "VIREO-NET-CARRIER $(cat /sys/class/net/eth0/carrier 2>/dev/null)"
    done
fi
# The host reads the card's counters before the guest powers off: it says it is done by
# connecting once more to the echo port (the -netdev's forward).
port=$(arg echo)
if [ -n "$port" ]; then
    nc -l -p "$port" -e /bin/true &
    i=0
    while ! netstat -ltn | grep -q ":$port " && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    echo "VIREO-NET-DONE"
    wait $!
else
    echo "VIREO-NET-DONE"
fi
poweroff -f
