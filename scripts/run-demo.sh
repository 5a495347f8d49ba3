#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# `make run`: sets up the demo VM in the library (Debian's i386 kernel and a busybox
# shell from the Linux boot kit, on the VGA console) and opens the Vireo window on it.
# Without a display ($DISPLAY and $WAYLAND_DISPLAY unset) the same VM runs in this
# terminal through vireo-run -nographic.
#
#   run-demo.sh [BUILD] [--prepare]   --prepare: set up the demo VM, start nothing (tests)
set -eu
build=${1:-build}
prepare_only=0
[ "${2:-}" = --prepare ] && prepare_only=1
src=$(cd "$(dirname "$0")/.." && pwd)
vireo_run="$build/app/vireo-run"
vireo="$build/app/vireo"
[ -x "$vireo_run" ] || { echo "run-demo: $vireo_run is missing; run 'make' first" >&2; exit 1; }

library="${XDG_DATA_HOME:-$HOME/.local/share}/vireo/vms"
demo="$library/Demo"
kit="$(cd "$build" && pwd)/linux-kit"

have_kit=0
# Only the demo's parts: a test-only step of the kit must not cost the demo its kernel.
if sh "$src/tests/guests/linux/mkkit.sh" "$kit" --demo >"$build/linux-kit.log" 2>&1; then
    have_kit=1
else
    echo "Vireo: the Linux boot kit could not be built: $(grep -v '^[WE]:\|^Get:\|^Fetched' "$build/linux-kit.log" | tail -n 1)"
    echo "Vireo: it downloads Debian's i386 kernel and busybox with apt-get: check that the package"
    echo "Vireo: archive is reachable ('apt-get update'), then run 'make run' again (log: $build/linux-kit.log)."
    echo "Vireo: until then the demo VM has no kernel and shows the firmware only."
fi

mkdir -p "$demo"
if [ "$have_kit" = 1 ]; then
    # Copies, not links: the demo keeps working after 'make clean'.
    for f in vmlinuz initrd-demo.img; do
        if [ ! -f "$demo/$f" ] || ! cmp -s "$kit/$f" "$demo/$f"; then
            cp "$kit/$f" "$demo/$f.tmp" && mv "$demo/$f.tmp" "$demo/$f"
        fi
    done
fi
# The user's changes to an existing demo VM are kept; one written before the kit could
# be built gets its kernel now.
header="# The demo VM of 'make run': Debian's i386 kernel with a busybox shell."
if [ -f "$demo/vm.conf" ] && [ "$have_kit" = 1 ] && [ "$(head -n 1 "$demo/vm.conf")" = "$header" ] &&
   ! grep -q '^kernel=' "$demo/vm.conf"; then
    rm "$demo/vm.conf"
fi
if [ ! -f "$demo/vm.conf" ]; then
    {
        echo "$header"
        echo "[vm]"
        # An osinfo-style ID, so the app shows this name rather than the Linux preset's.
        echo "os-id=debian12"
        echo "os-name=Debian GNU/Linux (busybox shell)"
        echo "memory=256M"
        echo "cpus=1"
        echo "display=std"
        echo "boot=cda"
        if [ "$have_kit" = 1 ]; then
            echo "kernel=vmlinuz"
            echo "initrd=initrd-demo.img"
            # The last console is the shell's: the VGA screen.
            echo "append=console=ttyS0 console=tty0"
        fi
    } > "$demo/vm.conf.tmp"
    mv "$demo/vm.conf.tmp" "$demo/vm.conf"
fi

if [ "$prepare_only" = 1 ]; then
    [ "$have_kit" = 1 ] || exit 77
    exit 0
fi

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x "$vireo" ]; then
    echo "Vireo: opening the app with the demo VM ($demo). Press Start to boot it."
    exec "$vireo" --vm Demo
fi

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    echo "Vireo: the GTK app was not built (GTK 4 or libadwaita missing)."
else
    echo "Vireo: no display (DISPLAY and WAYLAND_DISPLAY are unset)."
fi
echo "Vireo: running the demo VM in this terminal: vireo-run --vm Demo -nographic."
echo "Vireo: quit with Ctrl+A then X."
if [ "$have_kit" = 1 ]; then
    # The serial line is this terminal, so it must be the shell's console.
    exec "$vireo_run" --vm Demo -nographic -append "console=tty0 console=ttyS0"
fi
exec "$vireo_run" --vm Demo -nographic
