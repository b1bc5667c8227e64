#!/usr/bin/env bash
# meson test wrapper of scripts/sanitize.sh: preloads the sanitizer runtime so
# that uninstrumented programs (gst-launch-1.0, gst-plugin-scanner, python3)
# can load the sanitized plugin and tools. Interpreters allocate for their
# whole life and free nothing at exit: no leak checking inside them (the C
# tests check leaks).
# SPDX-License-Identifier: LGPL-2.1-or-later
case "$(basename "$1")" in
  python3* | bash | sh)
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" ;;
esac
export LD_PRELOAD="${UPM_SANITIZER_PRELOAD}${LD_PRELOAD:+:$LD_PRELOAD}"
exec "$@"
