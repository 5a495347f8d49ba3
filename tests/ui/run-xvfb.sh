#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs a command in an X server of its own and returns the command's exit status.
# Xvfb picks a free display itself (-displayfd), so parallel runs and other users'
# X servers on the machine do not collide; skips (77) when Xvfb is not installed.
set -u
command -v Xvfb >/dev/null 2>&1 || { echo "SKIP: Xvfb is not installed (Debian package xvfb)"; exit 77; }
tmp=$(mktemp -d)
trap 'kill "$xpid" 2>/dev/null; wait "$xpid" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
mkfifo "$tmp/fd"
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$tmp/fd" 2>"$tmp/xvfb.log" &
xpid=$!
read -r num < "$tmp/fd" || { echo "run-xvfb: Xvfb did not start:"; cat "$tmp/xvfb.log"; exit 1; }
DISPLAY=":$num" GDK_BACKEND=x11 "$@"
