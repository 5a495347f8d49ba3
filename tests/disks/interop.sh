#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Interoperability with QEMU's own tool: images vireo-img writes pass `qemu-img check`
# and read back byte-identical through qemu-img; images qemu-img writes read back
# byte-identical in Vireo, take Vireo's writes and still pass `qemu-img check`.
# Usage: interop.sh VIREO_IMG DISK_IO
set -eu

# Absolute paths: the script works in a directory of its own.
abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
VIMG=$(abspath "$1")
DIO=$(abspath "$2")
if ! command -v qemu-img >/dev/null 2>&1; then
    echo "SKIP: qemu-img not found (install the Debian package qemu-utils)"
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-interop-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() {
    echo "FAIL: $*"
    exit 1
}

step() {
    echo "== $*"
}

# qemu-img check must report no corruption and no leak.
qcheck() {
    out=$(qemu-img check "$@" 2>&1) || fail "qemu-img check $*: $out"
}

# Reads an image back through qemu-img and through Vireo; both must equal the file $2.
same_through_both() {
    img=$1 expect=$2
    qemu-img convert -O raw "$img" q.out || fail "qemu-img convert $img"
    cmp -s q.out "$expect" || fail "qemu-img reads $img differently from $expect"
    "$VIMG" convert -O raw "$img" v.out || fail "vireo-img convert $img"
    cmp -s v.out "$expect" || fail "Vireo reads $img differently from $expect"
    rm -f q.out v.out
}

# Source data: random bytes, a hole, compressible text, zeros written as data.
head -c 3M /dev/urandom > src.raw
yes "vireo interop: the quick brown fox jumps over the lazy dog" | head -c 2M >> src.raw
head -c 1M /dev/zero >> src.raw
truncate -s 10M src.raw
head -c 700k /dev/urandom | dd of=src.raw bs=1k seek=8000 conv=notrunc 2>/dev/null

step "vireo-img writes plain images (cluster sizes and refcount widths)"
for opts in "" "cluster_size=512,refcount_bits=1" "cluster_size=4k,refcount_bits=64" \
            "cluster_size=2M,refcount_bits=8" "cluster_size=16k,refcount_bits=2"; do
    rm -f p.qcow2
    "$VIMG" convert -O qcow2 ${opts:+-o $opts} src.raw p.qcow2 || fail "convert -o $opts"
    qcheck p.qcow2
    same_through_both p.qcow2 src.raw
done

step "vireo-img writes compressed images (zlib, zstd)"
for ct in zlib zstd; do
    rm -f c.qcow2
    "$VIMG" convert -c -O qcow2 -o compression_type=$ct src.raw c.qcow2 || fail "convert -c $ct"
    qcheck c.qcow2
    qemu-img info c.qcow2 | grep -q "compression type: $ct" || fail "compression type $ct not recorded"
    same_through_both c.qcow2 src.raw
    # Compressed clusters are rewritten plainly when the guest writes them.
    cp src.raw exp.raw
    "$DIO" c.qcow2 write:0x61:100000:70000 || fail "write into compressed image"
    "$DIO" -f raw exp.raw write:0x61:100000:70000
    qcheck c.qcow2
    same_through_both c.qcow2 exp.raw
done

step "vireo-img writes snapshots"
rm -f s.qcow2
"$VIMG" create -q -f qcow2 s.qcow2 10M
"$VIMG" convert -n -O qcow2 src.raw s.qcow2 || fail "convert -n into s.qcow2"
"$VIMG" snapshot -c first s.qcow2 || fail "snapshot -c first"
cp src.raw first.raw
"$DIO" s.qcow2 write:0x11:1M:1500k zero:5M:1M discard:7M:256k || fail "writes after snapshot"
"$DIO" -f raw src.raw write:0x11:1M:1500k zero:5M:1M
"$DIO" s.qcow2 read:0x11:1M:1500k || fail "read back"
"$VIMG" snapshot -c second s.qcow2
qcheck s.qcow2
qemu-img snapshot -l s.qcow2 | grep -q second || fail "qemu-img does not list snapshot 'second'"
qemu-img convert -O raw -l snapshot.name=first s.qcow2 snap.out
cmp -s snap.out first.raw || fail "snapshot 'first' reads differently in qemu-img"
"$VIMG" snapshot -a first s.qcow2 || fail "snapshot -a first"
qcheck s.qcow2
same_through_both s.qcow2 first.raw
"$VIMG" snapshot -d first s.qcow2
qcheck s.qcow2
"$VIMG" snapshot -a second s.qcow2
qcheck s.qcow2
cp src.raw second.raw
"$DIO" -f raw second.raw discard:7M:256k 2>/dev/null || true
qemu-img convert -O raw s.qcow2 q.out
# The discarded range may read as anything; compare around it.
cmp -s -n 7340032 q.out src.raw || fail "snapshot 'second' content"

