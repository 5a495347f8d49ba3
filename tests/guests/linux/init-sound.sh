#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the sound initramfs (mkmodinitrd.sh, tests/guests/sound.py --mode ac97-linux):
# loads the ALSA modules (snd-intel8x0 and the OSS emulation), prints what ALSA found,
# unmutes the mixer and plays /tone.raw through /dev/dsp (OSS's default: 8000 Hz, unsigned 8-bit mono),
# which the host finds in its WAV recording. Powers off at the end.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "VIREO-LINUX-BOOT-OK"

for m in $(cat /lib/modules/order); do
    insmod /lib/modules/$m.ko || echo "VIREO-MODULE-FAILED $m"
done
i=0
while [ ! -e /dev/dsp ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sed 's/^/VIREO-SND-CARD /' /proc/asound/cards
for f in /proc/asound/card0/codec97#0/ac97#0-0; do
    [ -f "$f" ] && head -n 1 "$f" | sed 's/^/VIREO-SND-CODEC /'
done
dmesg | grep -i 'intel8x0\|ac97' | sed 's/^/VIREO-SND-DMESG /'
# ALSA loads cards muted; OSS's mixer sets master and PCM to 100% and unmutes them.
oss-unmute || echo "VIREO-SND-FAILED oss-unmute"
if cat /tone.raw > /dev/dsp; then
    echo "VIREO-SND-PLAYED $(wc -c < /tone.raw)"
else
    echo "VIREO-SND-FAILED playing /tone.raw"
fi
poweroff -f
