#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test_cli.sh MODEL: end-to-end checks of upm-run (needs ffmpeg and
# $UPM_BUILD_ROOT). Prints TAP.
set -u

model=${1:?usage: test_cli.sh MODEL}
run="${UPM_BUILD_ROOT:?UPM_BUILD_ROOT is not set}/tools/upm-run"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
n=0
failed=0

ok () {
  n=$((n + 1))
  if [ "$1" = 0 ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    failed=1
  fi
}

echo "1..40"
if ! command -v ffmpeg >/dev/null 2>&1 || [ ! -x "$run" ]; then
  echo "# no ffmpeg or no upm-run: skipping"
  for i in $(seq 1 40); do echo "ok $i # SKIP"; done
  exit 0
fi
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=size=320x240:rate=30 \
  -t 2 -pix_fmt yuv420p "$tmp/clip.mp4"
ok $? "ffmpeg made a 2 s clip"

# classify, JSON lines: 2 s at 30 fps, stride 8 -> 8 kept frames -> clips
"$run" --model "$model" --task classify --labels "red,green,blue" \
  --output-format json --progress never --clip-frames 4 --frame-stride 8 \
  "$tmp/clip.mp4" >"$tmp/cls.json" 2>"$tmp/err"
rc=$?
ok $rc "classify json exits 0"
lines=$(wc -l <"$tmp/cls.json")
bad=$(grep -c -v '^{"start":[0-9.]*,"end":[0-9.]*,.*"task":"classify","labels":\[{' \
  "$tmp/cls.json")
[ "$lines" -ge 2 ] && [ "$bad" = 0 ]
ok $? "classify json has one object per clip ($lines lines)"
if command -v python3 >/dev/null 2>&1; then
  python3 -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$tmp/cls.json"
  ok $? "classify json parses"
else
  ok 0 "classify json parses # SKIP no python3"
fi

# precision: what the clip ran in, in every JSON line; auto is recorded as
# what it resolved to ($UPM_PRECISION first)
bad=$(grep -c -v '"precision":"\(fp32\|bf16\|int8\)"' "$tmp/cls.json")
[ "$bad" = 0 ]
ok $? "default precision: every line records a concrete precision ($bad without)"
for p in fp32 bf16; do
  "$run" --model "$model" --task classify --labels "red,green,blue" --precision $p \
    --output-format json --progress never --clip-frames 4 --frame-stride 8 \
    "$tmp/clip.mp4" >"$tmp/cls-$p.json" 2>"$tmp/err"
  rc=$?
  [ $rc = 0 ] && [ "$(grep -c "\"precision\":\"$p\"" "$tmp/cls-$p.json")" = "$lines" ]
  ok $? "--precision $p: every line says $p (rc $rc)"
done
UPM_PRECISION=bf16 "$run" --model "$model" --task caption --output-format json \
  --progress never --clip-frames 4 --frame-stride 8 "$tmp/clip.mp4" \
  >"$tmp/cap-env.json" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && grep -q '"caption":.*"precision":"bf16"' "$tmp/cap-env.json" &&
  ! grep -q -v '"precision":"bf16"' "$tmp/cap-env.json"
ok $? "UPM_PRECISION=bf16 under --precision auto: captions record bf16 (rc $rc)"
"$run" --model "$model" --precision fp16 "$tmp/clip.mp4" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 2 ] && grep -q "unknown precision 'fp16' (auto, fp32, bf16" "$tmp/err"
ok $? "unknown precision exits 2 listing the precisions (got $rc)"

# upm-eval --precision: the model line says which; the logits move a little
eval="${UPM_BUILD_ROOT}/tools/upm-eval"
size=$("${UPM_BUILD_ROOT}/tools/upm-inspect" "$model" 2>/dev/null |
  sed -n 's/.*vision.image_size: u32 = \([0-9]*\).*/\1/p')
frames=$("${UPM_BUILD_ROOT}/tools/upm-inspect" "$model" 2>/dev/null |
  sed -n 's/.*vision.clip_frames: u32 = \([0-9]*\).*/\1/p')
