#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The Linux boot kit: Debian's i386 kernel (linux-image-686) and busybox-static:i386,
# fetched with apt-get download, and two initramfs images built from them:
#   initrd-test.img  runs tests/guests/linux/workload.sh and powers off
#   initrd-demo.img  a shell on the console (the demo VM of `make run`)
# expected.txt holds the workload's output computed on the host by the amd64 build of the
# same busybox version (busybox-static:amd64): nothing of the guest's architecture is ever
# executed on the host, which may not run 32-bit programs at all.
# Usage: mkkit.sh OUTDIR [--demo | --amd64]   (idempotent; exits 77 when the archive
# cannot be reached)
#   --demo: only what the demo VM needs (kernel, busybox:i386, initrd-demo.img). The demo
#   parts are built first in either mode, so a failing test-only step (the host busybox,
#   expected.txt) never takes the demo's kernel with it.
#   --amd64: everything, and beside it OUTDIR/amd64/: Debian's amd64 kernel
#   (linux-image-amd64) and initrd-test.img with busybox-static:amd64 as the guest's
#   busybox (the package busybox-host comes from, so the same version), checked against
#   the same expected.txt. The kernel is a guest: nothing of it runs on the host.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
demo_only=0
amd64=0
[ "${2:-}" = --demo ] && demo_only=1
[ "${2:-}" = --amd64 ] && amd64=1
mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$out"
# Tests that use the kit may run in parallel (meson test): one builder at a time.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$out/.lock"
    flock 9
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo

skip() { echo "SKIP: $*"; exit 77; }

if ! dpkg --print-foreign-architectures | grep -qx i386; then
    $SUDO dpkg --add-architecture i386
    $SUDO apt-get update -q >/dev/null || skip "apt-get update failed (no package archive?)"
fi
if ! apt-cache show busybox-static:i386 >/dev/null 2>&1; then
    $SUDO apt-get update -q >/dev/null || skip "apt-get update failed (no package archive?)"
fi

kpkg=$(apt-cache depends linux-image-686:i386 2>/dev/null |
       sed -n 's/.*Depends: \(linux-image-[0-9][^:]*-686\)\(:i386\)\{0,1\}$/\1/p' | head -n 1)
[ -n "$kpkg" ] || skip "cannot resolve linux-image-686:i386 in the package lists"

if [ ! -f vmlinuz ] || [ "$(cat kernel-package 2>/dev/null)" != "$kpkg" ]; then
    rm -rf debs boot && mkdir debs
    (cd debs && apt-get download -q "$kpkg:i386") || skip "cannot download $kpkg:i386"
    dpkg-deb --fsys-tarfile debs/"$kpkg"_*.deb | tar -x --wildcards './boot/vmlinuz-*'
    mv boot/vmlinuz-* vmlinuz.tmp && mv vmlinuz.tmp vmlinuz
    echo "$kpkg" > kernel-package
    rm -rf debs boot
fi

# fetch_busybox ARCH FILE: busybox-static for ARCH, unpacked to FILE; its version in FILE.version.
fetch_busybox() {
    [ -x "$2" ] && [ -f "$2.version" ] && return 0
    rm -rf debs bb && mkdir debs
    (cd debs && apt-get download -q "busybox-static:$1") || skip "cannot download busybox-static:$1"
    dpkg-deb -f debs/busybox-static_*.deb Version > "$2.version"
    dpkg-deb -x debs/busybox-static_*.deb bb
    mv bb/bin/busybox "$2.tmp" && mv "$2.tmp" "$2"
    rm -rf debs bb
}
fetch_busybox i386 busybox          # the guest's
common="dir:bin dir:dev dir:proc dir:sys dir:tmp dir:root dir:etc file:bin/busybox=$out/busybox:755"
python3 "$here/mkinitramfs.py" initrd-demo.img $common \
    "file:init=$here/init-demo.sh:755" "file:etc/motd=$here/motd:644"
if [ "$demo_only" = 1 ]; then
    echo "kit: $out ($kpkg, busybox-static $(cat busybox.version)), demo parts"
    exit 0
fi

# The tests' parts from here on.
fetch_busybox amd64 busybox-host    # the reference run on the host
if [ "$(cat busybox.version)" != "$(cat busybox-host.version)" ]; then
    echo "mkkit: busybox-static:i386 $(cat busybox.version) and :amd64 $(cat busybox-host.version) differ;" \
         "the expected output needs the same version (apt-get update, then run again)" >&2
    rm -f busybox busybox.version busybox-host busybox-host.version
    exit 1
fi
python3 "$here/mkinitramfs.py" initrd-test.img $common \
    "file:init=$here/init-test.sh:755" "file:workload.sh=$here/workload.sh:644"

# The expected workload output, from the amd64 build of the same busybox on the host.
if [ ! -f expected.txt ] || [ "$here/workload.sh" -nt expected.txt ] || [ busybox-host -nt expected.txt ]; then
    tmp=$(mktemp -d)
    mkdir "$tmp/bin"
    ./busybox-host --install -s "$tmp/bin" 2>/dev/null || true
    PATH="$tmp/bin" ./busybox-host sh -c ". '$here/workload.sh'" | grep '^RESULT' > expected.txt.tmp
    rm -rf "$tmp"
    [ "$(wc -l < expected.txt.tmp)" -eq 4 ] || { echo "mkkit: the host busybox did not produce the 4 RESULT lines" >&2; exit 1; }
    mv expected.txt.tmp expected.txt
fi

if [ "$amd64" = 1 ]; then
    kpkg64=$(apt-cache depends linux-image-amd64:amd64 2>/dev/null |
             sed -n 's/.*Depends: \(linux-image-[0-9][^:]*-amd64\)\(:amd64\)\{0,1\}$/\1/p' | head -n 1)
    [ -n "$kpkg64" ] || skip "cannot resolve linux-image-amd64:amd64 in the package lists"
    mkdir -p amd64
    if [ ! -f amd64/vmlinuz ] || [ "$(cat amd64/kernel-package 2>/dev/null)" != "$kpkg64" ]; then
        rm -rf debs boot && mkdir debs
        (cd debs && apt-get download -q "$kpkg64:amd64") || skip "cannot download $kpkg64:amd64"
        dpkg-deb --fsys-tarfile debs/"$kpkg64"_*.deb | tar -x --wildcards './boot/vmlinuz-*'
        mv boot/vmlinuz-* amd64/vmlinuz.tmp && mv amd64/vmlinuz.tmp amd64/vmlinuz
        echo "$kpkg64" > amd64/kernel-package
        rm -rf debs boot
    fi
    python3 "$here/mkinitramfs.py" amd64/initrd-test.img dir:bin dir:dev dir:proc dir:sys dir:tmp dir:root \
        dir:etc "file:bin/busybox=$out/busybox-host:755" \
        "file:init=$here/init-test.sh:755" "file:workload.sh=$here/workload.sh:644"
    echo "kit: $out/amd64 ($kpkg64, busybox-static $(cat busybox-host.version))"
fi
echo "kit: $out ($kpkg, busybox-static $(cat busybox.version))"
