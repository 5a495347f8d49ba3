#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Disk benchmark: vireo-img against qemu-img in the same run, as ratios.
#
#   bench/disks/run.sh [BUILD_DIR] [WORK_DIR]
#
# Rows: qcow2 sequential and 4 KiB random reads and writes (qemu-img bench semantics:
# 4 KiB requests, 64 in flight, cache=writeback), cache warm and cold, with and without
# a backing file; then convert raw->qcow2 and qcow2->raw of a 1 GiB image.
# "Random" is qemu-img bench's strided pattern: a step of 40501 x 4 KiB (odd, so every
# 4 KiB block of the 1 GiB image is hit once per pass, in scattered order).
# "Cold" drops the image files from the page cache before each run (dd iflag=nocache).
# Each row runs both tools VIREO_BENCH_REPS times (default 3), alternating, and reports
# the median and the best time of each. ratio = qemu-img time / vireo-img time: above 1
# means Vireo is faster. On a shared machine the best times are the less noisy figure.
# Needs about 4 GiB in WORK_DIR (default $TMPDIR or /tmp). Never part of `make test`.
set -eu

build=${1:-build}
work=${2:-${TMPDIR:-/tmp}/vireo-bench-disks}
VIMG=$(cd "$build/app" && pwd)/vireo-img
reps=${VIREO_BENCH_REPS:-3}
command -v qemu-img >/dev/null || { echo "qemu-img (Debian package qemu-utils) is needed"; exit 1; }
[ -x "$VIMG" ] || { echo "build vireo-img first (ninja -C $build)"; exit 1; }

mkdir -p "$work"
cd "$work"
GIB=1073741824
STEP=165892096   # 40501 * 4096

if [ ! -f src.raw ] || [ "$(stat -c %s src.raw)" != $GIB ]; then
    echo "preparing a 1 GiB image of random data in $work"
    head -c $GIB /dev/urandom > src.raw
fi
[ -f base.qcow2 ] || qemu-img convert -O qcow2 src.raw base.qcow2

drop_cache() {
    for f in "$@"; do
        dd if="$f" iflag=nocache count=0 status=none
    done
}

# prep commands run before each timed run, untimed.
prep_none() { :; }
prep_cold_base() { drop_cache base.qcow2; }
prep_fresh() { rm -f w.qcow2; qemu-img create -q -f qcow2 w.qcow2 1G; }
prep_full() { cp base.qcow2 w.qcow2; }
prep_full_cold() { cp base.qcow2 w.qcow2; sync; drop_cache w.qcow2; }
prep_overlay() { rm -f ov.qcow2; qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2; }
prep_overlay_cold() { prep_overlay; drop_cache base.qcow2 ov.qcow2; }

bench_time() {
    "$@" | sed -n 's/^Run completed in \([0-9.]*\) seconds\.$/\1/p'
}

median() {
    sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

minimum() {
    sort -n | head -1
}

# name, then median and best time of each tool.
report() {
    awk -v n="$1" -v q="$2" -v v="$3" -v qb="$4" -v vb="$5" \
        'BEGIN { printf "%-44s %8.3fs %8.3fs %6.2f   %8.3fs %8.3fs %6.2f\n", n, q, v,
                 (v > 0 ? q / v : 0), qb, vb, (vb > 0 ? qb / vb : 0) }'
}

printf '%-44s %9s %9s %6s   %9s %9s %6s\n' "row" "qemu-img" "vireo-img" "ratio" \
    "best qemu" "best vir" "ratio"
row() {
    name=$1 prep=$2 image=$3
    shift 3
    : > q.times
    : > v.times
    i=0
    while [ $i -lt "$reps" ]; do
        # sync: the previous run's dirty pages must not be written back during this one.
        $prep; sync
        bench_time qemu-img bench -f qcow2 "$@" "$image" >> q.times
        $prep; sync
        bench_time "$VIMG" bench -f qcow2 "$@" "$image" >> v.times
        i=$((i + 1))
    done
    q=$(median < q.times)
    v=$(median < v.times)
    report "$name" "$q" "$v" "$(minimum < q.times)" "$(minimum < v.times)"
}

# 75000 requests of 4 KiB (qemu-img bench's defaults); cold random reads use 20000 so a
# run stays in seconds on a slow disk.
row "read  seq  4k warm"                      prep_none           base.qcow2
row "read  seq  4k cold"                      prep_cold_base      base.qcow2
row "read  rand 4k warm"                      prep_none           base.qcow2 -S $STEP
row "read  rand 4k cold"                      prep_cold_base      base.qcow2 -S $STEP -c 20000
row "write seq  4k, empty image (allocating)" prep_fresh          w.qcow2 -w
row "write rand 4k, empty image (allocating)" prep_fresh          w.qcow2 -w -S $STEP
row "write seq  4k, allocated image, warm"    prep_full           w.qcow2 -w
row "write seq  4k, allocated image, cold"    prep_full_cold      w.qcow2 -w
row "write rand 4k, allocated image, warm"    prep_full           w.qcow2 -w -S $STEP
row "write rand 4k, allocated image, cold"    prep_full_cold      w.qcow2 -w -S $STEP -c 20000
row "backing: read  seq  4k warm"             prep_overlay        ov.qcow2
row "backing: read  seq  4k cold"             prep_overlay_cold   ov.qcow2
row "backing: read  rand 4k warm"             prep_overlay        ov.qcow2 -S $STEP
row "backing: read  rand 4k cold"             prep_overlay_cold   ov.qcow2 -S $STEP -c 20000
row "backing: write seq  4k warm (COW)"       prep_overlay        ov.qcow2 -w
row "backing: write seq  4k cold (COW)"       prep_overlay_cold   ov.qcow2 -w
row "backing: write rand 4k warm (COW)"       prep_overlay        ov.qcow2 -w -S $STEP
row "backing: write rand 4k cold (COW)"       prep_overlay_cold   ov.qcow2 -w -S $STEP -c 20000

# Conversions of the whole 1 GiB image; source warm, target created by the tool
# (qemu-img's default target cache mode "unsafe" for both tools).
conv_time() {
    rm -f out.img
    sync
    s=$(date +%s%N)
    "$@"
    e=$(date +%s%N)
    awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f\n", (e - s) / 1e9 }'
}
conv_row() {
    name=$1
    shift
    : > q.times
    : > v.times
    i=0
    while [ $i -lt "$reps" ]; do
        conv_time qemu-img convert "$@" out.img >> q.times
        conv_time "$VIMG" convert "$@" out.img >> v.times
        i=$((i + 1))
    done
    q=$(median < q.times)
    v=$(median < v.times)
    report "$name" "$q" "$v" "$(minimum < q.times)" "$(minimum < v.times)"
}
conv_row "convert raw->qcow2 1 GiB"  -f raw -O qcow2 src.raw
conv_row "convert qcow2->raw 1 GiB"  -f qcow2 -O raw base.qcow2
rm -f out.img w.qcow2 ov.qcow2 q.times v.times
echo "(median and best of $reps runs each; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "(work files kept in $work: delete them when done)"