head -c $((size * size * 3 * frames * 2)) /dev/urandom >"$tmp/clips.rgb"
printf '{"frames_file": "clips.rgb", "clips": [{"id": "a", "width": %s, "height": %s, "frames": %s}, {"id": "b", "width": %s, "height": %s, "frames": %s}], "labelsets": [{"name": "x", "labels": ["red", "green", "blue"]}]}\n' \
  "$size" "$size" "$frames" "$size" "$size" "$frames" >"$tmp/manifest.json"
for p in fp32 bf16; do
  "$eval" --model "$model" --manifest "$tmp/manifest.json" --precision $p --progress never \
    >"$tmp/eval-$p.json" 2>"$tmp/err"
  rc=$?
  [ $rc = 0 ] && head -n 1 "$tmp/eval-$p.json" | grep -q "^{\"type\":\"model\",.*\"precision\":\"$p\""
  ok $? "upm-eval --precision $p: the model line says $p (rc $rc)"
done
if command -v python3 >/dev/null 2>&1; then
  python3 -c 'import json,sys
def logits(p):
    return [v for l in open(p) for r in [json.loads(l)] if r["type"] == "clip"
            for v in r["labelsets"]["x"]["logits"]]
a, b = logits(sys.argv[1]), logits(sys.argv[2])
d = max(abs(x - y) for x, y in zip(a, b))
sys.exit(0 if len(a) == 6 and 0 < d < 0.5 else 1)' "$tmp/eval-fp32.json" "$tmp/eval-bf16.json"
  ok $? "upm-eval: bf16 logits differ from fp32's, by less than 0.5"
else
  ok 0 "upm-eval: bf16 logits differ from fp32's # SKIP no python3"
fi

# caption, WebVTT: header and one cue per clip
"$run" --model "$model" --task caption --output-format webvtt \
  --progress never --clip-frames 4 --frame-stride 8 -o "$tmp/cap.vtt" \
  "$tmp/clip.mp4" 2>"$tmp/err"
rc=$?
cues=$(grep -c -E '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} --> [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}$' "$tmp/cap.vtt")
[ $rc = 0 ] && [ "$(head -n 1 "$tmp/cap.vtt")" = "WEBVTT" ] && [ "$cues" = 2 ]
ok $? "caption webvtt: header and 2 cues (rc $rc, $cues cues)"

# routing: one line per MoE layer and gate (none for a dense model)
"$run" --model "$model" --task classify --labels "a,b" --routing \
  --progress never --clip-frames 4 "$tmp/clip.mp4" >"$tmp/route.txt" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && grep -q '^\[00:00:00.000 --> ' "$tmp/route.txt"
ok $? "routing run exits 0 with timed lines"
if "${UPM_BUILD_ROOT}/tools/upm-inspect" "$model" 2>/dev/null |
    grep -q 'expert_count: u32 = [1-9]'; then
  grep -q -E '^ +layer +[0-9]+ (attn|ffn) +cls_input .*expert [0-9]+ \(0\.[0-9]+\)' \
    "$tmp/route.txt"
  ok $? "MoE model: routing lines name layers, gates and experts"
else
  ! grep -q 'expert' "$tmp/route.txt"
  ok $? "dense model: no routing lines"
fi

# a named label set: --labels @k400 (data/labels/k400.txt)
"$run" --model "$model" --labels @k400 --output-format json --progress never \
  --clip-frames 4 --frame-stride 8 "$tmp/clip.mp4" >"$tmp/k400.json" 2>"$tmp/err"
rc=$?
label=$(sed -n '1s/.*"labels":\[{"index":[0-9]*,"label":"\([^"]*\)".*/\1/p' "$tmp/k400.json")
[ $rc = 0 ] && [ -n "$label" ] &&
  grep -qxF "$label" "${UPM_SOURCE_ROOT:-.}/data/labels/k400.txt"
