#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# An initramfs from the Linux boot kit (mkkit.sh) for one family of device tests: the
# kit's busybox, the named modules of the kit's kernel package with what they depend on
# (pickmodules.py, in load order in /lib/modules/order), INIT as /init, and any further
# mkinitramfs.py entries given (MODDIR below names the picked modules' folder).
#   initrd-NAME.img, modules-NAME/ (modules-$MODSET/ when MODSET names another
#   initramfs of the same modules: the kernel package is not fetched twice)
# Usage: mkmodinitrd.sh KITDIR NAME INIT "MODULE..." [ENTRY...]
#        (exits 77 when the kernel package cannot be downloaded)
set -eu

kit=$(cd "$1" && pwd)
name=$2
init=$3
wanted=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
cd "$kit"
# Tests of one family run in parallel (meson test) and share the kit: one builder at a time.
modset=${MODSET:-$name}
if command -v flock >/dev/null 2>&1; then
    exec 9>"$kit/.$modset-lock"
    flock 9
fi
skip() { echo "SKIP: $*"; exit 77; }
[ -f vmlinuz ] && [ -f busybox ] || { echo "mkmodinitrd: run mkkit.sh first"; exit 1; }

mods_dir="modules-$modset"
kpkg=$(cat kernel-package)
if [ ! -f "$mods_dir/order" ] || [ "$(cat "$mods_dir/package" 2>/dev/null)" != "$kpkg $wanted" ]; then
    rm -rf "debs-$modset.tmp" "$mods_dir" && mkdir "debs-$modset.tmp"
    (cd "debs-$modset.tmp" && apt-get download -q "$kpkg:i386" >/dev/null) || skip "cannot download $kpkg:i386"
    dpkg-deb -x "debs-$modset.tmp/${kpkg}"_*.deb "debs-$modset.tmp/x"
    # shellcheck disable=SC2086
    python3 "$here/pickmodules.py" "debs-$modset.tmp/x/lib/modules" "$mods_dir" $wanted
    echo "$kpkg $wanted" > "$mods_dir/package"
    rm -rf "debs-$modset.tmp"
fi

img="initrd-$name.img"
stale=""
for e in "$@"; do
    src=$(echo "$e" | sed -n 's|^file:[^=]*=\(.*\):[0-7]*$|\1|p' | sed "s|MODDIR|$kit/$mods_dir|g")
    [ -n "$src" ] && [ "$src" -nt "$img" ] && stale=1
done
if [ ! -f "$img" ] || [ -n "$stale" ] || [ "$init" -nt "$img" ] || [ "$mods_dir/order" -nt "$img" ] || [ "$0" -nt "$img" ]; then
    common="dir:bin dir:dev dir:proc dir:sys dir:tmp dir:root dir:etc file:bin/busybox=$kit/busybox:755"
    mods="dir:lib dir:lib/modules file:lib/modules/order=$kit/$mods_dir/order:644"
    for m in $(cat "$mods_dir/order"); do
        mods="$mods file:lib/modules/$m.ko=$kit/$mods_dir/$m.ko:644"
    done
    extra=""
    for e in "$@"; do
        extra="$extra $(echo "$e" | sed "s|MODDIR|$kit/$mods_dir|g")"
    done
    # shellcheck disable=SC2086
    python3 "$here/mkinitramfs.py" "$img.tmp" $common $mods "file:init=$init:755" $extra
    mv "$img.tmp" "$img"
fi
echo "$name initramfs: $kit/$img ($(tr '\n' ' ' < "$mods_dir/order"))"
