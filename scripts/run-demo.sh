#!/bin/sh
# `make run`: start Vireo's demo VM. Until the GTK front end lands this boots the default
# PC headless: SeaBIOS's screen arrives on the serial console in this terminal.
set -eu
build=${1:-build}
vireo="$build/app/vireo-run"
[ -x "$vireo" ] || { echo "run-demo: $vireo is missing; run 'make' first" >&2; exit 1; }

echo "Vireo: booting the demo PC headless (SeaBIOS, 256 MiB, no disks yet)."
echo "Vireo: the firmware's screen appears below. Quit with Ctrl+A then X."
exec "$vireo" -name demo -m 256 -nographic
