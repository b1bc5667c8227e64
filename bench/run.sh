#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The benchmark: C engine vs PyTorch on Base-shape models, one table.
#
#   bench/run.sh [--size base|small] [--runs N] [--build DIR] [--threads N]
#
# Steps (all in this one run, so every row and ratio is side by side):
#   1. build bench/upm-bench, generate the models once (bench/make_models.py,
#      cached in bench/models/, git-ignored);
#   2. the machine: FMA peak (1 and N threads), sgemm, DRAM read bandwidth;
#   3. warm the vocabulary-feature caches (a process of their own, so the
#      measured runs' peak RSS is the steady state's); the C engine on the
#      dense and the MoE model back to back (upm-bench model); fp32 vs bf16
#      encode of the MoE model (upm-bench precision); the opt-in
#      half-precision vocabulary decoding; PyTorch on both
#      (bench/torch_bench.py, OPENBLAS_NUM_THREADS=2 + set_num_threads(1));
#   4. bench/gst_bench.py: GStreamer rows on the bundled model (file
#      pipeline clips/s, live 30 fps real-time factor and latency, RSS of one
#      process with 1 and 4 pipelines on one model);
#   5. bench/report.py prints the table (also written to the result dir).
# Results: bench/results/<date>/ (git-ignored).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
size=base
runs=5
build="$root/build"
threads=0
python=/usr/bin/python3
[ -x "$python" ] || python=python3

while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if pgrep -f tools/train.py > /dev/null 2>&1; then
  echo "run.sh: warning: a training job (tools/train.py) is running; timings will be disturbed" >&2
fi

ninja -C "$build" bench/upm-bench > /dev/null
bench="$build/bench/upm-bench"
"$python" "$here/make_models.py" --size "$size"

# The library caches vocabulary features under $XDG_CACHE_HOME/uniperceiver.
export XDG_CACHE_HOME="$here/models/cache"
out="$here/results/$(date +%Y%m%d-%H%M%S)-$size"
mkdir -p "$out"
echo "results: $out" >&2

echo "machine ..." >&2
"$bench" machine --runs "$runs" --threads "$threads" > "$out/machine.json"

for kind in dense moe; do
  echo "$kind: vocabulary features ..." >&2
  "$bench" vocab "$here/models/$size-$kind.upm" --threads "$threads" > "$out/vocab-$kind.json"
done
# The two C runs back to back (their ratio is a target), then the opt-in
# half-precision decoding, then PyTorch.
for kind in dense moe; do
  echo "$kind: C engine ..." >&2
  "$bench" model "$here/models/$size-$kind.upm" --runs "$runs" --threads "$threads" > "$out/c-$kind.json"
done
echo "token routing: dispatch overhead ..." >&2
"$bench" dispatch "$here/models/$size-dense.upm" "$here/models/$size-token.upm" --runs "$runs" \
  --threads "$threads" > "$out/dispatch.json"
echo "moe: fp32 vs bf16 encode ..." >&2
"$bench" precision "$here/models/$size-moe.upm" --runs "$runs" --threads "$threads" \
  > "$out/precision.json"
for kind in dense moe; do
  echo "$kind: C engine, half-precision vocabulary features (opt-in) ..." >&2
  UPM_VOCAB_F16=1 "$bench" model "$here/models/$size-$kind.upm" --only-caption --runs "$runs" \
    --threads "$threads" > "$out/c-$kind-f16.json"
done
for kind in dense moe; do
  cache=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_cache"])' "$out/c-$kind.json")
  echo "$kind: PyTorch ..." >&2
  OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=1 "$python" "$here/torch_bench.py" "$here/models/$size-$kind.upm" \
    --runs "$runs" --vocab-cache "$cache" > "$out/torch-$kind.json"
done

# Streams of one model in one process, unbatched vs batched (batch wait
# 2 ms): the bundled model's clips (upmtransformer), clips and captions,
# caption decoding; the Base-shape dense model's caption decoding (1-frame
# clips, its weights read once per step for all streams).
: > "$out/streams.jsonl"
for work in encode caption decode; do
  echo "bundled model: 1, 4, 16 streams ($work) ..." >&2
  "$bench" streams "$root/models/uniperceiver-synth-moe.upm" --stream-work "$work" \
    --threads "$threads" >> "$out/streams.jsonl"
done
echo "dense: 1, 4, 16 streams (decode) ..." >&2
"$bench" streams "$here/models/$size-dense.upm" --stream-work decode --frames 1 --stream-clips 2 \
  --threads "$threads" >> "$out/streams.jsonl"

# GStreamer rows on the bundled model: file throughput, live real-time
# factor and latency, RSS of 1 vs 4 pipelines on one model.
echo "GStreamer pipelines ..." >&2
"$python" "$here/gst_bench.py" --runs "$runs" --build "$build" \
  --base-model "$here/models/$size-moe.upm" > "$out/gst.json" || echo "run.sh: gst_bench.py failed" >&2

"$python" "$here/report.py" "$out"