ok $? "--labels @k400 classifies with the Kinetics-400 names (rc $rc, '$label')"
"$run" --model "$model" --labels @no-such-set "$tmp/clip.mp4" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "@k400" "$tmp/err" && grep -q "no-such-set" "$tmp/err"
ok $? "--labels @no-such-set exits 1 listing the sets (got $rc)"

# the default preset samples like upmtokenizer: every decoded frame, so 60
# frames in 4-frame clips make 15 clips
"$run" --model "$model" --labels a,b --progress never --clip-frames 4 \
  --output-format json "$tmp/clip.mp4" >"$tmp/def.json" 2>"$tmp/err"
rc=$?
lines=$(wc -l <"$tmp/def.json")
[ $rc = 0 ] && [ "$lines" = 15 ] && grep -q '"preset":"default"' "$tmp/def.json"
ok $? "default preset: every decoded frame, 15 clips of 4 (rc $rc, $lines)"

# --preset: a timed preset on a video shorter than its window (4 frames at
# stride 32: the last at 3.2 s; the clip lasts 2 s) wraps around, with a
# warning
"$run" --model "$model" --preset msvd-caption --progress never \
  --output-format json "$tmp/clip.mp4" >"$tmp/msvd.json" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && [ "$(wc -l <"$tmp/msvd.json")" = 1 ] &&
  grep -q '"preset":"msvd-caption".*"frames":\[0,32,4,36\]' "$tmp/msvd.json"
ok $? "--preset msvd-caption: one window, frames 0,32,4,36 (rc $rc)"
grep -q 'lasts 2.000 s; preset "msvd-caption" samples up to 3.200 s, so .*wrap around' \
  "$tmp/err"
ok $? "short video: the warning names both durations"

# a still image under a video preset: one 1-frame clip on the image path,
# as upmtokenizer makes it
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=size=300x200 -frames:v 1 \
  "$tmp/still.png"
"$run" --model "$model" --preset msvd-caption --progress never \
  --output-format json "$tmp/still.png" >"$tmp/still.json" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && grep -q '^{"start":0.000,"end":0.000,"frames":1,.*"preset":"msvd-caption","views":\[{"view":0,"views":1,"temporal_view":0,"crop":0,"frames":\[0\]' \
  "$tmp/still.json"
ok $? "a still image under msvd-caption is one 1-frame clip (rc $rc)"

# retrieval: the score kind (the softmax of the scaled cosine outside a
# retrieval preset, the plain cosine under one) and each view's crop in the
# resized frame, under the names upmhead's JSON uses
printf 'a red ball\na cat sitting on a mat\n' >"$tmp/caps.txt"
"$run" --model "$model" --task retrieve --captions-file "$tmp/caps.txt" \
  --progress never --clip-frames 4 --frame-stride 8 --output-format json \
  "$tmp/clip.mp4" >"$tmp/ret.json" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && [ "$(grep -c '"preset":"default","score_kind":"softmax","views":\[{.*"resized":{"width":[0-9]*,"height":[0-9]*,"x":[0-9]*,"y":[0-9]*,"size":[0-9]*}}\]}$' "$tmp/ret.json")" = 2 ]
ok $? "retrieve json: preset, score_kind softmax, resized crop (rc $rc)"
"$run" --model "$model" --preset coco-retrieval --captions-file "$tmp/caps.txt" \
  --progress never --output-format json "$tmp/still.png" >"$tmp/ret.json" \
  2>"$tmp/err"
rc=$?
[ $rc = 0 ] && grep -q '"preset":"coco-retrieval","score_kind":"cosine","views"' \
  "$tmp/ret.json"
ok $? "--preset coco-retrieval: score_kind cosine (rc $rc)"
# MSVD retrieval reads 77-token texts; these models have 64 text positions
"$run" --model "$model" --preset msvd-retrieval --captions-file "$tmp/caps.txt" \
  --progress never "$tmp/clip.mp4" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc != 0 ] && grep -q 'up to 77 tokens; .* 64 text positions' "$tmp/err"
