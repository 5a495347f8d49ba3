#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the diff32 initramfs: run the differential program, send its output
# compressed between markers on the console, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t tmpfs -o size=64m tmpfs /tmp
echo "VIREO-DIFF32-START"
/diff32 > /tmp/out 2>&1
echo "VIREO-DIFF32-STATUS $?"
echo "VIREO-DIFF32-BEGIN"
gzip -c /tmp/out | base64
echo "VIREO-DIFF32-END"
poweroff -f
