#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The benchmark: C engine vs PyTorch on Base-shape models, one table.
#
#   bench/run.sh [--size base|small] [--runs N] [--build DIR] [--threads N]
#                [--precision-only] [--no-trixie] [--models DIR]
#
#   --precision-only  only the rows of the precision work (issue 20): the
#                     machine's peaks, the C engine per precision (encode,
#                     decode step), batched streams, the encoder baselines
#                     (PyTorch here, PyTorch 2.6 and ONNX Runtime 1.21 in
#                     the trixie root) and the targets
#   --models DIR      the Base-shape models already made (DIR/<size>-moe.upm
#                     ...; read only is fine) instead of bench/models
#   --no-trixie       skip bench/trixie-baselines.sh (it needs root, and
#                     makes its Debian 13 root once: several minutes)
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
#   5. the precision rows (issue 20): upm-bench decode (the caption decode
#      step in fp32, bf16, int8 vs the DRAM time of its weights),
#      bench/portable.sh (this build at UPM_CPU=avx2 against the last
#      native build, alternately) and
#      upm-bench streams (1, 4, 16 streams on the bundled model, batched vs
#      unbatched) where this upm-bench has them; the encoder baselines on
#      the same shapes (bench/encoder_baselines.py with this host's
#      PyTorch, fp32 and bf16 autocast, in both thread set-ups; and
#      bench/trixie-baselines.sh: PyTorch 2.6, ONNX Runtime 1.21 fp32 and
#      dynamic int8 in a Debian 13 root);
#   6. bench/report.py prints the table and the issue's targets with
#      PASS / MISS (also written to the result dir).
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
precision_only=0
trixie=1
models=

while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --precision-only) precision_only=1; shift ;;
    --no-trixie) trixie=0; shift ;;
    --models) models=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if pgrep -f tools/train.py > /dev/null 2>&1; then
  echo "run.sh: warning: a training job (tools/train.py) is running; timings will be disturbed" >&2
fi

ninja -C "$build" bench/upm-bench > /dev/null
bench="$build/bench/upm-bench"
if [ -z "$models" ]; then
  models="$here/models"
  "$python" "$here/make_models.py" --size "$size"
fi
mkdir -p "$here/models/cache"

# The library caches vocabulary features under $XDG_CACHE_HOME/uniperceiver.
export XDG_CACHE_HOME="$here/models/cache"
out="$here/results/$(date +%Y%m%d-%H%M%S)-$size"
mkdir -p "$out"
echo "results: $out" >&2

echo "machine ..." >&2
"$bench" machine --runs "$runs" --threads "$threads" > "$out/machine.json"

# The encoder shapes of the baselines: the Base clip's (8 frames of 14 x 14
# patches; the C engine adds <SPE>), on the threads the C engine uses.
shape="--tokens 1568 --layers 12 --d 768 --heads 12 --ffn 3072"
[ "$size" = base ] || shape="--tokens 1568 --layers 4 --d 256 --heads 4 --ffn 1024"
nthreads=$threads
[ "$nthreads" -gt 0 ] || nthreads=$(nproc)

