#!/usr/bin/env bash
# Install the Debian 12 packages gst-uniperceiver needs, only those missing.
# usage: scripts/deps.sh [run|test|check]
#   test  = run + what the test suite needs
#   check = test + the fuzzers' and valgrind's (clang, libFuzzer, valgrind)
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

run_pkgs=(
  gcc libc6-dev meson ninja-build pkg-config
  libglib2.0-dev libopenblas-dev libjson-glib-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev ffmpeg
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x fonts-dejavu-core
  python3 python3-numpy
  libmosquitto-dev
  libsoup-3.0-dev
)
test_pkgs=(python3-torch python3-regex python3-pil python3-gi gir1.2-gstreamer-1.0
  mosquitto mosquitto-clients openssl python3-jsonschema)
# tests/fleet: RTSP cameras (gst-rtsp-server through gi), the status page
test_pkgs+=(gir1.2-gst-rtsp-server-1.0 chromium)
# The GstUpm-1.0 typelib (meson option introspection, auto) and its test.
test_pkgs+=(gobject-introspection libgirepository1.0-dev)
check_pkgs=(clang libclang-rt-14-dev valgrind)
# The format check (scripts/check-format.sh) needs the clang-format the style
# file is written for; Debian 12 has it as clang-format-14.
if grep -q '^12' /etc/debian_version 2>/dev/null; then
  test_pkgs+=(clang-format-14)
fi
# GstAnalytics (meson option analytics, docs/analytics.md) needs GStreamer
# >= 1.26, Debian 13 on: the headers and pkg-config file of
# gstreamer-analytics-1.0 come with the plugins-bad -dev package, the
# GstAnalytics typelib for the Python test with its gir1.2 package. Debian
# 12's packages of these names (1.22) have no GstAnalytics: not installed.
debian_major=$(sed -n 's/^\([0-9][0-9]*\).*/\1/p' /etc/debian_version 2>/dev/null || true)
if [ -n "$debian_major" ] && [ "$debian_major" -ge 13 ]; then
  run_pkgs+=(libgstreamer-plugins-bad1.0-dev)
  test_pkgs+=(gir1.2-gst-plugins-bad-1.0)
fi

pkgs=("${run_pkgs[@]}")
case "${1:-run}" in
  run) ;;
  test) pkgs+=("${test_pkgs[@]}") ;;
  check) pkgs+=("${test_pkgs[@]}" "${check_pkgs[@]}") ;;
  *) echo "usage: scripts/deps.sh [run|test|check]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "== installing ${#missing[@]} Debian packages: ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "error: these packages are missing and installing them needs root:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
