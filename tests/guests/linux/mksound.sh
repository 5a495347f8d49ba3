#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The sound initramfs: a sound card's driver with ALSA's OSS emulation (snd-pcm-oss, for
# /dev/dsp), init-sound.sh, TONE as /tone.raw and UNMUTE (oss-unmute.asm assembled) as
# /bin/oss-unmute. CARD picks the driver:
#   ac97 (the default)  snd-intel8x0                                initrd-sound.img
#   hda                 snd-hda-intel with snd-hda-codec-generic     initrd-sound-hda.img
#   usb                 snd-usb-audio on UHCI, EHCI or xHCI          initrd-sound-usb.img
# Usage: mksound.sh KITDIR TONE UNMUTE [CARD]   (exits 77 when the kernel package cannot be downloaded)
here=$(cd "$(dirname "$0")" && pwd)
case "${4:-ac97}" in
ac97) name=sound; mods="snd_intel8x0 snd_pcm_oss" ;;
# The generic codec driver first: snd-hda-intel binds its codec to it as it probes, and
# the initramfs has no modprobe to load it on request.
hda) name=sound-hda; mods="snd_hda_codec_generic snd_hda_intel snd_pcm_oss" ;;
usb) name=sound-usb; mods="ehci_hcd ehci_pci uhci_hcd xhci_hcd xhci_pci snd_usb_audio snd_pcm_oss" ;;
*) echo "mksound.sh: unknown card ${4}"; exit 1 ;;
esac
exec sh "$here/mkmodinitrd.sh" "$1" "$name" "$here/init-sound.sh" "$mods" "file:tone.raw=$2:644" \
    "file:bin/oss-unmute=$3:755"
