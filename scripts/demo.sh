#!/usr/bin/env bash
# Demo on an already built tree (run-demo.sh installs and builds first).
# usage: scripts/demo.sh [--seed N] [--clips N] [--model FILE]
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
cd "$(dirname "$0")/.."

seed=""
clips=6
model=${UPM_MODEL:-models/uniperceiver-synth-moe.upm}
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed=$2; shift 2 ;;
    --clips) clips=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    *) echo "usage: $0 [--seed N] [--clips N] [--model FILE]" >&2; exit 2 ;;
  esac
done
if [ ! -f "$model" ]; then
  echo "note: $model is not there; using the random-weight test model (captions are noise)"
  model=tests/fixtures/tiny-moe.upm
fi
# An unseen seed: held-out seeds start at 10,000,000; take a fresh one.
[ -n "$seed" ] || seed=$((10000000 + 500000 + ($(date +%s) % 400000) * 16 + RANDOM % 16))

out=out/demo
mkdir -p "$out"
read -r size frames name < <(build/tools/upm-inspect --json "$model" | /usr/bin/python3 -c '
import json, sys
kv = {k["key"]: k.get("value") for k in json.load(sys.stdin)["keys"]}
print(kv["uniperceiver.vision.image_size"], kv["uniperceiver.vision.clip_frames"], kv.get("general.name", "?"))')

echo "== model: $model ($name; ${size}px frames, $frames frames per clip)"
echo "== generating $clips synthetic clips from seed $seed"
/usr/bin/python3 tools/synthworld.py --seed "$seed" --count "$clips" --concat \
  --size "$size" --frames "$frames" --fps 8 --upscale 4 --two-object-prob 0 \
  --out "$out" --name clip >/dev/null
video=$out/clip.mp4
/usr/bin/python3 - "$out/clip.json" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["segments"]:
    print(f"   truth {s['start_s']:6.2f}s-{s['end_s']:6.2f}s  {s['caption']}")
PY

run=build/tools/upm-run
common=(--model "$model" --frame-stride 1 --clip-frames "$frames" --progress never)
echo "== captions (timed), with the experts chosen per clip"
"$run" "${common[@]}" --task caption --routing-summary "$video"
"$run" "${common[@]}" --task caption --output-format srt -o "$out/captions.srt" "$video"
"$run" "${common[@]}" --task caption --output-format webvtt -o "$out/captions.vtt" "$video"
motions=$(cd tools && /usr/bin/python3 -c 'import synthworld; print(",".join(synthworld.class_names()))')
echo "== motion classification against: $motions"
"$run" "${common[@]}" --task classify --top-k 2 --labels "$motions" "$video"
echo "== open-vocabulary labels typed now"
"$run" "${common[@]}" --task classify --top-k 1 \
  --labels "a red object,a green object,a blue object,a yellow object,a white object,a purple object,a orange object,a cyan object" "$video"

echo "== burning the captions into $out/captioned.mp4"
gst-launch-1.0 -q filesrc location="$video" ! qtdemux ! decodebin ! videoconvert ! \
  textoverlay name=overlay valignment=bottom font-desc="Sans 10" wrap-mode=word ! \
  videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast ! \
  mp4mux ! filesink location="$out/captioned.mp4" \
  filesrc location="$out/captions.srt" ! subparse ! overlay.text_sink
ls -l "$out/captioned.mp4" "$out/captions.vtt" "$out/captions.srt" | awk '{print "   " $5 " bytes  " $9}'
