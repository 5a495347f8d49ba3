#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the demo VM: a busybox shell on the console; poweroff and reboot work.
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root PS1='vireo-demo:\w# '
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
hostname vireo-demo
# busybox poweroff/halt/reboot signal PID 1: USR2, USR1, TERM.
trap 'sync; poweroff -f' USR2
trap 'sync; poweroff -f' USR1
trap 'sync; reboot -f' TERM
cat /etc/motd
while true; do
    setsid cttyhack sh -l &
    wait $!
done