precision_rows() {
  echo "moe: fp32 vs bf16 encode ..." >&2
  "$bench" precision "$models/$size-moe.upm" --runs "$runs" --threads "$threads" \
    > "$out/precision.json"
  # Rows of the int8 and batching work: run where this upm-bench has them.
  echo "moe: caption decode step per precision ..." >&2
  "$bench" decode "$models/$size-moe.upm" --runs "$runs" --threads "$threads" \
    > "$out/decode.json" 2> "$out/decode.err" || {
    echo "run.sh: upm-bench decode: $(tail -n 1 "$out/decode.err")" >&2
    rm -f "$out/decode.json"
  }
  # The portable build at UPM_CPU=avx2 against the last native build
  # (-mavx2 -mfma -mf16c everywhere), alternately in this run.
  echo "portable build (UPM_CPU=avx2) vs the last native build ..." >&2
  "$here/portable.sh" "$models/$size-moe.upm" --runs "$runs" --threads "$threads" \
    --build "$build" > "$out/portable.jsonl" 2> "$out/portable.err" || {
    echo "run.sh: portable.sh: $(tail -n 1 "$out/portable.err")" >&2
    rm -f "$out/portable.jsonl"
  }
  # The same encoder in this host's PyTorch: its fp32 GEMMs run in
  # OpenBLAS (best with OPENBLAS_NUM_THREADS=N and one torch thread), its
  # bf16 ones in oneDNN (torch threads): both set-ups, report.py keeps the
  # better time of each row.
  echo "encoder baselines: this host's PyTorch ..." >&2
  OPENBLAS_NUM_THREADS=$nthreads "$python" "$here/encoder_baselines.py" --runs "$runs" \
    --threads "$nthreads" --torch-threads 1 $shape --label host > "$out/encoder-host-blas.jsonl" || echo "run.sh: encoder_baselines.py failed" >&2
  OPENBLAS_NUM_THREADS=1 "$python" "$here/encoder_baselines.py" --runs "$runs" \
    --threads "$nthreads" $shape --label host > "$out/encoder-host-omp.jsonl" || echo "run.sh: encoder_baselines.py failed" >&2
  if [ "$trixie" = 1 ]; then
    echo "encoder baselines: PyTorch 2.6 and ONNX Runtime 1.21 in a Debian 13 root ..." >&2
    "$here/trixie-baselines.sh" --runs "$runs" --threads "$nthreads" $shape \
      > "$out/trixie.jsonl" || {
      echo "run.sh: trixie-baselines.sh failed or was skipped (rc $?)" >&2
      rm -f "$out/trixie.jsonl"
    }
  fi
}

# Streams of one model in one process, unbatched vs batched (batch wait
# 2 ms): the bundled model's clips (upmtransformer), clips and captions,
# caption decoding; the Base-shape dense model's caption decoding (1-frame
# clips, its weights read once per step for all streams).
streams_rows() {
  : > "$out/streams.jsonl"
  for work in encode caption decode; do
    echo "bundled model: 1, 4, 16 streams ($work) ..." >&2
    "$bench" streams "$root/models/uniperceiver-synth-moe.upm" --stream-work "$work" \
      --threads "$threads" >> "$out/streams.jsonl"
  done
  echo "dense: 1, 4, 16 streams (decode) ..." >&2
  "$bench" streams "$models/$size-dense.upm" --stream-work decode --frames 1 --stream-clips 2 \
    --threads "$threads" >> "$out/streams.jsonl"
}

if [ "$precision_only" = 1 ]; then
  precision_rows
  streams_rows
  "$python" "$here/report.py" "$out"
  exit 0
fi

for kind in dense moe; do
  echo "$kind: vocabulary features ..." >&2
  "$bench" vocab "$models/$size-$kind.upm" --threads "$threads" > "$out/vocab-$kind.json"
done
# The two C runs back to back (their ratio is a target), then the opt-in
# half-precision decoding, then PyTorch.
for kind in dense moe; do
  echo "$kind: C engine ..." >&2
  "$bench" model "$models/$size-$kind.upm" --runs "$runs" --threads "$threads" > "$out/c-$kind.json"
done
echo "token routing: dispatch overhead ..." >&2
"$bench" dispatch "$models/$size-dense.upm" "$models/$size-token.upm" --runs "$runs" \
  --threads "$threads" > "$out/dispatch.json"
precision_rows
for kind in dense moe; do
  echo "$kind: C engine, half-precision vocabulary features (opt-in) ..." >&2
  UPM_VOCAB_F16=1 "$bench" model "$models/$size-$kind.upm" --only-caption --runs "$runs" \
    --threads "$threads" > "$out/c-$kind-f16.json"
done
for kind in dense moe; do
  cache=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_cache"])' "$out/c-$kind.json")
  echo "$kind: PyTorch ..." >&2
  OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=1 "$python" "$here/torch_bench.py" "$models/$size-$kind.upm" \
    --runs "$runs" --vocab-cache "$cache" > "$out/torch-$kind.json"
done

streams_rows

# GStreamer rows on the bundled model: file throughput, live real-time
# factor and latency, RSS of 1 vs 4 pipelines on one model.
echo "GStreamer pipelines ..." >&2
"$python" "$here/gst_bench.py" --runs "$runs" --build "$build" \
  --base-model "$models/$size-moe.upm" > "$out/gst.json" || echo "run.sh: gst_bench.py failed" >&2

"$python" "$here/report.py" "$out"
