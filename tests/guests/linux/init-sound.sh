#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the sound initramfs (mksound.sh, tests/guests/sound.py --mode ac97-linux and
# hda-linux): loads the ALSA modules (the card's driver and the OSS emulation), prints
# what ALSA found (cards, the AC'97 codec or the HD Audio codec's description),
# unmutes the mixer and plays /tone.raw through /dev/dsp (OSS's default: 8000 Hz, unsigned 8-bit mono),
# which the host finds in its WAV recording. Powers off at the end.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "VIREO-LINUX-BOOT-OK"

for m in $(cat /lib/modules/order); do
    # snd-intel8x0 measures the AC'97 clock against the guest's time over 50 ms at load;
    # on a busy host a preemption between its two readings moves the measure by percents
    # (a timed test), so the test states the card's 48000 Hz, as users of such hosts do.
    opts=
    case "$m" in *snd_intel8x0|*snd-intel8x0) opts=ac97_clock=48000 ;; esac
    insmod /lib/modules/$m.ko $opts || echo "VIREO-MODULE-FAILED $m"
done
i=0
# snd-hda-intel probes in a work queue: wait up to 20 s for the device node.
while [ ! -e /dev/dsp ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
sed 's/^/VIREO-SND-CARD /' /proc/asound/cards
for f in /proc/asound/card0/codec97#0/ac97#0-0; do
    [ -f "$f" ] && head -n 1 "$f" | sed 's/^/VIREO-SND-CODEC /'
done
for f in /proc/asound/card0/codec#0; do
    [ -f "$f" ] && grep -E '^(Codec|Address|Vendor Id|Node 0x0[2-5]|  Pin-ctls|  Amp-Out vals|  Pincap)' "$f" |
        sed 's/^/VIREO-SND-HDA /'
done
dmesg | grep -i 'intel8x0\|ac97\|hda\|hdaudio' | sed 's/^/VIREO-SND-DMESG /'
# A USB Audio speaker (usb-audio) has no capture and starts at 0 dB, unmuted: the tone
# alone, then its mixer as ALSA sees it.
if grep -q 'USB-Audio' /proc/asound/cards; then
    for f in /proc/asound/card0/stream0; do
        [ -f "$f" ] && grep -E 'Altset|Format|Channels|Endpoint|Rates' "$f" | sed 's/^ */VIREO-SND-USB /'
    done
    if cat /tone.raw > /dev/dsp; then
        echo "VIREO-SND-PLAYED $(wc -c < /tone.raw)"
    else
        echo "VIREO-SND-FAILED playing /tone.raw"
    fi
    poweroff -f
fi
# ALSA loads cards muted; OSS's mixer sets master and PCM to 100% and unmutes them.
# HD Audio's capture is muted too: its ADC amplifier to 0 dB (100%), unmuted. (AC'97's
# record gain loads unmuted at 0 dB; 100% there would be +22.5 dB.)
if [ -e /proc/asound/card0/codec#0 ]; then
    oss-unmute capture || echo "VIREO-SND-FAILED oss-unmute capture"
else
    oss-unmute || echo "VIREO-SND-FAILED oss-unmute"
fi
if cat /tone.raw > /dev/dsp; then
    echo "VIREO-SND-PLAYED $(wc -c < /tone.raw)"
else
    echo "VIREO-SND-FAILED playing /tone.raw"
fi
# Half a second from the card's input (OSS's default: 8000 Hz unsigned 8-bit mono): the
# host feeds a tone into the audiodev's input (in.path=); the guest lists the byte values
# it got and plays the recording back, so the host hears what came in.
if dd if=/dev/dsp of=/tmp/rec bs=400 count=10 2>/dev/null; then
    echo "VIREO-SND-RECORDED $(wc -c < /tmp/rec) bytes:$(od -An -tx1 -v /tmp/rec | tr -s ' ' '\n' | sort -u | tr '\n' ' ')"
    cat /tmp/rec > /dev/dsp && echo "VIREO-SND-PLAYED-BACK"
else
    echo "VIREO-SND-FAILED recording from /dev/dsp"
fi
poweroff -f