ok $? "--preset msvd-retrieval: refused, 77-token texts (rc $rc: $(head -c 120 "$tmp/err"))"

# upm-eval without --model: the default model ($UPM_DEFAULT_MODEL here), as
# upm-run
ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=size=32x32:rate=30 \
  -frames:v 4 -f rawvideo -pix_fmt rgb24 "$tmp/clips.rgb"
printf '{"frames_file":"clips.rgb","clips":[{"id":"c0","width":32,"height":32,"frames":4}],"labelsets":[{"name":"c","labels":["red","green"]}]}' \
  >"$tmp/manifest.json"
UPM_DEFAULT_MODEL="$model" "${UPM_BUILD_ROOT}/tools/upm-eval" \
  --manifest "$tmp/manifest.json" --progress never >"$tmp/eval.json" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && head -n 1 "$tmp/eval.json" | grep -q "^{\"type\":\"model\",\"path\":\"$model\"" &&
  grep -q '"type":"clip","index":0,"id":"c0"' "$tmp/eval.json"
ok $? "upm-eval without --model: the default model (rc $rc)"

# unknown preset: usage error listing the presets
"$run" --model "$model" --preset nope "$tmp/clip.mp4" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 2 ] && grep -q 'unknown preset "nope" (presets: default, k400, msvd-caption' \
  "$tmp/err"
ok $? "unknown preset exits 2 listing the presets (got $rc)"

# --help lists the presets with their summaries
"$run" --help >"$tmp/help.txt" 2>&1
grep -q '^  k400  *Kinetics-400: 8 frames x 4 interleaved views' "$tmp/help.txt" &&
  grep -q '^  imagenet  *ImageNet-1k' "$tmp/help.txt"
ok $? "--help lists the presets"
"$run" --model "$model" --image --video "$tmp/clip.mp4" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 2 ] && grep -q 'exclusive' "$tmp/err"
ok $? "--image and --video are exclusive (got $rc)"

# no --model: the bundled model (upm_default_model_path: $UPM_DEFAULT_MODEL
# first, so a missing one is named in the error)
UPM_DEFAULT_MODEL="$model" "$run" --labels a,b --progress never --image \
  "$tmp/clip.mp4" >"$tmp/bundled.txt" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && [ "$(wc -l <"$tmp/bundled.txt")" = 1 ]
ok $? "no --model: \$UPM_DEFAULT_MODEL is used (rc $rc)"
env -u UPM_DEFAULT_MODEL "$run" --labels a,b --progress never --image \
  "$tmp/clip.mp4" >"$tmp/bundled.txt" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && [ "$(wc -l <"$tmp/bundled.txt")" = 1 ]
ok $? "no --model and no \$UPM_DEFAULT_MODEL: the bundled model runs (rc $rc)"
UPM_DEFAULT_MODEL="$tmp/nowhere.upm" "$run" --labels a,b --progress never \
  "$tmp/clip.mp4" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q 'nowhere.upm' "$tmp/err"
ok $? "no --model: the default path is the one loaded (got $rc)"

# upm-inspect lists the presets, and why the 4-position model misses k400
"${UPM_BUILD_ROOT}/tools/upm-inspect" "$model" >"$tmp/inspect.txt" 2>&1
grep -q '^  default  *yes ' "$tmp/inspect.txt" &&
  grep -q '^  k400  *no   preset "k400" needs 8 frames per clip; .* 4 temporal positions' \
    "$tmp/inspect.txt"
ok $? "upm-inspect marks the presets the model suits"

# exit codes
"$run" --model "$model" --labels a,b "$tmp/missing.mp4" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q '^upm-run: ' "$tmp/err"
ok $? "missing input exits 1 (got $rc)"
"$run" --model "$model" --no-such-option "$tmp/clip.mp4" >/dev/null 2>&1
rc=$?
[ $rc = 2 ]
ok $? "bad option exits 2 (got $rc)"
"$run" --model "$tmp/missing.upm" --labels a,b "$tmp/clip.mp4" >/dev/null \
  2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "missing.upm" "$tmp/err"
