#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Makes small valid vmdk, vdi, vpc and vhdx images with qemu-img and runs the fixed-seed
# mutation loop (fuzz-import.c) over copies of them. The damage a seed number makes is
# the same in every run; the images differ a little between runs, as qemu-img puts
# random IDs and timestamps into them.
#   fuzz-import.sh FUZZ_IMPORT [ITERATIONS [SEED]]
set -eu
FUZZ=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
iters=${2:-1500}
seed=${3:-7}
if ! command -v qemu-img >/dev/null 2>&1; then
    echo "1..0 # SKIP qemu-img not found (install the Debian package qemu-utils)"
    exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-fuzz-import-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
# 3 MiB + 3 sectors: data at the start, in the middle block and in the last sector.
truncate -s 3147264 src.raw
printf 'vireo fuzz seed' | dd of=src.raw conv=notrunc 2>/dev/null
# Deterministic data, so a seed number names the same run everywhere.
seq 1 20000 | head -c 70000 | dd of=src.raw bs=512 seek=3000 conv=notrunc 2>/dev/null
printf 'end' | dd of=src.raw bs=1 seek=3147000 conv=notrunc 2>/dev/null
q() { qemu-img convert -q -f raw "$@"; }
q -O vmdk src.raw sparse.vmdk
q -O vmdk -o subformat=streamOptimized src.raw stream.vmdk
q -O vmdk -o subformat=monolithicFlat src.raw flat.vmdk
q -O vdi src.raw dynamic.vdi
q -O vdi -o static=on src.raw static.vdi
q -O vpc src.raw dynamic.vhd
q -O vpc -o subformat=fixed src.raw fixed.vhd
q -O vhdx -o block_size=1M,log_size=1M src.raw dynamic.vhdx
exec "$FUZZ" "$iters" "$seed" sparse.vmdk:vmdk stream.vmdk:vmdk flat.vmdk:vmdk dynamic.vdi:vdi \
    static.vdi:vdi dynamic.vhd:vpc fixed.vhd:vpc dynamic.vhdx:vhdx
