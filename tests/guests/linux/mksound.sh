#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The sound initramfs: the AC'97 driver (snd-intel8x0) with ALSA's OSS emulation
# (snd-pcm-oss, for /dev/dsp), init-sound.sh, TONE as /tone.raw and UNMUTE (oss-unmute.asm
# assembled) as /bin/oss-unmute.
#   initrd-sound.img
# Usage: mksound.sh KITDIR TONE UNMUTE   (exits 77 when the kernel package cannot be downloaded)
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/mkmodinitrd.sh" "$1" sound "$here/init-sound.sh" "snd_intel8x0 snd_pcm_oss" "file:tone.raw=$2:644" \
    "file:bin/oss-unmute=$3:755"
