#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# make run's demo VM in the app: run-demo.sh --prepare writes it into a library of its
# own (building the Linux boot kit if needed), then the app's demo case boots it in an
# X server of its own.
#
#   run-demo-test.sh SOURCE_ROOT BUILD_DIR TEST_APP
set -u
src=$1
build=$2
app=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vireo-demo-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
XDG_DATA_HOME=$tmp sh "$src/scripts/run-demo.sh" "$build" --prepare
rc=$?
if [ "$rc" = 77 ]; then
    echo "SKIP: the Linux boot kit could not be built (no package archive?); see $build/linux-kit.log"
    exit 77
fi
[ "$rc" = 0 ] || { echo "run-demo.sh --prepare failed ($rc)"; exit 1; }
sh "$src/tests/ui/run-xvfb.sh" "$app" demo "$tmp/vireo/vms"
