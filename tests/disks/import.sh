#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Importing other products' disks: images qemu-img writes as vmdk (monolithicSparse,
# monolithicFlat, streamOptimized, twoGbMaxExtentSparse), vdi (dynamic, static), vpc
# (dynamic, fixed) and vhdx (dynamic, fixed) read back in Vireo byte for byte as QEMU
# reads them; `vireo-img convert -O qcow2` of each passes `qemu-img check` and compares
# equal to `qemu-img convert -O raw` of the same file; info and check agree with
# qemu-img. Damaged tables are found by check and refused by reads in one line; the
# formats are never written; `create` without a size fails before "Formatting".
# Usage: import.sh VIREO_IMG SOURCE_ROOT
set -eu

abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
VIMG=$(abspath "$1")
SRC=$(cd "$2" && pwd)
if ! command -v qemu-img >/dev/null 2>&1; then
    echo "SKIP: qemu-img not found (install the Debian package qemu-utils)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-import-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() {
    echo "FAIL: $*"
    exit 1
}
step() {
    echo "== $*"
}
# One line on stderr, a non-zero status, and the words given.
one_line_error() {
    what=$1 want=$2
    shift 2
    if "$@" >out.txt 2>err.txt; then fail "$what: accepted"; fi
    [ "$(wc -l < err.txt)" -eq 1 ] || { cat err.txt; fail "$what: not one line"; }
    grep -q "$want" err.txt || { cat err.txt; fail "$what: no '$want' in the error"; }
    echo "   $what: $(cat err.txt)"
}

# Every kind of each format from one raw source; $1 = source, $2 = name prefix.
make_all() {
    s=$1 p=$2
    q() { qemu-img convert -q -f raw "$@"; }
    q -O vmdk "$s" "$p-sparse.vmdk"
    q -O vmdk -o subformat=monolithicFlat "$s" "$p-flat.vmdk"
    q -O vmdk -o subformat=streamOptimized "$s" "$p-stream.vmdk"
    q -O vmdk -o subformat=twoGbMaxExtentSparse "$s" "$p-split.vmdk"
    q -O vdi "$s" "$p-dynamic.vdi"
    q -O vdi -o static=on "$s" "$p-static.vdi"
    q -O vpc "$s" "$p-dynamic.vhd"
    q -O vpc -o subformat=fixed "$s" "$p-fixed.vhd"
    q -O vpc -o force_size=on "$s" "$p-sized.vhd"
    q -O vhdx "$s" "$p-dynamic.vhdx"
    q -O vhdx -o subformat=fixed,block_size=1M "$s" "$p-fixed.vhdx"
}

# The images make_all wrote for prefix $1 (not the extent files the descriptors name).
images_of() {
    for k in sparse.vmdk flat.vmdk stream.vmdk split.vmdk dynamic.vdi static.vdi \
             dynamic.vhd fixed.vhd sized.vhd dynamic.vhdx fixed.vhdx; do
        echo "$1-$k"
    done
}

fmt_of() {
    case $1 in
    *.vmdk) echo vmdk ;; *.vdi) echo vdi ;; *.vhd) echo vpc ;; *.vhdx) echo vhdx ;;
    esac
}

# Vireo reads $1 as QEMU does, and its qcow2 conversion is the same disk.
same_as_qemu() {
    img=$1 fmt=$(fmt_of "$1")
    # A fixed VHD has no magic at its start: it needs -f, in QEMU too.
    qemu-img convert -f "$fmt" -O raw "$img" q.raw || fail "qemu-img convert $img"
    "$VIMG" convert -f "$fmt" -O raw "$img" v.raw || fail "vireo-img convert $img"
    cmp -s q.raw v.raw || fail "Vireo reads $img differently from QEMU"
    rm -f v.qcow2
    "$VIMG" convert -f "$fmt" -O qcow2 "$img" v.qcow2 || fail "vireo-img convert -O qcow2 $img"
    qemu-img check -q v.qcow2 || fail "qemu-img check of $img converted"
    qemu-img compare -q -f qcow2 -F raw v.qcow2 q.raw || fail "$img converted to qcow2 differs"
    # info: format and virtual size as qemu-img says.
    qsize=$(qemu-img info -f "$fmt" --output=json "$img" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p')
    vinfo=$("$VIMG" info -f "$fmt" "$img")
    echo "$vinfo" | grep -q "^file format: $fmt\$" || fail "info $img: $vinfo"
    echo "$vinfo" | grep -q "($qsize bytes)" || fail "info $img: not $qsize bytes: $vinfo"
    case $img in
    *-fixed.vhd|*-sized.vhd) ;;   # no tables to check (QEMU has no vpc check at all)
    *) "$VIMG" check -q -f "$fmt" "$img" || fail "vireo-img check $img" ;;
    esac
    echo "   $img: $(stat -c %s q.raw) bytes, as QEMU reads them"
    rm -f q.raw v.raw v.qcow2
}

