#!/usr/bin/env bash
# Demo on an already built tree (run-demo.sh installs and builds first): a
# fresh synthetic video from an unseen seed, captioned and classified through
# the GStreamer plugin (build tree, nothing installed), captions burned into
# an MP4 and written to WebVTT; then the upm-run CLI on the same video.
# usage: scripts/demo.sh [--seed N] [--clips N] [--model FILE]
#                        [--labels "a,b,..."] [--ask] [--out DIR]
# --labels: the open-vocabulary labels (default: a colour per object);
# --ask: type them when the demo runs. Output goes to ./out/demo/.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n 6,7p "$0" | sed 's/^# //' >&2; exit "${1:-2}"; }

seed=""
clips=6
model=${UPM_MODEL:-models/uniperceiver-synth-moe.upm}
open_labels="" # default: "a red object", "an orange object", ... (below)
ask=0
out=out/demo
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) [ $# -ge 2 ] || usage; seed=$2; shift 2 ;;
    --clips) [ $# -ge 2 ] || usage; clips=$2; shift 2 ;;
    --model) [ $# -ge 2 ] || usage; model=$2; shift 2 ;;
    --labels) [ $# -ge 2 ] || usage; open_labels=$2; shift 2 ;;
    --ask) ask=1; shift ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    *) usage ;;
  esac
done
if [ ! -f "$model" ]; then
  echo "note: $model is not there; using the random-weight test model (captions are noise)"
  model=tests/fixtures/tiny-moe.upm
fi
# An unseen seed: held-out seeds start at 10,000,000; take a fresh one.
[ -n "$seed" ] || seed=$((10000000 + 500000 + ($(date +%s) % 400000) * 16 + RANDOM % 16))

build=${UPM_BUILD_DIR:-build}
export UPM_BUILD_DIR=$build
[ -x "$build/tools/upm-inspect" ] || { echo "error: $build is not built (run scripts/build.sh)" >&2; exit 1; }
[ -f "$build/plugins/uniperceiver/libgstuniperceiver.so" ] ||
  { echo "error: the GStreamer plugin is not built in $build (GStreamer dev packages missing?)" >&2; exit 1; }
py=/usr/bin/python3
[ -x $py ] || py=python3
# one label per colour of the synthetic world, with its article
[ -n "$open_labels" ] || open_labels=$($py -c '
import sys; sys.path.insert(0, "tools"); import synthworld as sw
print(",".join(sw.with_article(c + " object") for c in sw.COLOURS))')

mkdir -p "$out"
read -r size frames name < <("$build/tools/upm-inspect" --json "$model" | $py -c '
import json, sys
kv = {k["key"]: k.get("value") for k in json.load(sys.stdin)["keys"]}
print(kv["uniperceiver.vision.image_size"], kv["uniperceiver.vision.clip_frames"], kv.get("general.name", "?"))')

echo "== model: $model ($name; ${size}px frames, $frames frames per clip)"
echo "== generating $clips synthetic clips from seed $seed"
$py tools/synthworld.py --seed "$seed" --count "$clips" --concat \
  --size "$size" --frames "$frames" --fps 8 --upscale 4 --two-object-prob 0 \
  --out "$out" --name clip >/dev/null
video=$out/clip.mp4
$py - "$out/clip.json" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["segments"]:
    print(f"   truth {s['start_s']:6.2f}s-{s['end_s']:6.2f}s  {s['caption']}")
PY

# The pipelines/ scripts: gst-launch-1.0 ... ! upmbin ! ..., with the plugin
# of the build tree (pipelines/env.sh).
opts=(-m "$model" --clip-frames "$frames" --frame-stride 1)
echo
echo "== GStreamer: filesrc ! decodebin ! upmbin task=caption (timed captions, experts per clip)"
pipelines/caption.sh "${opts[@]}" --routing-summary "$video"

motions=$(cd tools && $py -c 'import synthworld; print(",".join(synthworld.class_names()))')
echo
echo "== GStreamer: upmbin task=classify, motion labels: $motions"
pipelines/classify.sh "${opts[@]}" --top-k 2 "$video" "$motions"

if [ $ask = 1 ] && [ -t 0 ]; then
  echo
  read -r -p "Labels to classify with, comma-separated [$open_labels]: " typed || true
  [ -z "${typed// /}" ] || open_labels=$typed
fi
echo
echo "== GStreamer: open-vocabulary classification, labels given now: $open_labels"
pipelines/classify.sh "${opts[@]}" --top-k 1 "$video" "$open_labels"

echo
echo "== GStreamer: decodebin ! tee ! (upmbin ! textoverlay.text_sink) ... x264enc ! mp4mux"
pipelines/caption-to-mp4.sh "${opts[@]}" "$video" "$out/captioned.mp4"
echo "== GStreamer: upmbin ! webvttenc"
pipelines/caption-to-webvtt.sh "${opts[@]}" "$video" "$out/captions.vtt"

echo
echo "== the upm-run CLI on the same video (no GStreamer): captions and experts"
"$build/tools/upm-run" --model "$model" --frame-stride 1 --clip-frames "$frames" --progress never \
  --task caption --routing-summary "$video"

echo
ls -l "$out/captioned.mp4" "$out/captions.vtt" "$video" | awk '{print "   " $5 " bytes  " $9}'