step "vireo-img writes overlays (backing chains, relative names)"
mkdir -p d/e
cp first.raw d/base.raw
"$VIMG" create -q -f qcow2 -b base.raw -F raw d/mid.qcow2
"$VIMG" create -q -f qcow2 -b mid.qcow2 d/e/top-missing.qcow2 2>/dev/null && fail "a missing relative backing file was accepted"
"$VIMG" create -q -f qcow2 -b ../mid.qcow2 -F qcow2 d/e/top.qcow2 || fail "create top"
cp first.raw chain.raw
"$DIO" d/mid.qcow2 write:0x21:0:100k write:0x22:9M:1M
"$DIO" -f raw chain.raw write:0x21:0:100k write:0x22:9M:1M
"$DIO" d/e/top.qcow2 write:0x31:50k:100k zero:2M:64k write:0x32:4095k:2k
"$DIO" -f raw chain.raw write:0x31:50k:100k zero:2M:64k write:0x32:4095k:2k
qcheck d/mid.qcow2
qcheck d/e/top.qcow2
same_through_both d/e/top.qcow2 chain.raw
qemu-img map --output=json d/e/top.qcow2 > q.map
"$VIMG" map --output=json d/e/top.qcow2 > v.map
cmp -s q.map v.map || fail "map differs from qemu-img map: $(diff q.map v.map | head -5)"

step "commit, rebase and resize keep images valid"
"$VIMG" commit d/e/top.qcow2 | grep -q "Image committed." || fail "commit"
qcheck d/mid.qcow2
qcheck d/e/top.qcow2
same_through_both d/e/top.qcow2 chain.raw
"$VIMG" rebase -b ../base.raw -F raw d/e/top.qcow2 || fail "rebase"
qcheck d/e/top.qcow2
same_through_both d/e/top.qcow2 chain.raw
qemu-img info d/e/top.qcow2 | grep -q "backing file: ../base.raw" || fail "rebase did not record the new backing file"
"$VIMG" rebase -u -b base.raw d/mid.qcow2
qemu-img info d/mid.qcow2 | grep -q "backing file: base.raw" || fail "unsafe rebase"
"$VIMG" resize d/e/top.qcow2 +100M | grep -q "Image resized." || fail "resize"
qcheck d/e/top.qcow2
"$VIMG" resize --shrink d/e/top.qcow2 6M >/dev/null
qcheck d/e/top.qcow2
head -c 6M chain.raw > chain6.raw
same_through_both d/e/top.qcow2 chain6.raw

step "qemu-img images read back byte-identical in Vireo and take Vireo's writes"
for kind in plain v2 compressed-zlib compressed-zstd small-clusters; do
    rm -f q.qcow2
    case $kind in
    plain) qemu-img convert -O qcow2 src.raw q.qcow2 ;;
    v2) qemu-img convert -O qcow2 -o compat=0.10 src.raw q.qcow2 ;;
    compressed-zlib) qemu-img convert -c -O qcow2 src.raw q.qcow2 ;;
    compressed-zstd) qemu-img convert -c -O qcow2 -o compression_type=zstd src.raw q.qcow2 ;;
    small-clusters) qemu-img convert -O qcow2 -o cluster_size=512,refcount_bits=4 src.raw q.qcow2 ;;
    esac
    same_through_both q.qcow2 src.raw
    out=$("$VIMG" check q.qcow2 2>&1) || fail "vireo-img check of qemu's $kind image: $out"
    if [ $kind = v2 ]; then
        "$DIO" q.qcow2 write:1:0:1 2>/dev/null && fail "version 2 images must stay read-only"
        continue
    fi
    cp src.raw exp.raw
    "$DIO" q.qcow2 write:0x41:12345:300k discard:3M:1M write:0x42:9M:1M zero:6M:128k || fail "Vireo writes into qemu's $kind image"
    "$DIO" -f raw exp.raw write:0x41:12345:300k write:0x42:9M:1M zero:6M:128k
    qcheck q.qcow2
    qemu-img convert -O raw q.qcow2 q.out
    # Discarded clusters read as zeros or as before; check the rest byte for byte.
    cmp -s -n 3145728 q.out exp.raw || fail "qemu-img reads $kind image differently after Vireo's writes"
    tail -c 6291456 q.out > q.tail; tail -c 6291456 exp.raw > e.tail
    cmp -s q.tail e.tail || fail "qemu-img reads $kind image differently after Vireo's writes (tail)"
