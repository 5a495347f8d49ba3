#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# make run's demo VM does not depend on the kit's test-only steps: with the host busybox
# of another version than the guest's (the full kit then fails before expected.txt),
# run-demo.sh --prepare still writes a demo VM with its kernel and initrd.
#
#   demo-kit-test.sh SOURCE_ROOT BUILD_DIR
set -u
src=$1
build=$2
kit="$build/linux-kit"
sh "$src/tests/guests/linux/mkkit.sh" "$kit" --demo >"$build/demo-kit-test.log" 2>&1
rc=$?
if [ "$rc" = 77 ]; then
    echo "SKIP: the Linux boot kit could not be built (no package archive?); see $build/demo-kit-test.log"
    exit 77
fi
[ "$rc" = 0 ] || { echo "FAIL: mkkit.sh --demo failed ($rc):"; tail -n 5 "$build/demo-kit-test.log"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vireo-demokit-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# A build folder of its own: the real vireo-run, a copy of the kit's downloads.
mkdir -p "$tmp/build/app" "$tmp/build/linux-kit"
ln -s "$(cd "$build" && pwd)/app/vireo-run" "$tmp/build/app/vireo-run"
for f in vmlinuz kernel-package busybox busybox.version; do
    cp -p "$kit/$f" "$tmp/build/linux-kit/$f" || { echo "FAIL: the kit lacks $f"; exit 1; }
done
# A host busybox of another version: never run (the version check comes first), so a
# stand-in script does.
printf '#!/bin/sh\nexit 1\n' > "$tmp/build/linux-kit/busybox-host"
chmod 755 "$tmp/build/linux-kit/busybox-host"
echo "0:0.0-not-the-guests" > "$tmp/build/linux-kit/busybox-host.version"

XDG_DATA_HOME="$tmp/data" sh "$src/scripts/run-demo.sh" "$tmp/build" --prepare >"$tmp/prepare.log" 2>&1
rc=$?
demo="$tmp/data/vireo/vms/Demo"
cat "$tmp/prepare.log"
[ "$rc" = 0 ] || { echo "FAIL: run-demo.sh --prepare exited $rc"; exit 1; }
grep -qx 'kernel=vmlinuz' "$demo/vm.conf" || { echo "FAIL: the demo VM has no kernel:"; cat "$demo/vm.conf"; exit 1; }
grep -qx 'initrd=initrd-demo.img' "$demo/vm.conf" || { echo "FAIL: the demo VM has no initrd"; exit 1; }
cmp -s "$demo/vmlinuz" "$kit/vmlinuz" || { echo "FAIL: the demo's vmlinuz is not the kit's"; exit 1; }
[ -s "$demo/initrd-demo.img" ] || { echo "FAIL: no initrd-demo.img in the demo VM"; exit 1; }
echo "demo VM written with its kernel although the kit's test-only step fails"

# The injected fault is real: the whole kit fails at that step.
if sh "$src/tests/guests/linux/mkkit.sh" "$tmp/build/linux-kit" >"$tmp/full.log" 2>&1; then
    echo "FAIL: the full kit did not fail with a host busybox of another version"
    exit 1
fi
grep -q 'differ' "$tmp/full.log" || { echo "FAIL: the full kit failed for another reason:"; tail -n 3 "$tmp/full.log"; exit 1; }
echo "the full kit fails at its test-only step, as it should"
echo "1 passed, 0 failed"