step "a synthetic disk with known patterns in every format"
# 12 MiB + 7 sectors (a multiple of no grain or block size): random data at the start,
# across block boundaries and in the last sector, a 1 MiB run of 0xA5, holes.
truncate -s 12586496 pat.raw
head -c 3000 /dev/urandom | dd of=pat.raw conv=notrunc 2>/dev/null
head -c 300000 /dev/urandom | dd of=pat.raw bs=1 seek=2000000 conv=notrunc 2>/dev/null
head -c 1048576 /dev/zero | tr '\0' '\245' | dd of=pat.raw bs=1M seek=8 conv=notrunc 2>/dev/null
head -c 512 /dev/urandom | dd of=pat.raw bs=512 seek=24582 conv=notrunc 2>/dev/null
make_all pat.raw pat
for f in $(images_of pat); do
    same_as_qemu "$f"
done
# Vireo's own reading of the patterns, not only QEMU's: the sparse formats give back the
# source byte for byte (a VHD sized by its CHS geometry is longer: compare the prefix).
for f in pat-sparse.vmdk pat-stream.vmdk pat-dynamic.vdi pat-dynamic.vhdx pat-fixed.vhdx; do
    "$VIMG" convert -O raw "$f" back.raw
    cmp -s back.raw pat.raw || fail "$f does not read back as the source"
done
"$VIMG" convert -O raw pat-dynamic.vhd back.raw
cmp -s -n 12586496 back.raw pat.raw || fail "pat-dynamic.vhd does not read back as the source"
rm -f back.raw

step "probing: each format is recognized without -f (a fixed VHD reads as raw, as in QEMU)"
for f in pat-sparse.vmdk pat-flat.vmdk pat-dynamic.vdi pat-dynamic.vhd pat-dynamic.vhdx; do
    "$VIMG" info "$f" | grep -q "^file format: $(fmt_of "$f")\$" || fail "probe $f"
done
"$VIMG" info pat-fixed.vhd | grep -q "^file format: raw\$" || fail "probe of a fixed VHD"

fd=$SRC/../shared/guests/freedos/freedos.boot.disk.1.4MB.img
if [ -f "$fd" ]; then
    step "the FreeDOS boot floppy from ../shared in every format"
    cp "$fd" freedos.img
    make_all freedos.img dos
    for f in $(images_of dos); do
        same_as_qemu "$f"
    done
else
    echo "SKIP (part): ../shared/guests/freedos is absent; the synthetic disk was checked"
fi

step "the formats are read-only: writes are refused in one line, the file stays the same"
sum=$(md5sum < pat-dynamic.vdi)
one_line_error "resize of a vdi" "read-only" "$VIMG" resize pat-dynamic.vdi 20M
one_line_error "snapshot in a vmdk" "read-only" "$VIMG" snapshot -c s pat-sparse.vmdk
one_line_error "convert into a vhdx" "writes only raw and qcow2" "$VIMG" convert -O vhdx pat.raw x.vhdx
[ "$(md5sum < pat-dynamic.vdi)" = "$sum" ] || fail "a refused write changed the image"
# A qcow2 overlay over an imported disk is the way to write to it.
"$VIMG" create -q -f qcow2 -b pat-sparse.vmdk -F vmdk over.qcow2
qemu-img compare -q over.qcow2 pat.raw || fail "an overlay on a vmdk reads differently"

