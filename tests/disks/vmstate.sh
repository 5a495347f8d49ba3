#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Internal snapshots with VM state, as QEMU's savevm/loadvm keep them (qcow2.txt,
# "Snapshots", vm_state_size): the state Vireo writes past the virtual disk is listed by
# qemu-img with its size, reads back byte-identical through qemu-io, passes qemu-img
# check and vireo-img check through apply and delete, and survives SIGKILL during
# savevm; a snapshot QEMU's savevm made is listed and read by Vireo, and QEMU restores a
# VM from one Vireo wrote.
# Usage: vmstate.sh VIREO_IMG DISK_IO   (the QEMU run skips without qemu-system-x86_64)
set -eu

abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
VIMG=$(abspath "$1")
DIO=$(abspath "$2")
for tool in qemu-img qemu-io python3; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "SKIP: $tool not found (qemu-img and qemu-io: Debian package qemu-utils)"
        exit 77
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-vmstate-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() {
    echo "FAIL: $*"
    exit 1
}

step() {
    echo "== $*"
}

# No corruption and no leak in either tool's eyes (qemu-img check exits 3 on leaks), and
# the same statistics, VM-state clusters of the active layer included.
checks() {
    qout=$(qemu-img check "$1" 2>&1) || fail "qemu-img check $1: $qout"
    echo "$qout" | grep -q "No errors were found" || fail "qemu-img check $1: $qout"
    vout=$("$VIMG" check "$1" 2>&1) || fail "vireo-img check $1: $vout"
    [ "$qout" = "$vout" ] || fail "check of $1: qemu-img says
$qout
vireo-img says
$vout"
}

# The snapshot table as both tools print it must be the same.
same_list() {
    qemu-img snapshot -l "$1" > q.list || fail "qemu-img snapshot -l $1"
    "$VIMG" snapshot -l "$1" > v.list || fail "vireo-img snapshot -l $1"
    cmp -s q.list v.list || { diff q.list v.list; fail "snapshot lists of $1 differ"; }
}

# VM state size of snapshot $2 in $1, from qemu-img's JSON.
qemu_vm_size() {
    qemu-img info --output=json "$1" | python3 -c '
import json, sys
info = json.load(sys.stdin)
print([s for s in info.get("snapshots", []) if s["name"] == sys.argv[1]][0]["vm-state-size"])
' "$2"
}

# The first $2 bytes of the active layer's VM state as qemu-io reads them, into $3.
qemu_vmdump() {
    qemu-io -r -f qcow2 -c "read -b -v 0 $((($2 + 511) / 512 * 512))" "$1" > dump.txt ||
        fail "qemu-io read -b $1"
    python3 -c '
import sys
out = bytearray()
for line in open("dump.txt"):
    p = line.split()
    if len(p) >= 17 and len(p[0]) == 9 and p[0].endswith(":"):
        out += bytes.fromhex("".join(p[1:17]))
open(sys.argv[2], "wb").write(out[:int(sys.argv[1])])
' "$2" "$3"
}

# 5 MiB + 12345 bytes: several L2 tables' worth with 512 B clusters, pieces of 2 MiB ones.
len=5255025
for cs in 512 64k 2M; do
    step "Vireo's savevm, $cs clusters"
    rm -f v.qcow2
    "$VIMG" create -q -f qcow2 -o cluster_size=$cs v.qcow2 10M || fail "create $cs"
    "$DIO" v.qcow2 write:0x11:0:1M write:0x12:9M:1M || fail "guest writes"
    # Out of order, starting and ending inside clusters, across clusters and L2 tables.
    "$DIO" v.qcow2 vmwrite:7:3000000:2255025 vmwrite:7:0:1 vmwrite:7:1:65537 \
        vmwrite:7:65538:2934462 savevm:vm1:$len:3723456789012 || fail "savevm vm1"
    [ "$(qemu_vm_size v.qcow2 vm1)" = $len ] || fail "qemu-img sees another VM state size"
    same_list v.qcow2
    grep -q "5.01 MiB .*01:02:03.456" q.list || fail "qemu-img snapshot -l: $(cat q.list)"
    checks v.qcow2

    # qemu-io reads the state of the applied snapshot as Vireo wrote it.
    cp v.qcow2 q.qcow2
    qemu-img snapshot -a vm1 q.qcow2 || fail "qemu-img snapshot -a vm1"
    qemu_vmdump q.qcow2 $len q.bin
    cp v.qcow2 w.qcow2
    "$DIO" w.qcow2 loadvm:vm1 vmread:7:0:$len vmdump:0:$len:v.bin || fail "Vireo loadvm"
    cmp -s q.bin v.bin || fail "qemu-io reads another VM state than Vireo"

    # Other guest data and another state, then back to vm1.
    "$DIO" v.qcow2 write:0x22:0:2M vmwrite:8:0:3000000 vmread:8:0:3000000 ||
        fail "writes after savevm"
    checks v.qcow2
    "$VIMG" snapshot -a vm1 v.qcow2 || fail "vireo-img snapshot -a vm1"
    "$DIO" -r v.qcow2 read:0x11:0:1M read:0:1M:1M read:0x12:9M:1M vmread:7:0:$len ||
        fail "vm1 after apply"
    checks v.qcow2
    "$VIMG" snapshot -d vm1 v.qcow2 || fail "vireo-img snapshot -d vm1"
    checks v.qcow2

    # Guest I/O still ends at the disk.
    "$DIO" v.qcow2 write:0x33:10M:512 2>/dev/null && fail "guest write past the disk"
    "$DIO" v.qcow2 write:0x33:10485248:1024 2>/dev/null && fail "guest write across the end"
    "$DIO" v.qcow2 read:0:10M:512 2>/dev/null && fail "guest read past the disk"