ok $? "missing model exits 1 naming the file (got $rc)"

# prompt-tuned models (issue 23, docs/prompt-tuning.md): with no labels the
# classes come from the model and its head scores them; typed labels still
# work through the similarity part
if "${UPM_BUILD_ROOT}/tools/upm-inspect" "$model" >"$tmp/inspect.txt" 2>&1 &&
  grep -q '^prompt head: ' "$tmp/inspect.txt"; then
  grep -q '^prompt: tuned for classify, [0-9]* prompt rows per layer' "$tmp/inspect.txt"
  ok $? "upm-inspect shows the prompt and its head"
  classes=$(sed -n 's/^prompt head: fc_prompt, \([0-9]*\) classes.*/\1/p' "$tmp/inspect.txt")
  first=$(sed -n 's/^prompt head: .*given): \([^,]*\),.*/\1/p' "$tmp/inspect.txt")
  "$run" --model "$model" --task classify --top-k 100 --output-format json \
    --progress never --clip-frames 4 --frame-stride 8 "$tmp/clip.mp4" \
    >"$tmp/head.json" 2>"$tmp/err"
  rc=$?
  got=$(head -n 1 "$tmp/head.json" | grep -o '"label":"[^"]*"' | wc -l)
  [ $rc = 0 ] && [ "$got" = "$classes" ] && grep -q "\"label\":\"$first\"" "$tmp/head.json"
  ok $? "no labels: the model's $classes classes (rc $rc, $got labels)"
  labels=$(sed -n 's/^prompt head: .*given): //p' "$tmp/inspect.txt" | sed 's/, /,/g')
  "$run" --model "$model" --task classify --labels "$labels" --top-k 100 \
    --output-format json --progress never --clip-frames 4 --frame-stride 8 \
    "$tmp/clip.mp4" >"$tmp/typed.json" 2>"$tmp/err"
  rc=$?
  got=$(head -n 1 "$tmp/typed.json" | grep -o '"label":"[^"]*"' | wc -l)
  [ $rc = 0 ] && [ "$got" = "$classes" ]
  ok $? "the same labels typed: classified by similarity (rc $rc)"
  # the head adds fc_prompt to the scaled similarities: other scores
  h=$(head -n 1 "$tmp/head.json" | grep -o '"score":[-0-9.e]*' | sort | head -n 1)
  t=$(head -n 1 "$tmp/typed.json" | grep -o '"score":[-0-9.e]*' | sort | head -n 1)
  [ -n "$h" ] && [ "$h" != "$t" ]
  ok $? "the model's head scores differently from typed labels ($h vs $t)"
  # upm-eval: a label set of the model's own classes goes to the head
  json_labels=$(printf '%s' "$labels" | sed 's/\([^,]*\)/"\1"/g')
  printf '{"frames_file":"clips.rgb","clips":[{"id":"c0","width":32,"height":32,"frames":4}],"labelsets":[{"name":"own","labels":[%s]},{"name":"c","labels":["red","green"]}]}' \
    "$json_labels" >"$tmp/manifest-prompt.json"
  "${UPM_BUILD_ROOT}/tools/upm-eval" --model "$model" --manifest "$tmp/manifest-prompt.json" \
    --progress never >"$tmp/eval-prompt.json" 2>"$tmp/err"
  rc=$?
  [ $rc = 0 ] && grep -q '"own":{"prompt_head":true,"top":' "$tmp/eval-prompt.json" &&
    grep -q '"c":{"top":' "$tmp/eval-prompt.json"
  ok $? "upm-eval scores the model's own label set with its head (rc $rc)"
else
  for i in 1 2 3 4 5; do
    n=$((n + 1))
    echo "ok $n # SKIP not a prompt-tuned classifier"
  done
fi

exit $failed
