#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Image locking against QEMU (issue 21): Vireo and QEMU refuse each other's images while
# in use, with one error line that names the image and the holder; readers coexist;
# -U / force-share and file.locking=off override. The holders are qemu-io (QEMU's
# block layer, from qemu-utils) and disk-io's "hold"; with qemu-system-x86_64 installed
# a QEMU VM and vireo-run face each other too.
# Usage: locking.sh VIREO_IMG DISK_IO VIREO_RUN
set -eu

abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
VIMG=$(abspath "$1")
DIO=$(abspath "$2")
VRUN=$(abspath "$3")
if ! command -v qemu-img >/dev/null 2>&1 || ! command -v qemu-io >/dev/null 2>&1; then
    echo "SKIP: qemu-img/qemu-io not found (install the Debian package qemu-utils)"
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-locking-XXXXXX")
holder_pid=
cleanup() {
    exec 3>&- 2>/dev/null || true
    [ -n "$holder_pid" ] && kill "$holder_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

fail() {
    echo "FAIL: $*"
    exit 1
}

step() {
    echo "== $*"
}

# Waits until some process holds an OFD lock on the image (at most 10 s).
wait_locked() {
    ino=$(stat -c %i "$1")
    n=0
    while ! grep -q "OFDLCK.*:$ino " /proc/locks; do
        n=$((n + 1))
        [ $n -lt 200 ] || fail "nothing locked $1"
        sleep 0.05
    done
}

# Starts a holder reading commands from a FIFO: "$@" < fifo, with the FIFO held open on
# fd 3 until release.
hold() {
    rm -f fifo
    mkfifo fifo
    "$@" < fifo > holder.out 2>&1 &
    holder_pid=$!
    exec 3> fifo
    wait_locked img.qcow2
}

release() {
    exec 3>&-
    wait "$holder_pid" || true
    holder_pid=
}

# The command must fail with exit code $1 and a single line naming the image, the
# holder's name and "pid".
refused() {
    code=$1 who=$2
    shift 2
    set +e
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    set -e
    [ $rc = "$code" ] || fail "'$*' exited $rc (expected $code): $err"
    [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "'$*' printed more than one line: $err"
    case $err in
    *img.qcow2*"$who (pid "*) ;;
    *) fail "'$*' does not name the image and $who: $err" ;;
    esac
}

# QEMU's own refusal: it exits non-zero mentioning its lock failure.
qemu_refused() {
    set +e
    err=$("$@" 2>&1 >/dev/null)
    rc=$?
    set -e
    [ $rc != 0 ] || fail "'$*' succeeded on a locked image"
    case $err in
    *"Failed to get"*"lock"*) ;;
    *) fail "'$*' failed for another reason: $err" ;;
    esac
}

works() {
    "$@" >/dev/null 2>&1 || fail "'$*' failed: $("$@" 2>&1 | tail -n 1)"
}

"$VIMG" create -q -f qcow2 img.qcow2 16M
"$DIO" img.qcow2 write:5:0:64k

step "QEMU writes (qemu-io): Vireo keeps out, -U and locking=off read"
hold qemu-io img.qcow2
refused 1 qemu-io "$VIMG" info img.qcow2
refused 1 qemu-io "$VIMG" check -r leaks img.qcow2
refused 1 qemu-io "$VIMG" snapshot -c s1 img.qcow2
refused 1 qemu-io "$VIMG" convert -O raw img.qcow2 out.raw
refused 1 qemu-io "$DIO" img.qcow2 write:6:0:4k
refused 1 qemu-io "$DIO" -r img.qcow2 read:5:0:4k
works "$VIMG" info -U img.qcow2
works "$VIMG" check -U img.qcow2
works "$VIMG" convert -U -O raw img.qcow2 out.raw
works "$DIO" -U img.qcow2 read:5:0:64k
works "$DIO" -r -L img.qcow2 read:5:0:64k
release

step "QEMU reads (qemu-io -r): Vireo reads too, but does not write"
hold qemu-io -r img.qcow2
works "$VIMG" info img.qcow2
works "$DIO" -r img.qcow2 read:5:0:64k
refused 1 qemu-io "$DIO" img.qcow2 write:6:0:4k
refused 1 qemu-io "$VIMG" snapshot -c s1 img.qcow2
release

step "Vireo writes: QEMU and a second Vireo writer keep out, -U reads"
hold "$DIO" img.qcow2 write:7:0:4k hold
qemu_refused qemu-img info img.qcow2
qemu_refused qemu-io -c "write -P 8 0 4k" img.qcow2
qemu_refused qemu-img snapshot -c s1 img.qcow2
qemu_refused qemu-img check img.qcow2
refused 1 disk-io "$DIO" img.qcow2 write:9:0:4k
refused 1 disk-io "$VIMG" info img.qcow2
works qemu-img info -U img.qcow2
works "$VIMG" info -U img.qcow2
release
# The refused writers changed nothing: the holder's write is there.
works "$DIO" -r img.qcow2 read:7:0:4k read:5:4k:60k

step "Vireo reads: readers share, writers keep out"
hold "$DIO" -r img.qcow2 hold
works qemu-img info img.qcow2
works "$VIMG" info img.qcow2
works "$DIO" -r img.qcow2 read:7:0:4k
qemu_refused qemu-io -c "write -P 8 0 4k" img.qcow2
refused 1 disk-io "$DIO" img.qcow2 write:9:0:4k
refused 1 disk-io "$VIMG" check -r all img.qcow2
release

step "a backing file in use by a reader can be committed into only by its own chain"
"$VIMG" create -q -f qcow2 -b img.qcow2 -F qcow2 top.qcow2
"$DIO" top.qcow2 write:10:8k:4k
works "$VIMG" commit top.qcow2
works "$DIO" -r img.qcow2 read:10:8k:4k
hold qemu-io -r img.qcow2
"$DIO" top.qcow2 write:11:8k:4k
refused 1 qemu-io "$VIMG" commit top.qcow2
release

if command -v qemu-system-x86_64 >/dev/null 2>&1; then
    step "a QEMU VM and vireo-run exclude each other"
    hold qemu-system-x86_64 -display none -nodefaults -S -monitor none \
        -drive file=img.qcow2,format=qcow2,if=ide
    refused 1 qemu-system-x86 "$VRUN" -display none -serial null \
        -drive file=img.qcow2,format=qcow2
    # Read-only with force-share, or without locks, it starts (and runs until killed).
    for opts in readonly=on,force-share=on readonly=on,file.locking=off; do
        set +e
        timeout 2 "$VRUN" -display none -serial null -drive "file=img.qcow2,format=qcow2,$opts" \
            > vr.out 2>&1
        rc=$?
        set -e
        [ $rc = 124 ] || fail "vireo-run -drive $opts exited $rc: $(cat vr.out)"
    done
    kill "$holder_pid"
    release
    hold "$VRUN" -display none -serial null -drive file=img.qcow2,format=qcow2
    qemu_refused qemu-system-x86_64 -display none -nodefaults -S -monitor none \
        -drive file=img.qcow2,format=qcow2,if=ide
    refused 1 vireo-run "$VRUN" -display none -serial null -drive file=img.qcow2,format=qcow2
    kill "$holder_pid"
    release
else
    echo "(qemu-system-x86_64 not installed: the VM part is skipped)"
fi

echo "PASS"
