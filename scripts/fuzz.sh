#!/usr/bin/env bash
# Fuzz the model-file loader, the BPE tokenizer, the label parsers, upm-fleet's
# configuration file and upmpublish's messages, topics and URIs with
# libFuzzer + ASan/UBSan (clang). Each target runs SECONDS (default 60), all
# targets at once; crashers are copied to tests/fuzz/regressions/<target>/,
# which the normal test suite replays.
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: gguf bpe labels fleetconf publish
#   publishmsg)
# FUZZ_RUNS=N stops each target after N executions instead (SECONDS is then
# an upper bound; 0: none). FUZZ_FLAVOUR=fast fuzzes a release build with
# UBSan only (build-fuzz-fast/, 3-15x the executions per second, for the long
# runs) and then replays every input of the grown corpus once under the
# ASan+UBSan build; the corpora are shared by both flavours.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gguf bpe labels fleetconf publish publishmsg)

scripts/deps.sh check
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized -Dintrospection=disabled >/dev/null
fi
# fuzz-publish needs GStreamer (a build-fuzz/ of before it had it disabled)
grep -q fuzz-publish build-fuzz/build.ninja \
  || meson configure build-fuzz -Dgstreamer=enabled -Dintrospection=disabled >/dev/null
ninja -C build-fuzz $(printf 'tests/fuzz/fuzz-%s ' "${targets[@]}") >/dev/null
runs=${FUZZ_RUNS:-}
fuzzer_dir=build-fuzz
if [ "${FUZZ_FLAVOUR:-asan}" = fast ]; then
  fuzzer_dir=build-fuzz-fast
  [ -f build-fuzz-fast/build.ninja ] \
    || CC=clang meson setup build-fuzz-fast -Dfuzzing=true -Db_sanitize=undefined \
      -Db_lundef=false -Dbuildtype=release -Dintrospection=disabled -Dgstreamer=enabled >/dev/null
  ninja -C build-fuzz-fast $(printf 'tests/fuzz/fuzz-%s ' "${targets[@]}") >/dev/null
fi
limit=${runs:+$runs runs, }$([ "$secs" = 0 ] && echo "no time limit" || echo "${secs}s")
[ "$secs" != 0 ] || secs=$((100 * 86400))

export UPM_CLIP_VOCAB=$PWD/data/clip-bpe/bpe_simple_vocab_16e6.txt.gz
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# One target: fuzz for $secs, print its stats, save crashers. Returns 1 on a
# finding. The targets run in parallel (one libFuzzer process each).
fuzz_one() {
  local t=$1 work=build-fuzz/corpus-$1 st=0
  mkdir -p "$work" build-fuzz/artifacts-$t
  # publish*: GLib leaks its first quark block by design when GStreamer's
  # types outgrow it; the leak check after each input still runs
  [[ "$t" != publish* ]] || export LSAN_OPTIONS=leak_check_at_exit=0
  $fuzzer_dir/tests/fuzz/fuzz-$t -max_total_time="$secs" -rss_limit_mb=2048 \
      ${runs:+-runs=$runs} -max_len=$([ "$t" = gguf ] && echo 65536 || echo 4096) \
      -artifact_prefix=build-fuzz/artifacts-$t/ -print_final_stats=1 \
      "$work" tests/fuzz/corpus/$t 2>build-fuzz/fuzz-$t.log || st=1
  if [ $st = 0 ] && [ $fuzzer_dir != build-fuzz ]; then
    # the grown corpus once more under ASan+UBSan (-runs=0: load, run, stop)
    build-fuzz/tests/fuzz/fuzz-$t -runs=0 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix=build-fuzz/artifacts-$t/ "$work" tests/fuzz/corpus/$t \
        2>build-fuzz/replay-$t.log || st=1
  fi
  {
    echo "== fuzz-$t ($fuzzer_dir), $limit: $([ $st = 0 ] && echo clean || echo "FAILED: see build-fuzz/fuzz-$t.log")"
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov:' build-fuzz/fuzz-$t.log | tail -3 | sed 's/^/   /'
    [ ! -f build-fuzz/replay-$t.log ] || [ $fuzzer_dir = build-fuzz ] \
      || grep -E 'INITED|DONE' build-fuzz/replay-$t.log | tail -1 | sed 's/^/   replay under ASan+UBSan: /'
    for a in build-fuzz/artifacts-$t/*; do
      [ -f "$a" ] || continue
      cp "$a" tests/fuzz/regressions/$t/ && echo "   crasher saved: tests/fuzz/regressions/$t/$(basename "$a")"
    done
  } >build-fuzz/summary-$t.txt
  return $st
}

status=0
pids=()
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || status=1
  cat build-fuzz/summary-${targets[$i]}.txt
done
exit $status
