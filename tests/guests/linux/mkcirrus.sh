#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The Cirrus initramfs: Debian's DRM driver for the CL-GD5446 (drivers/gpu/drm/tiny/
# cirrus.ko, with the DRM modules it needs) and init-cirrus.sh.
#   initrd-cirrus.img
# Usage: mkcirrus.sh KITDIR      (exits 77 when the package archive cannot be reached)
here=$(cd "$(dirname "$0")" && pwd)
exec sh "$here/mkmodinitrd.sh" "$1" cirrus "$here/init-cirrus.sh" "cirrus"
