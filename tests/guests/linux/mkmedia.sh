#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Bootable media from the Linux boot kit (mkkit.sh), with boot loaders from Debian packages:
#   linux-cd.iso      ISOLINUX (package isolinux) on an El Torito no-emulation CD made
#                     with xorriso; boots the kernel with initrd-test.img (the workload)
#   linux-disk.qcow2  a 256 MiB disk: MBR boot code and an active FAT16 partition with
#                     SYSLINUX (packages syslinux, syslinux-common, mtools), the kernel and
#                     initrd-media.img, which counts its boots in a file on the partition
#                     (without the workload: the CD runs that)
# Both print the kernel's output on ttyS0. No root, no loop devices: mtools and
# syslinux's mtools installer write the partition image directly.
# Usage: mkmedia.sh KITDIR VIREO_IMG      (exits 77 when a tool is missing)
set -eu

kit=$(cd "$1" && pwd)
vireo_img=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
here=$(cd "$(dirname "$0")" && pwd)
cd "$kit"
# The CD and disk tests run in parallel (meson test) and share debs.tmp and the media:
# one builder at a time.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$kit/.media-lock"
    flock 9
fi

skip() { echo "SKIP: $*"; exit 77; }
for t in xorriso mformat mcopy syslinux; do
    command -v $t >/dev/null 2>&1 || skip "$t is missing (Debian packages xorriso, mtools, syslinux)"
done
isolinux=/usr/lib/ISOLINUX/isolinux.bin
ldlinux=/usr/lib/syslinux/modules/bios/ldlinux.c32
mbr=/usr/lib/syslinux/mbr/mbr.bin
for f in $isolinux $ldlinux $mbr; do
    [ -f $f ] || skip "$f is missing (Debian packages isolinux, syslinux-common)"
done
[ -f vmlinuz ] && [ -f initrd-test.img ] || { echo "mkmedia: run mkkit.sh first"; exit 1; }

append="console=ttyS0,115200 earlyprintk=serial,ttyS0,115200"

# Debian's kernel has the IDE disk path as modules: take them (and what they depend on,
# from each module's .modinfo) from the kernel package the kit came from.
kpkg=$(cat kernel-package)
if ! grep -q nls_ascii modules/order 2>/dev/null || [ ! -f modules/order ] || [ "$(cat modules/package 2>/dev/null)" != "$kpkg" ]; then
    rm -rf debs.tmp modules && mkdir debs.tmp modules
    (cd debs.tmp && apt-get download -q "$kpkg:i386" >/dev/null) || skip "cannot download $kpkg:i386"
    dpkg-deb -x debs.tmp/"$kpkg"_*.deb debs.tmp/x
    python3 "$here/pickmodules.py" debs.tmp/x/lib/modules modules \
        crct10dif_generic ata_piix sd_mod vfat nls_cp437 nls_ascii nls_utf8
    echo "$kpkg" > modules/package
    rm -rf debs.tmp
fi

# The media initramfs: the kit's busybox, those modules and an /init that uses the disk.
common="dir:bin dir:dev dir:proc dir:sys dir:tmp dir:root dir:etc dir:mnt file:bin/busybox=$kit/busybox:755"
mods="dir:lib dir:lib/modules file:lib/modules/order=$kit/modules/order:644"
for m in $(cat modules/order); do
    mods="$mods file:lib/modules/$m.ko=$kit/modules/$m.ko:644"
done
# shellcheck disable=SC2086
python3 "$here/mkinitramfs.py" initrd-media.img.tmp $common $mods \
    "file:init=$here/init-media.sh:755" "file:workload.sh=$here/workload.sh:644"
mv initrd-media.img.tmp initrd-media.img

# --- the CD ------------------------------------------------------------------------
rm -rf iso.tmp && mkdir -p iso.tmp/isolinux
cp $isolinux $ldlinux iso.tmp/isolinux/
cp vmlinuz iso.tmp/vmlinuz
cp initrd-test.img iso.tmp/initrd.img
cat > iso.tmp/isolinux/isolinux.cfg <<EOF
serial 0 115200
default linux
prompt 0
timeout 0
label linux
  kernel /vmlinuz
  append initrd=/initrd.img $append
EOF
xorriso -as mkisofs -quiet -o linux-cd.iso.tmp -V VIREO-LINUX \
    -b isolinux/isolinux.bin -c isolinux/boot.cat \
    -no-emul-boot -boot-load-size 4 -boot-info-table iso.tmp
mv linux-cd.iso.tmp linux-cd.iso
rm -rf iso.tmp

# --- the hard disk -------------------------------------------------------------------
# One partition from sector 2048 to the end, type 06 (FAT16), active.
size_mib=256
start=2048
total=$((size_mib * 2048))
psect=$((total - start))
rm -f part.tmp disk.tmp
truncate -s $((psect * 512)) part.tmp
mformat -i part.tmp -v VIREODISK -T $psect -h 16 -s 63 -H $start ::
cat > syslinux.cfg <<EOF
serial 0 115200
default linux
prompt 0
timeout 0
label linux
  kernel /vmlinuz
  append initrd=/initrd.img $append vireo.disk=/dev/sda1 vireo.workload=off
EOF
mcopy -i part.tmp vmlinuz ::/vmlinuz
mcopy -i part.tmp initrd-media.img ::/initrd.img
mcopy -i part.tmp syslinux.cfg ::/syslinux.cfg
rm -f syslinux.cfg
syslinux --install part.tmp
# The MBR: SYSLINUX's boot code, then the partition table (entries at 446).
python3 - "$mbr" disk.tmp part.tmp $start $psect <<'EOF'
import struct, sys
mbr_code, out, part, start, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
code = open(mbr_code, "rb").read()[:440]
mbr = bytearray(512)
mbr[:len(code)] = code
# Active, CHS fields saturated (LBA is what counts), type 06h.
mbr[446:462] = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x06, b"\xfe\xff\xff", start, count)
mbr[510:512] = b"\x55\xaa"
with open(out, "wb") as f:
    f.write(mbr)
    f.truncate(start * 512)
    f.seek(start * 512)
    with open(part, "rb") as p:
        while True:
            b = p.read(1 << 20)
            if not b:
                break
            f.write(b)
EOF
rm -f part.tmp
# Replaced in one rename: a test running in parallel may be copying the previous one.
rm -f linux-disk.qcow2.tmp
"$vireo_img" convert -q -f raw -O qcow2 disk.tmp linux-disk.qcow2.tmp
mv linux-disk.qcow2.tmp linux-disk.qcow2
rm -f disk.tmp
echo "media: $kit/linux-cd.iso $kit/linux-disk.qcow2"
