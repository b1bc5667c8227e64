#!/usr/bin/env bash
# Build everything with sanitizers in its own build directory and run the test
# suite there.
# usage: scripts/sanitize.sh [address|thread] [meson test arguments...]
#   address  ASan + UBSan (build-asan), the whole suite by default
#   thread   ThreadSanitizer (build-tsan), the concurrency test by default
# Programs that are not built here (gst-launch-1.0, gst-plugin-scanner, the
# Python interpreter of the PyGObject tests) load our sanitized plugin, so the
# runtime is preloaded for them. Reports make the test fail (halt_on_error);
# leak reports of GLib/GStreamer's one-time allocations are suppressed by
# scripts/sanitizer/lsan.supp, uninstrumented libraries by tsan.supp; GLib's
# GMutex/GCond, futex code inside uninstrumented libglib, are made visible to
# TSan by scripts/sanitizer/glib-tsan.c (preloaded with the runtime).
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-address}
shift || true
supp=$PWD/scripts/sanitizer

case "$kind" in
  address)
    dir=build-asan
    sanitize=address,undefined
    runtime="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
    export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:allocator_may_return_null=1:detect_odr_violation=0:verify_asan_link_order=0
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    export LSAN_OPTIONS=suppressions=$supp/lsan.supp:print_suppressions=0
    default_tests=()
    ;;
  thread)
    dir=build-tsan
    sanitize=thread
    runtime=$(gcc -print-file-name=libtsan.so):$PWD/$dir/glib-tsan.so
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"
    default_tests=(test-upmconcurrency test-engine)
    ;;
  *)
    echo "usage: scripts/sanitize.sh [address|thread] [meson test arguments...]" >&2
    exit 2
    ;;
esac

scripts/deps.sh test
if [ ! -f $dir/build.ninja ]; then
  meson setup $dir --buildtype=debugoptimized -Db_sanitize=$sanitize -Db_lundef=false >/dev/null
fi
ninja -C $dir
if [ "$kind" = thread ]; then
  gcc -shared -fPIC -O2 -Wall $(pkg-config --cflags glib-2.0) \
    -o $dir/glib-tsan.so $supp/glib-tsan.c -ldl
fi
# The sanitizer runtime must come first in programs built elsewhere.
export UPM_SANITIZER_PRELOAD=$runtime
# OpenBLAS's own threads are not instrumented: keep them out of the picture.
export OPENBLAS_NUM_THREADS=1
# Scan the tests' plugin registries once, reports off: scanning runs the init
# code of every installed plugin (uninstrumented, not ours; TSan misreads
# some of their static mutexes). The tests then load only what they use.
for reg in tests/gst tests/pipelines; do
  GST_REGISTRY_1_0=$PWD/$dir/$reg/test-registry.bin GST_REGISTRY_FORK=no \
    GST_PLUGIN_PATH_1_0=$PWD/$dir/plugins/uniperceiver LD_PRELOAD=$runtime \
    ASAN_OPTIONS=detect_leaks=0 TSAN_OPTIONS=report_bugs=0 \
    gst-inspect-1.0 upmbin >/dev/null 2>&1 || true
done
args=("$@")
[ ${#args[@]} -gt 0 ] || args=("${default_tests[@]}")
meson test -C $dir --print-errorlogs --num-processes 2 --timeout-multiplier 4 \
  --wrapper "$PWD/scripts/sanitizer/preload.sh" "${args[@]}" && rc=0 || rc=$?
/usr/bin/python3 scripts/test-summary.py $dir/meson-logs/testlog-preload.sh.txt || rc=1
exit $rc
