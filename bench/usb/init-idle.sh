#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the idle-tablet benchmark's initramfs (bench/usb/idle.py): loads the USB host
# and HID drivers, opens every input event device (as a desktop's input layer would:
# usbhid polls a device only while it is open), says IDLE-START, sleeps uidle.sec
# seconds, says IDLE-END and powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m.ko"; done
sec=$(sed -n 's/.*uidle\.sec=\([0-9]*\).*/\1/p' /proc/cmdline)
want=$(sed -n 's/.*uidle\.tablet=\([0-9]*\).*/\1/p' /proc/cmdline)
i=0
while [ "$want" = 1 ] && ! grep -q 'USB Tablet' /sys/class/input/event*/device/name 2>/dev/null &&
      [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
for e in /dev/input/event*; do
    [ -e "$e" ] && cat "$e" > /dev/null &
done
echo "IDLE-INPUTS $(cat /sys/class/input/event*/device/name 2>/dev/null | tr ' \n' '_,')"
sleep 2
echo "IDLE-START"
sleep "$sec"
echo "IDLE-END"
poweroff -f