done

step "qemu-img snapshots and overlays"
rm -f qs.qcow2
qemu-img create -q -f qcow2 qs.qcow2 10M
qemu-img convert -n -O qcow2 src.raw qs.qcow2
qemu-img snapshot -c keep qs.qcow2
qemu-io -c "write -P 0x51 0 2M" qs.qcow2 >/dev/null
qemu-img snapshot -c later qs.qcow2
"$VIMG" snapshot -l qs.qcow2 | grep -q later || fail "Vireo does not list qemu's snapshot"
"$VIMG" snapshot -a keep qs.qcow2 || fail "apply qemu's snapshot"
qcheck qs.qcow2
same_through_both qs.qcow2 src.raw
"$DIO" qs.qcow2 write:0x52:1M:1M
"$VIMG" snapshot -d later qs.qcow2
qcheck qs.qcow2
rm -f qbase.qcow2 qtop.qcow2
qemu-img convert -O qcow2 src.raw qbase.qcow2
qemu-img create -q -f qcow2 -b qbase.qcow2 -F qcow2 qtop.qcow2
qemu-io -c "write -P 0x61 64k 64k" -c "write -z 1M 1M" qtop.qcow2 >/dev/null
cp src.raw exp.raw
"$DIO" -f raw exp.raw write:0x61:64k:64k zero:1M:1M
same_through_both qtop.qcow2 exp.raw
"$DIO" qtop.qcow2 write:0x62:5000:10000
"$DIO" -f raw exp.raw write:0x62:5000:10000
qcheck qtop.qcow2
same_through_both qtop.qcow2 exp.raw

step "info, map and measure match qemu-img"
python3 - "$VIMG" <<'EOF'
import json, subprocess, sys
vimg = sys.argv[1]
def run(*cmd):
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
for img in ["qtop.qcow2", "qs.qcow2", "d/e/top.qcow2", "src.raw", "c.qcow2"]:
    q = run("qemu-img", "info", "--output=json", img)
    v = run(vimg, "info", "--output=json", img)
    for drop in ("actual-size",):
        q.pop(drop, None); v.pop(drop, None)
    if q != v:
        sys.exit(f"FAIL: info --output=json differs for {img}:\n{q}\n{v}")
    if img.endswith("qcow2"):
        q = subprocess.run(["qemu-img", "map", "--output=json", img], check=True, capture_output=True, text=True).stdout
        v = subprocess.run([vimg, "map", "--output=json", img], check=True, capture_output=True, text=True).stdout
        if q != v:
            sys.exit(f"FAIL: map differs for {img}")
q = run("qemu-img", "info", "--output=json", "--backing-chain", "qtop.qcow2")
v = run(vimg, "info", "--output=json", "--backing-chain", "qtop.qcow2")
for x in q + v:
    x.pop("actual-size", None)
if q != v:
    sys.exit("FAIL: info --backing-chain differs")
for args in (["-O", "qcow2", "qtop.qcow2"], ["-O", "qcow2", "-o", "cluster_size=4k,refcount_bits=1", "s.qcow2"],
             ["-O", "raw", "src.raw"], ["-O", "qcow2", "--size", "123G"],
             ["-O", "qcow2", "-o", "preallocation=full", "c.qcow2"]):
    q = run("qemu-img", "measure", "--output=json", *args)
    v = run(vimg, "measure", "--output=json", *args)
    if q != v:
        sys.exit(f"FAIL: measure {args}: qemu {q} vireo {v}")
print("info/map/measure agree")
EOF