step "what Vireo does not read is refused in one line"
qemu-img create -q -f vmdk -b pat-sparse.vmdk -F vmdk child.vmdk
one_line_error "a vmdk child disk" "child disk" "$VIMG" info child.vmdk
rm flat-missing.vmdk 2>/dev/null || true
sed 's/pat-flat-flat.vmdk/no-such-extent.vmdk/' pat-flat.vmdk > flat-missing.vmdk
one_line_error "a missing flat extent" "no-such-extent.vmdk" "$VIMG" info flat-missing.vmdk

step "damaged tables: check counts them, reads refuse them in one line"
# VDI: block map at the offset in the header (le32 at 340); point entry 0 past the end.
cp pat-dynamic.vdi bad.vdi
map=$(od -An -tu4 -j340 -N4 bad.vdi | tr -d ' ')
printf '\377\377\377\177' | dd of=bad.vdi bs=1 seek="$map" conv=notrunc 2>/dev/null
set +e
"$VIMG" check bad.vdi > check.txt 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || { cat check.txt; fail "check of a damaged vdi: status $rc, not 2"; }
grep -q "ERROR: block 0 " check.txt || fail "check did not name block 0"
one_line_error "reading the damaged vdi" "corrupt vdi image" "$VIMG" convert -O raw bad.vdi bad.raw
# VHD: the first BAT entry (table offset: be64 at 512 + 16) beyond the file.
cp pat-dynamic.vhd bad.vhd
bat=$(od -An -tx1 -j528 -N8 bad.vhd | tr -d ' \n')
printf '\177\377\377\000' | dd of=bad.vhd bs=1 seek=$((0x$bat)) conv=notrunc 2>/dev/null
set +e
"$VIMG" check bad.vhd > check.txt 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || { cat check.txt; fail "check of a damaged vhd: status $rc, not 2"; }
one_line_error "reading the damaged vhd" "corrupt vpc image" "$VIMG" convert -O raw bad.vhd bad.raw
# VMDK: a truncated sparse file loses grains its tables name.
head -c 200000 pat-sparse.vmdk > cut.vmdk
set +e
"$VIMG" check cut.vmdk > check.txt 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || [ $rc -eq 1 ] || { cat check.txt; fail "check of a truncated vmdk: status $rc"; }
one_line_error "reading the truncated vmdk" "vmdk" "$VIMG" convert -O raw cut.vmdk cut.raw
# VHDX: both headers damaged.
cp pat-dynamic.vhdx bad.vhdx
printf 'XXXX' | dd of=bad.vhdx bs=1 seek=65536 conv=notrunc 2>/dev/null
printf 'XXXX' | dd of=bad.vhdx bs=1 seek=131072 conv=notrunc 2>/dev/null
one_line_error "a vhdx without a valid header" "neither header" "$VIMG" info bad.vhdx

step "create without a size fails before \"Formatting\""
set +e
"$VIMG" create -f qcow2 nosize.qcow2 > out.txt 2> err.txt; rc=$?
set -e
[ $rc -ne 0 ] || fail "create without a size succeeded"
[ ! -s out.txt ] || { cat out.txt; fail "create without a size printed to stdout"; }
grep -q "needs a size" err.txt || fail "create without a size: $(cat err.txt)"
[ ! -e nosize.qcow2 ] || fail "create without a size left a file"
one_line_error "create -u without a size" "needs a size" "$VIMG" create -f qcow2 -u -b pat.raw -F raw x.qcow2
[ ! -s out.txt ] || fail "create -u without a size printed to stdout"
one_line_error "create on a missing backing file" "Could not open backing image" \
    "$VIMG" create -f qcow2 -b missing.qcow2 -F qcow2 y.qcow2
[ ! -s out.txt ] || fail "create with a missing backing file printed \"Formatting\""
"$VIMG" create -f qcow2 -b pat-dynamic.vhdx -F vhdx sized.qcow2 | grep -q "size=12586496" ||
    fail "create took no size from the backing file"
echo "PASS"
