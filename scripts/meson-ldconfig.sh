#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# meson install script: refreshes the dynamic linker's cache after a real
# install (no DESTDIR) as root, so that the plugin finds libgstupmmeta-1.0
# and applications find libuniperceiver in /usr/local/lib/<triplet> at once
# (meson 1.0 of Debian 12 does not run ldconfig itself). Staged installs
# (DESTDIR: packages, tests) are left alone.
[ -n "${DESTDIR:-}" ] && exit 0
[ "$(id -u)" = 0 ] || exit 0
command -v ldconfig >/dev/null 2>&1 || exit 0
ldconfig || echo "warning: ldconfig failed; run it before using the installed libraries" >&2
exit 0