step "check exit codes and repairs"
rm -f leak.qcow2
"$VIMG" create -q -f qcow2 leak.qcow2 4M
"$DIO" leak.qcow2 write:7:0:256k
python3 - <<'EOF'
import struct
with open("leak.qcow2", "r+b") as f:
    h = f.read(104)
    rt = struct.unpack(">Q", h[48:56])[0]
    f.seek(rt); rb = struct.unpack(">Q", f.read(8))[0]
    f.seek(0, 2); n = f.tell() // 65536
    f.seek(rb + n * 2); f.write(struct.pack(">H", 1))         # a leaked cluster
    f.seek(n * 65536 + 65535); f.write(b"\0")
EOF
set +e
"$VIMG" check leak.qcow2 >/dev/null 2>&1; rc=$?
qemu-img check leak.qcow2 >/dev/null 2>&1; qrc=$?
set -e
[ $rc = 3 ] && [ $qrc = 3 ] || fail "leak: vireo-img check exit $rc, qemu-img $qrc (expected 3)"
"$VIMG" check -r leaks leak.qcow2 2>/dev/null | grep -q "1 leaked clusters" || fail "repair leaks"
qcheck leak.qcow2
python3 - <<'EOF'
import struct
with open("leak.qcow2", "r+b") as f:
    h = f.read(104)
    rt = struct.unpack(">Q", h[48:56])[0]
    f.seek(rt); rb = struct.unpack(">Q", f.read(8))[0]
    l1 = struct.unpack(">Q", h[40:48])[0]
    f.seek(l1); l2 = struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
    f.seek(rb + (l2 // 65536) * 2); f.write(struct.pack(">H", 0))  # refcount too low
EOF
set +e
"$VIMG" check leak.qcow2 >/dev/null 2>&1; rc=$?
set -e
[ $rc = 2 ] || fail "corruption: vireo-img check exit $rc (expected 2)"
"$VIMG" check -r all leak.qcow2 >/dev/null 2>&1 || fail "check -r all did not repair"
qcheck leak.qcow2
"$DIO" -r leak.qcow2 read:7:0:256k || fail "data lost by the repair"
set +e
"$VIMG" check src.raw >/dev/null 2>&1; rc=$?
set -e
[ $rc = 63 ] || fail "check of a raw image: exit $rc (expected 63)"

step "bad usage: one line, exit 2; read-only opens never write"
for args in "convert -Z a b" "create -f qcow2 x.qcow2 12Q" "info" "frobnicate" \
            "create -f qcow2 -o cluster_size=1000 x.qcow2 1M" "check -r some x" \
            "resize" "bench -d 0 x" "map --output=xml x"; do
    set +e
    err=$("$VIMG" $args 2>&1 >/dev/null); rc=$?
    set -e
    [ $rc = 2 ] || fail "'vireo-img $args' exited $rc, expected 2"
    [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "'vireo-img $args' printed more than one line: $err"
done
# A corrupt source stops convert with one line, and stays as it was.
rm -f bad.qcow2
"$VIMG" convert -O qcow2 src.raw bad.qcow2
python3 - <<'EOF'
import struct
with open("bad.qcow2", "r+b") as f:
    h = f.read(104)
    l1 = struct.unpack(">Q", h[40:48])[0]
    f.seek(l1); l2 = struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00
    f.seek(l2 + 8 * 40); e = struct.unpack(">Q", f.read(8))[0]
    f.seek(l2 + 8 * 40); f.write(struct.pack(">Q", e | 0x100))   # a reserved bit
EOF
sum0=$(md5sum bad.qcow2)
set +e
err=$("$VIMG" convert -O raw bad.qcow2 bad.raw 2>&1 >/dev/null); rc=$?
set -e
[ $rc = 1 ] || fail "convert of a corrupt image exited $rc"
[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "convert of a corrupt image: $err"
printf '%s' "$err" | grep -q "corrupt" || fail "convert of a corrupt image: $err"
[ "$(md5sum bad.qcow2)" = "$sum0" ] || fail "reading a corrupt image changed it"
sum1=$(md5sum s.qcow2)
"$VIMG" info s.qcow2 >/dev/null
"$VIMG" check s.qcow2 >/dev/null
"$VIMG" map --output=json s.qcow2 >/dev/null
"$VIMG" convert -O raw s.qcow2 ro.raw
"$VIMG" compare s.qcow2 ro.raw >/dev/null
[ "$(md5sum s.qcow2)" = "$sum1" ] || fail "a read-only command changed s.qcow2"

echo "PASS"
