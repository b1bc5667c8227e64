#!/usr/bin/env bash
# The gst-check suite (tests/gst) under valgrind memcheck: every test must end
# with 0 errors and 0 bytes definitely lost. Suppressions: GLib's glib.supp
# and scripts/sanitizer/gst.supp (GLib/GStreamer one-time allocations only).
# usage: scripts/valgrind.sh [TEST...]      (default: every tests/gst test)
# Uses ./build (scripts/build.sh); logs in build/valgrind/<test>.log.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/deps.sh check || exit 1
scripts/build.sh >/dev/null || exit 1
out=build/valgrind
mkdir -p "$out"

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  for t in build/tests/gst/test-*; do
    [ -x "$t" ] && [ -f "$t" ] && tests+=("$(basename "$t")")
  done
fi

export GST_PLUGIN_PATH_1_0=$root/build/plugins/uniperceiver
export GST_REGISTRY_1_0=$root/$out/registry.bin
export GST_REGISTRY_FORK=no
export UPM_SOURCE_ROOT=$root UPM_BUILD_ROOT=$root/build UPM_FIXTURES=$root/tests/fixtures
export XDG_CACHE_HOME=$root/$out/cache
export OPENBLAS_NUM_THREADS=1
# check runs every test in the process valgrind watches; plain mallocs
export CK_FORK=no CK_DEFAULT_TIMEOUT=3000 G_SLICE=always-malloc G_DEBUG=gc-friendly
# memcheck runs all threads on one core: the concurrency test with 4 pipelines
# (its 16-pipeline run is the ThreadSanitizer and normal suite's job)
export UPM_TEST_PIPELINES=4
# and makes a push wait for a decode: test-upmhead's time ratios are not
# judged (a failed check skips its teardown, and the no-fork run then hangs
# in gst_task_cleanup_all on the element left running)
export UPM_TEST_NO_TIMING=1
# The registry is scanned once outside valgrind: scanning loads every
# installed plugin, whose own one-time allocations are not ours to judge.
gst-inspect-1.0 >/dev/null 2>&1

failed=0
for t in "${tests[@]}"; do
  log=$out/$t.log
  valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
    --error-exitcode=99 --num-callers=40 --track-origins=no \
    --suppressions=/usr/share/glib-2.0/valgrind/glib.supp \
    --suppressions=$root/scripts/sanitizer/gst.supp \
    "build/tests/gst/$t" >"$log" 2>&1
  rc=$?
  errors=$(grep -o 'ERROR SUMMARY: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  lost=$(grep -o 'definitely lost: [0-9,]* bytes' "$log" | tail -1 | grep -o '[0-9,]* bytes' || echo "0 bytes")
  if [ "$rc" = 0 ]; then
    echo "ok     $t: ${errors:-?} errors, ${lost:-0 bytes} definitely lost"
  else
    echo "FAILED $t (exit $rc): ${errors:-?} errors, ${lost:-?} definitely lost; see $log"
    failed=$((failed + 1))
  fi
done
echo "$(( ${#tests[@]} - failed )) passed, $failed failed"
[ $failed = 0 ]
