#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the USB initramfs (mkusb.sh): loads the USB and HID modules, waits for
# vireo.usb=N devices to enumerate, prints their products and the input devices, then
# records every input event device until the USB keyboard has sent a key press and
# release (the host's signal that it is done), and prints the records with od for the
# host to decode (struct input_event on i386: 8 bytes of time, u16 type, u16 code,
# s32 value). Powers off at the end.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o size=16m tmpfs /tmp
echo "VIREO-LINUX-BOOT-OK"

for m in $(cat /lib/modules/order); do
    insmod /lib/modules/$m.ko || echo "VIREO-MODULE-FAILED $m"
done

# Hot plug (vireo.usbhotplug=1): no device at boot; whenever the set of USB devices,
# the USB disk or the input devices changes, one VIREO-USB-LIST line (port:vid:pid:product,
# spaces in products as _), the disk's size and the hash of its first 64 KiB. A USB
# keyboard that appears is read: each time it sent a key press and release, its records
# are printed as in the boot-time mode and VIREO-USB-DONE follows. A USB disk that appears is
# then read in a loop until it goes (the usb-host test's "Mock Disk" first gets 64 KiB of
# /payload written at 1 MiB and read back). Runs until powered off.
if grep -q 'vireo.usbhotplug=1' /proc/cmdline; then
    echo "VIREO-USB-READY"
    last=""
    kbd=""
    reader=""
    while true; do
        now=""
        for p in /sys/bus/usb/devices/*/product; do
            d=${p%/product}
            n=${d##*/}
            case "$n" in usb*) continue ;; esac
            # (A device leaving between the glob and the reads: no error on the
            # console, where it would land in the middle of another line.)
            now="$now $n:$(cat $d/idVendor 2>/dev/null):$(cat $d/idProduct 2>/dev/null):$( { tr ' ' _ < $p; } 2>/dev/null)"
        done
        disk=""
        [ -b /dev/sda ] && disk="$(cat /sys/block/sda/size 2>/dev/null)"
        inputs=$(cat /sys/class/input/event*/device/name 2>/dev/null | tr ' \n' '_,')
        if [ "$now|$disk|$inputs" != "$last" ]; then
            echo "VIREO-USB-LIST$now"
            if [ -n "$disk" ] && [ -z "$reader" ]; then
                echo "VIREO-USB-DISK-SIZE $disk"
                echo "VIREO-USB-DISK-READ $(dd if=/dev/sda bs=4096 count=16 2>/dev/null | md5sum)"
                # The mock disk of usb-host's test gets /payload's first 64 KiB at 1 MiB,
                # read back (each packet is a round trip through umockdev: kept short).
                if grep -q 'Mock Disk' /sys/block/sda/device/model 2>/dev/null; then
                    n=65536
                    dd if=/payload of=/dev/sda bs=512 count=128 seek=2048 conv=fsync 2>/dev/null
                    echo 3 > /proc/sys/vm/drop_caches
                    echo "VIREO-USB-DISK-WROTE $n $(dd if=/dev/sda bs=512 skip=2048 2>/dev/null | head -c $n | md5sum)"
                fi
                # Then the disk is read again and again (the page cache dropped each time),
                # so a device_del finds transfers in flight.
                (while dd if=/dev/sda of=/dev/null bs=65536 2>/dev/null; do
                     echo 1 > /proc/sys/vm/drop_caches
                 done
                 echo "VIREO-USB-DISK-READER-END") &
                reader=1
            fi
            [ -z "$disk" ] && reader=""
            if [ -n "$kbd" ] && [ ! -e /sys/class/input/$kbd ]; then
                kill $kpid 2>/dev/null
                kbd=""
            fi
            for e in /sys/class/input/event*; do
                [ -e "$e" ] || continue
                name=$(cat $e/device/name)
                echo "VIREO-INPUT ${e##*/} $name"
                case "$name" in *"USB Keyboard"*)
                    if [ -z "$kbd" ]; then
                        kbd=${e##*/}
                        cat /dev/input/$kbd > /tmp/$kbd.bin &
                        kpid=$!
                    fi ;;
                esac
            done
            last="$now|$disk|$inputs"
        fi
        if [ -n "$kbd" ] && [ "$(wc -c < /tmp/$kbd.bin)" -ge 96 ]; then
            echo "VIREO-EV-BEGIN $kbd"
            od -An -v -tu2 /tmp/$kbd.bin | while read -r line; do echo "VIREO-EV $kbd $line"; done
            echo "VIREO-USB-DONE"
            # Ready for the next keys on the same keyboard.
            kill $kpid 2>/dev/null
            cat /dev/input/$kbd > /tmp/$kbd.bin &
            kpid=$!
        fi
        sleep 0.2
    done
fi

want=$(sed -n 's/.*vireo\.usb=\([0-9]*\).*/\1/p' /proc/cmdline)
i=0
while [ "$(cat /sys/bus/usb/devices/*/product 2>/dev/null | grep -c '^QEMU USB')" -lt "${want:-1}" ] &&
      [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
for p in /sys/bus/usb/devices/*/product; do
    d=${p%/product}
    echo "VIREO-USB-PRODUCT ${d##*/} $(cat $d/idVendor):$(cat $d/idProduct) $(cat $p)"
    # A device being added has its product before every attribute is readable.
    i=0
    while [ ! -r $d/speed ] && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    echo "VIREO-USB-SPEED ${d##*/} $(cat $d/speed)"
done
# A USB disk (vireo.usbdisk=1): the hash of its first 64 KiB, then /payload written at
# 1 MiB and its hash read back (the host checks the image file).
if grep -q 'vireo.usbdisk=1' /proc/cmdline; then
    i=0
    while [ ! -b /dev/sda ] && [ $i -lt 200 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    echo "VIREO-USB-DISK-SIZE $(cat /sys/block/sda/size)"
    echo "VIREO-USB-DISK-READ $(dd if=/dev/sda bs=4096 count=16 2>/dev/null | md5sum)"
    n=$(wc -c < /payload)
    dd if=/payload of=/dev/sda bs=512 seek=2048 conv=fsync 2>/dev/null
    echo 3 > /proc/sys/vm/drop_caches
    echo "VIREO-USB-DISK-WROTE $n $(dd if=/dev/sda bs=512 skip=2048 2>/dev/null | head -c $n | md5sum)"
fi
# How the host controllers interrupt: each PCI message vector's mode (msi or msix, by
# its IRQ number) and the controllers' lines of /proc/interrupts.
for m in /sys/bus/pci/devices/*/msi_irqs/*; do
    [ -f "$m" ] && echo "VIREO-USB-MSI ${m##*/} $(cat $m)"
done
grep -E 'hci_hcd|hci-pci' /proc/interrupts | while read -r l; do echo "VIREO-USB-IRQ $l"; done
# Event devices appear after their USB device; give them the same time.
i=0
while [ "$(grep -l 'QEMU USB' /sys/class/input/event*/device/name 2>/dev/null | wc -l)" -lt "${want:-1}" ] &&
      [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
kbd=""
pids=""
for e in /sys/class/input/event*; do
    n=${e##*/}
    name=$(cat $e/device/name)
    echo "VIREO-INPUT $n $name"
    case "$name" in *"USB Keyboard"*) kbd=$n ;; esac
    cat /dev/input/$n > /tmp/$n.bin &
    pids="$pids $!"
done
# Until a reader has the device open, Linux does not poll it: let them all start.
sleep 1
echo "VIREO-USB-READY"

# The host sends its events, then a key press and release on the USB keyboard: six
# records (scan code, key, sync, twice) of 16 bytes.
i=0
while [ -n "$kbd" ] && [ "$(wc -c < /tmp/$kbd.bin)" -lt 96 ] && [ $i -lt 1200 ]; do
    sleep 0.1
    i=$((i + 1))
done
sleep 1
kill $pids
for f in /tmp/event*.bin; do
    n=${f#/tmp/}
    n=${n%.bin}
    echo "VIREO-EV-BEGIN $n"
    od -An -v -tu2 $f | while read -r line; do echo "VIREO-EV $n $line"; done
done
echo "VIREO-USB-DONE"
poweroff -f
