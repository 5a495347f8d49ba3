#!/bin/sh
# Install the Debian 12 packages Vireo needs to build, run and test.
# Idempotent: when everything is present it only runs dpkg-query and exits.
# Usage: scripts/setup-deps.sh [run|test]
set -eu

mode=${1:-test}

build_pkgs="build-essential pkg-config meson ninja-build nasm
  libglib2.0-dev libjson-glib-dev libpixman-1-dev zlib1g-dev libzstd-dev libpng-dev libslirp-dev
  libsdl2-dev libpulse-dev libspice-server-dev libusb-1.0-0-dev libusbredirparser-dev libcapstone-dev seabios ipxe-qemu acpica-tools
  libgtk-4-dev libadwaita-1-dev libepoxy-dev libosinfo-1.0-dev osinfo-db gettext appstream
  libgl1-mesa-dri fonts-cantarell adwaita-icon-theme usb.ids"
test_pkgs="qemu-utils qemu-system-x86 gdb memtest86+ gcc-multilib clang libclang-rt-14-dev xvfb xauth
  x11-apps xdotool xorriso desktop-file-utils isolinux syslinux syslinux-common mtools
  libvirt-clients pulseaudio pulseaudio-utils qemu-system-gui spice-client-gtk
  gir1.2-spiceclientglib-2.0 python3-gi umockdev libumockdev-dev usbredirect"

pkgs=$build_pkgs
[ "$mode" = test ] && pkgs="$pkgs $test_pkgs"

missing=""
for p in $pkgs; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

echo "setup: installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || echo "setup: apt-get update reported errors; installing from the package lists it has"
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