done

step "savevm drops the state from the active layer; each snapshot keeps its own"
rm -f v.qcow2
"$VIMG" create -q -f qcow2 v.qcow2 10M
head -c 4M /dev/zero > zero.bin
"$DIO" v.qcow2 vmwrite:1:0:4M savevm:a:4194304:1 vmdump:0:4M:active.bin || fail "savevm a"
cmp -s active.bin zero.bin || fail "the active layer kept the VM state after savevm"
"$DIO" v.qcow2 vmwrite:2:0:4M savevm:b:4194304:2 || fail "savevm b"
checks v.qcow2
"$DIO" v.qcow2 loadvm:a vmread:1:0:4M loadvm:b vmread:2:0:4M || fail "loadvm a, b"
checks v.qcow2

step "SIGKILL during VM state writes and savevm"
# Small clusters make savevm long enough (refcounts of every cluster) to be hit. After
# each kill Vireo's next open repairs what the dirty bit says is in motion; then no
# corruption, the guest data intact, and every snapshot the table lists has its state.
rm -f c.qcow2
"$VIMG" create -q -f qcow2 -o cluster_size=512 c.qcow2 16M
"$DIO" c.qcow2 write:0x11:0:4M || fail "guest data"
k=1
while [ $k -le 20 ]; do
    "$DIO" c.qcow2 vmwrite:$k:0:3M savevm:s$k:3145728:$k >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' $(($(od -An -N2 -tu2 /dev/urandom) % 600)))"
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    "$DIO" c.qcow2 read:0x11:0:4M || fail "guest data after kill $k"
    rc=0
    qemu-img check c.qcow2 > check.out 2>&1 || rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 3 ] || fail "qemu-img check after kill $k: $(cat check.out)"
    for sn in $(qemu-img snapshot -l c.qcow2 | awk 'NR > 2 { print $2 }'); do
        cp c.qcow2 t.qcow2
        "$DIO" t.qcow2 loadvm:$sn vmread:${sn#s}:0:3M || fail "$sn after kill $k"
    done
    k=$((k + 1))
done
echo "$(qemu-img snapshot -l c.qcow2 | awk 'NR > 2' | wc -l) of 20 savevms survived"
# A kill between a new L1 table and the release of the old one leaks it: reclaim that.
"$VIMG" check -q -r leaks c.qcow2 || fail "vireo-img check -r leaks"
checks c.qcow2

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    echo "qemu-system-x86_64 not found: QEMU's own savevm and loadvm not tested"
    exit 0
fi

# QEMU's monitor on stdin; its exit status and what it printed in $2.
qemu_run() {
    img=$1 out=$2
    shift 2
    timeout 120 qemu-system-x86_64 -nodefaults -display none -m 32 -hda "$img" \
        -monitor stdio "$@" > "$out" 2>&1
}

step "QEMU's savevm, read by Vireo"
rm -f qs.qcow2
qemu-img create -q -f qcow2 qs.qcow2 64M
printf 'savevm s1\nquit\n' | qemu_run qs.qcow2 qemu.out || fail "qemu savevm: $(cat qemu.out)"
same_list qs.qcow2
size=$(qemu_vm_size qs.qcow2 s1)
[ "$size" -gt 0 ] || fail "QEMU wrote no VM state"
checks qs.qcow2
cp qs.qcow2 q.qcow2
qemu-img snapshot -a s1 q.qcow2
qemu_vmdump q.qcow2 "$size" q.bin
"$DIO" qs.qcow2 loadvm:s1 vmdump:0:"$size":v.bin || fail "Vireo loadvm s1"
[ "$(wc -c < v.bin)" -eq "$size" ] || fail "Vireo read another length"
cmp -s q.bin v.bin || fail "Vireo reads QEMU's VM state differently from qemu-io"
checks qs.qcow2

step "QEMU's loadvm of a snapshot Vireo wrote"
# QEMU's own state, stored again by Vireo under a new name: QEMU must restore it.
"$DIO" qs.qcow2 vmload:0:v.bin savevm:s2:"$size":6000000 || fail "Vireo savevm s2"
checks qs.qcow2
printf 'info status\nquit\n' | qemu_run qs.qcow2 qemu.out -loadvm s2 ||
    fail "qemu -loadvm s2: $(cat qemu.out)"
grep -q "VM status: running" qemu.out || fail "qemu -loadvm s2: $(cat qemu.out)"
# Control: a state that is not QEMU's is refused, so the run above did load s2.
"$DIO" qs.qcow2 vmwrite:5:0:"$size" savevm:bad:"$size":1 || fail "Vireo savevm bad"
printf 'quit\n' | qemu_run qs.qcow2 qemu.out -loadvm bad && fail "qemu loaded a bogus state"
"$VIMG" snapshot -d bad qs.qcow2
"$VIMG" snapshot -d s1 qs.qcow2
checks qs.qcow2
echo "OK"
