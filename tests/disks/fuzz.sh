#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the libFuzzer target (clang, ASan + UBSan) from the disks/ sources and runs it
# for a bounded time on a seed corpus of valid images made by vireo-img and qemu-img.
#
#   fuzz.sh SOURCE_ROOT BUILD_DIR VIREO_IMG [SECONDS]
#
# SECONDS defaults to $VIREO_FUZZ_SECONDS, else 40. To fuzz for longer, run e.g.
#   VIREO_FUZZ_SECONDS=3600 tests/disks/fuzz.sh . build build/app/vireo-img
# The corpus grows in BUILD_DIR/fuzz/corpus and is reused by later runs; crashing
# inputs are written to BUILD_DIR/fuzz/ as crash-* / timeout-* files.
set -eu

src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
VIMG=$3
secs=${4:-${VIREO_FUZZ_SECONDS:-40}}

if ! command -v clang >/dev/null 2>&1; then
    echo "SKIP: clang not found (install the Debian packages clang and libclang-rt-14-dev)"
    exit 77
fi
out=$build/fuzz
mkdir -p "$out/corpus" "$out/seeds"
bin=$out/fuzz-open

# Rebuild when any disks/ source or the target is newer than the binary.
if [ ! -x "$bin" ] || [ -n "$(find "$src/disks" "$src/tests/disks/fuzz-open.c" -newer "$bin" -name '*.[ch]' 2>/dev/null | head -1)" ]; then
    echo "building $bin"
    # shellcheck disable=SC2046
    if ! clang -std=gnu17 -g -O1 -D_GNU_SOURCE -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$src" $(pkg-config --cflags glib-2.0) \
        "$src"/disks/*.c "$src/tests/disks/fuzz-open.c" -o "$bin.tmp" \
        $(pkg-config --libs glib-2.0 gthread-2.0 zlib libzstd) -lpthread 2> "$out/build.log"; then
        if grep -q "libclang_rt.fuzzer\|cannot find.*fuzzer" "$out/build.log"; then
            echo "SKIP: clang's libFuzzer runtime is missing (install libclang-rt-14-dev)"
            exit 77
        fi
        cat "$out/build.log"
        exit 1
    fi
    mv "$bin.tmp" "$bin"
fi

# Seeds: small valid images of every shape the parsers know.
seeds=$out/seeds
rm -f "$seeds"/*
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vireo-fuzz-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
head -c 96k /dev/urandom > "$tmp/data.raw"
yes "compressible fuzz seed line" | head -c 64k >> "$tmp/data.raw"
n=0
seed() { n=$((n + 1)); cp "$1" "$seeds/seed-$n-$(basename "$1")"; }
for opts in "cluster_size=512,refcount_bits=1" "cluster_size=512,refcount_bits=64" \
            "cluster_size=4k" "cluster_size=4k,refcount_bits=8" "cluster_size=64k"; do
    rm -f "$tmp/v.qcow2"
    "$VIMG" convert -O qcow2 -o "$opts" "$tmp/data.raw" "$tmp/v.qcow2"
    seed "$tmp/v.qcow2"
done
for ct in zlib zstd; do
    rm -f "$tmp/c.qcow2"
    "$VIMG" convert -c -O qcow2 -o cluster_size=4k,compression_type=$ct "$tmp/data.raw" "$tmp/c.qcow2"
    seed "$tmp/c.qcow2"
done
"$VIMG" create -q -f qcow2 -o cluster_size=4k "$tmp/s.qcow2" 256k
"$VIMG" convert -n -O qcow2 "$tmp/data.raw" "$tmp/s.qcow2" 2>/dev/null || true
"$VIMG" snapshot -c one "$tmp/s.qcow2"
"$VIMG" snapshot -c two "$tmp/s.qcow2"
seed "$tmp/s.qcow2"
"$VIMG" create -q -f qcow2 -o cluster_size=512 -b data.raw -F raw "$tmp/o.qcow2"
seed "$tmp/o.qcow2"
seed "$tmp/data.raw"
if command -v qemu-img >/dev/null 2>&1; then
    for opts in "compat=0.10,cluster_size=512" "cluster_size=1k,refcount_bits=2" \
                "cluster_size=4k,lazy_refcounts=on" "cluster_size=4k,preallocation=metadata"; do
        rm -f "$tmp/q.qcow2"
        qemu-img convert -O qcow2 -o "$opts" "$tmp/data.raw" "$tmp/q.qcow2" && seed "$tmp/q.qcow2"
    done
    rm -f "$tmp/q.qcow2"
    qemu-img convert -c -O qcow2 -o cluster_size=4k "$tmp/data.raw" "$tmp/q.qcow2"
    qemu-img snapshot -c snap "$tmp/q.qcow2"
    seed "$tmp/q.qcow2"
    qemu-img create -q -f qcow2 -o cluster_size=4k "$tmp/b.qcow2" 256k
    qemu-img bitmap --add "$tmp/b.qcow2" dirty0 2>/dev/null && seed "$tmp/b.qcow2"
    # The import drivers' formats that fit in -max_len (VDI, VHD and VHDX files are
    # megabytes even when nearly empty; fuzz-import.c mutates those in place).
    for sub in monolithicSparse streamOptimized; do
        qemu-img convert -q -O vmdk -o subformat=$sub "$tmp/data.raw" "$tmp/$sub.vmdk" &&
            seed "$tmp/$sub.vmdk"
    done
fi
echo "fuzzing for $secs s with $n seed images"
cd "$out"
# Not exec: the trap must still remove the seed workspace.
# libFuzzer's own exit codes (77 for a crash) would read as "skipped" to meson: any
# finding is exit 1, with the input that caused it named.
rc=0
"$bin" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -max_len=400000 \
    -error_exitcode=1 -timeout_exitcode=1 \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" "$seeds" || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "FAIL: the fuzzer found an input that crashes, leaks or hangs (exit $rc):"
    ls -t "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null | head -n 3
    exit 1
fi
