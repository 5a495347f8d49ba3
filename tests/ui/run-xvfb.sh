#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs a command in an X server of its own and returns the command's exit status.
# Xvfb picks a free display itself (-displayfd), so parallel runs and other users'
# X servers on the machine do not collide; skips (77) when Xvfb is not installed.
# The command gets a TMPDIR of its own: a vireo-* file or folder it leaves there fails
# the run (the tests must clean up after themselves, not leave /tmp/vireo-ui-* behind).
set -u
command -v Xvfb >/dev/null 2>&1 || { echo "SKIP: Xvfb is not installed (Debian package xvfb)"; exit 77; }
tmp=$(mktemp -d)
trap 'kill "$xpid" 2>/dev/null; wait "$xpid" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
mkfifo "$tmp/fd"
mkdir "$tmp/tmp"
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$tmp/fd" 2>"$tmp/xvfb.log" &
xpid=$!
read -r num < "$tmp/fd" || { echo "run-xvfb: Xvfb did not start:"; cat "$tmp/xvfb.log"; exit 1; }
TMPDIR="$tmp/tmp" DISPLAY=":$num" GDK_BACKEND=x11 "$@"
rc=$?
left=$(cd "$tmp/tmp" && ls -d vireo-* 2>/dev/null)
if [ -n "$left" ] && [ "$rc" != 77 ]; then
    echo "run-xvfb: the test left behind in its TMPDIR:" $left
    [ "$rc" = 0 ] && rc=1
fi
exit "$rc"
