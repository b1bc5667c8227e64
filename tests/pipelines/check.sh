#!/usr/bin/env bash
# Whole-pipeline checks of pipelines/, the example apps and scripts/demo.sh
# (TAP). One case per run:
# usage: tests/pipelines/check.sh CASE [APP]
# CASE: caption classify routing caption-to-webvtt caption-to-mp4
#       routing-overlay live-camera live-camera-stress demo c-app c-app-live
# Env (tests/pipelines/meson.build): UPM_SOURCE_ROOT, UPM_TEST_TMP,
# UPM_DEFAULT_MODEL (the random-weight fixture), GST_PLUGIN_PATH_1_0, ...
# SPDX-License-Identifier: LGPL-2.1-or-later
set -uo pipefail
exec 3>&1  # TAP lines, also from checks whose output goes to a file

case_name=${1:?usage: check.sh CASE [APP]}
app=${2:-}
root=${UPM_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=${UPM_TEST_TMP:-/tmp/upm-pipelines-test}/$case_name
unset UPM_MODEL
rm -rf "$tmp"
mkdir -p "$tmp"
cd "$root" || exit 1
PY=/usr/bin/python3
[ -x $PY ] || PY=python3

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*" >&3; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*" >&3; }
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
skip_all() {
  echo "1..0 # SKIP $*"
  exit 0
}
finish() {
  echo "1..$n"
  [ $failed = 0 ]
  exit $?
}
show() { sed 's/^/# /' "$@"; }

need() {
  local e
  for e in "$@"; do
    gst-inspect-1.0 --exists --atleast-version=0.0.0 "$e" || skip_all "GStreamer element $e missing"
  done
}

# make_mp4 FILE FRAMES [BFRAMES]: a 64x64, 8 fps H.264 MP4 of a moving ball.
# With B-frames, the video starts at PTS 0.25 s and an edit list maps that to
# time 0 (as in MP4s from ffmpeg).
make_mp4() {
  gst-launch-1.0 -q videotestsrc num-buffers="$2" pattern=ball ! \
    video/x-raw,width=64,height=64,framerate=8/1 ! videoconvert ! \
    video/x-raw,format=I420 ! x264enc speed-preset=ultrafast bframes="${3:-0}" ! h264parse ! \
    mp4mux ! filesink location="$1"
}

# decode_frames FILE DIR FORMAT EXT: FILE's frames as raw 64x64 FORMAT
# (GRAY8, RGB) images DIR/000.EXT, DIR/001.EXT, ...
decode_frames() {
  mkdir -p "$2" &&
    gst-launch-1.0 -q filesrc location="$1" ! decodebin ! videoconvert ! \
      video/x-raw,format="$3",width=64,height=64 ! multifilesink location="$2/%03d.$4"
}

# check_decoded DESCRIPTION FORMAT EXT: checks that $tmp/out.mp4 decodes
# (decode_frames into $tmp/out-frames) to 24 frames; decodes the input video
# into $tmp/in-frames.
check_decoded() {
  check "$1" decode_frames "$tmp/out.mp4" "$tmp/out-frames" "$2" "$3"
  check "all 24 frames are there" test "$(ls "$tmp/out-frames" | wc -l)" = 24
  decode_frames "$video" "$tmp/in-frames" "$2" "$3"
}

# check_frame_pairs DESCRIPTION: runs the Python check on stdin, given
# frames(name) -> [input frame, output frame]: the bytes of the files NAME
# in $tmp/in-frames and $tmp/out-frames.
check_frame_pairs() {
  check "$1" $PY -c "import os, sys
def frames(name):
    return [open(os.path.join(d, name), 'rb').read() for d in sys.argv[1:]]
$(cat)" "$tmp/in-frames" "$tmp/out-frames"
}

# The clip spans of a 24-frame, 8 fps video in 4-frame clips (the fixture
# model's clip length): 0.5 s each.
expected_spans() {
  local i
  for i in 0 1 2 3 4 5; do
    printf '%s --> %s\n' "$(span_time $((i * 500)))" "$(span_time $(((i + 1) * 500)))"
  done
}
span_time() { printf '00:00:%02d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# The spans printed as "[A --> B] ..." by a pipelines/ script.
printed_spans() { sed -n 's/^\[\([0-9:.]* --> [0-9:.]*\)\].*/\1/p' "$1"; }

# expect_fail DESCRIPTION PATTERN COMMAND...: fails (exit != 0) with PATTERN
# on stderr.
expect_fail() {
  local what=$1 pattern=$2
  shift 2
  if "$@" >"$tmp/fail.out" 2>"$tmp/fail.err"; then
    not_ok "$what (exit 0)"
  elif grep -q -- "$pattern" "$tmp/fail.err"; then
    ok "$what"
  else
    not_ok "$what (stderr lacks '$pattern')"
    show "$tmp/fail.err"
  fi
}

need x264enc mp4mux h264parse upmbin
video=$tmp/in.mp4
make_mp4 "$video" 24 || { echo "Bail out! could not make a test MP4"; exit 1; }

case $case_name in
caption)
  check "caption.sh runs" pipelines/caption.sh --routing-summary "$video" >"$tmp/out.txt" 2>"$tmp/err.txt"
  show "$tmp/out.txt" "$tmp/err.txt"
  check "6 captions with the clip spans" diff <(expected_spans) <(printed_spans "$tmp/out.txt")
  check "each caption has a score" test "$(grep -cE '^\[.*\] .*\(score -?[0-9]+\.[0-9]{2}\)$' "$tmp/out.txt")" = 6
  check "a routing summary per clip" test "$(grep -cE '^    experts caption_prefix L0 [0-9]+\+[0-9]+/[0-9]+\+[0-9]+ .*\| caption_text L0 ' "$tmp/out.txt")" = 6
  make_mp4 "$tmp/bframes.mp4" 24 2
  check "caption.sh on a video with an edit list" pipelines/caption.sh "$tmp/bframes.mp4" >"$tmp/bf.txt"
  check "the same clip spans (stream time, not PTS)" diff <(expected_spans) <(printed_spans "$tmp/bf.txt")
  check "--model with the fixture" pipelines/caption.sh -m "$UPM_DEFAULT_MODEL" "$video" >"$tmp/out2.txt"
  check "same captions with --model" cmp -s <(grep -v experts "$tmp/out.txt") "$tmp/out2.txt"
  check "UPM_MODEL picks the model" env UPM_MODEL="$UPM_DEFAULT_MODEL" UPM_DEFAULT_MODEL=/nonexistent.upm \
    pipelines/caption.sh "$video" >/dev/null
  expect_fail "missing input file" "no such file" pipelines/caption.sh "$tmp/nope.mp4"
  expect_fail "missing --model file" "no such file" pipelines/caption.sh -m "$tmp/nope.upm" "$video"
  expect_fail "missing default model: the element's error" "nope.upm\" not found" \
    env UPM_DEFAULT_MODEL="$tmp/nope.upm" pipelines/caption.sh "$video"
  expect_fail "usage without input" "usage:" pipelines/caption.sh
  ;;
classify)
  check "classify.sh runs" pipelines/classify.sh --top-k 2 "$video" "a red ball, a blue square,something else" \
    >"$tmp/out.txt" 2>"$tmp/err.txt"
  show "$tmp/out.txt" "$tmp/err.txt"
  check "6 results with the clip spans" diff <(expected_spans) <(printed_spans "$tmp/out.txt")
  check "top-2 labels from the list with probabilities" test "$(grep -cE \
    '^\[.*\] (a red ball|a blue square|something else) [01]\.[0-9]{2} \| (a red ball|a blue square|something else) [01]\.[0-9]{2}$' \
    "$tmp/out.txt")" = 6
  check "labels with --top-k 1 and --routing-summary" pipelines/classify.sh --top-k 1 --routing-summary \
    "$video" "left,right" >"$tmp/out1.txt"
  check "one label per line and a cls_input summary" test \
    "$(grep -cE '^\[.*\] (left|right) [01]\.[0-9]{2}$' "$tmp/out1.txt"):$(grep -c '^    experts cls_input L0 ' "$tmp/out1.txt")" = 6:6
  expect_fail "no labels" "no labels" pipelines/classify.sh "$video" " , "
  expect_fail "missing input file" "no such file" pipelines/classify.sh "$tmp/nope.mp4" "a,b"
  ;;
routing)
  check "routing.sh runs" pipelines/routing.sh "$video" >"$tmp/out.txt" 2>"$tmp/err.txt"
  show "$tmp/out.txt" "$tmp/err.txt"
  check "one block per clip with the clip spans" diff <(expected_spans) <(printed_spans "$tmp/out.txt")
  check "the model line per clip" test "$(grep -c '^    model tiny-moe: 4 layers, 8 experts per MoE layer$' "$tmp/out.txt")" = 6
  check "prefix and text segments per clip" test \
    "$(grep -c '^    caption_prefix (tokens 0-' "$tmp/out.txt"):$(grep -c '^    caption_text (tokens ' "$tmp/out.txt")" = 6:6
  check "MoE layers with attn and ffn experts and weights" test "$(grep -cE \
    '^      L[0-9]+ +attn [0-9]+ \(0\.[0-9]{2}\) \+ [0-9]+ \(0\.[0-9]{2}\)   ffn  [0-9]+ \(0\.[0-9]{2}\) \+ [0-9]+ \(0\.[0-9]{2}\)$' \
    "$tmp/out.txt")" -ge 12
  check "routing of a classification" pipelines/routing.sh --labels "a,b" "$video" >"$tmp/cls.txt"
  check "cls_input segment" test "$(grep -c '^    cls_input (tokens 0-' "$tmp/cls.txt")" = 6
  check "--json: one JSON object per clip" sh -c "pipelines/routing.sh --json '$video' > '$tmp/out.jsonl'"
  check "JSON routes with experts and weights, pts per clip" $PY - "$tmp/out.jsonl" <<'PY'
import json, sys
objs = [json.loads(line) for line in open(sys.argv[1])]
assert len(objs) == 6, len(objs)
for i, o in enumerate(objs):
    assert o["pts"] == i * 500000000 and o["duration"] == 500000000, o["pts"]
    r = o["routing"]
    assert r["routes"] and r["pts"] == o["pts"]
    for route in r["routes"]:
        assert len(route["experts"]) == 2 and abs(sum(route["weights"]) - 1) < 1e-3
PY
  ;;
caption-to-webvtt)
  # valid_vtt FILE: "WEBVTT" header, then blocks separated by blank lines,
  # each a timing line and at least one non-empty text line without "-->".
  valid_vtt() {
    awk 'BEGIN { block = 0; line = 0; bad = 0 }
      NR == 1 { if ($0 != "WEBVTT") { print "# no WEBVTT header"; bad = 1 } ; next }
      /^$/ { if (line == 1) { print "# a cue without text at line " NR; bad = 1 } line = 0; next }
      { line++
        if (line == 1) {
          if ($0 !~ /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9] --> [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9]$/) {
            print "# bad timing line " NR ": " $0; bad = 1 }
          block++
        } else if ($0 ~ /-->/) { print "# --> in cue text at line " NR; bad = 1 } }
      END { if (line == 1) { print "# a cue without text at the end"; bad = 1 }
            if (bad) exit 1; print "# " block " cues" }' "$1"
  }
  vtt_spans() { grep -- '-->' "$1"; }
  if gst-inspect-1.0 --exists --atleast-version=0.0.0 webvttenc; then
    check "caption-to-webvtt.sh (webvttenc)" pipelines/caption-to-webvtt.sh "$video" "$tmp/a.vtt" >"$tmp/out.txt"
    show "$tmp/a.vtt"
    check "webvttenc file: valid WebVTT" valid_vtt "$tmp/a.vtt"
    check "webvttenc file: 6 cues with the clip spans" diff <(expected_spans) <(vtt_spans "$tmp/a.vtt")
    make_mp4 "$tmp/bframes.mp4" 24 2
    check "webvttenc on a video with an edit list" pipelines/caption-to-webvtt.sh "$tmp/bframes.mp4" \
      "$tmp/bf.vtt" >/dev/null
    check "the same cue spans (stream time, not PTS)" diff <(expected_spans) <(vtt_spans "$tmp/bf.vtt")
  else
    ok "# SKIP webvttenc is missing"
  fi
  check "caption-to-webvtt.sh --own-format" pipelines/caption-to-webvtt.sh --own-format "$video" "$tmp/b.vtt" >"$tmp/out.txt"
  show "$tmp/b.vtt"
  check "own file: valid WebVTT" valid_vtt "$tmp/b.vtt"
  check "own file: 6 cues with the clip spans" diff <(expected_spans) <(vtt_spans "$tmp/b.vtt")
  check "it reports the cue count" grep -q '(6 cues)' "$tmp/out.txt"
  ;;
caption-to-mp4)
  need textoverlay
  check "caption-to-mp4.sh runs" pipelines/caption-to-mp4.sh --preset ultrafast "$video" "$tmp/out.mp4" \
    >"$tmp/out.txt" 2>"$tmp/err.txt"
  show "$tmp/out.txt" "$tmp/err.txt"
  check "an MP4 was written" test -s "$tmp/out.mp4"
  # Decode both back to GRAY8 frames.
  check_decoded "the output decodes (decodebin)" GRAY8 gray
  # The shaded caption box changes a band of pixels by far more than the
  # re-encoding does.
  check_frame_pairs "captions are burned into every clip" <<'PY'
for clip in range(6):
    name = "%03d.gray" % (clip * 4 + 1)  # a frame inside each clip
    a, b = frames(name)
    assert len(a) == len(b) == 64 * 64
    changed = sum(abs(x - y) > 40 for x, y in zip(a, b)) / len(a)
    print("# frame %s: %.1f%% of the pixels changed by more than 40" % (name, 100 * changed))
    assert changed > 0.05, name
PY
  if command -v gst-discoverer-1.0 >/dev/null; then
    gst-discoverer-1.0 "$tmp/out.mp4" >"$tmp/disc.txt" 2>&1
    show "$tmp/disc.txt"
    check "gst-discoverer: H.264, 3 s" sh -c "grep -q 'H.264' '$tmp/disc.txt' && grep -q 'Duration: 0:00:03.0' '$tmp/disc.txt'"
  else
    ok "# SKIP gst-discoverer-1.0 is missing"
  fi
  expect_fail "missing input file" "no such file" pipelines/caption-to-mp4.sh "$tmp/nope.mp4" "$tmp/x.mp4"
  ;;
routing-overlay)
  need upmroutingoverlay textoverlay
  check "routing-overlay.sh runs" pipelines/routing-overlay.sh --preset ultrafast --cell-size 4 \
    -o "$tmp/out.mp4" "$video" >"$tmp/out.txt" 2>"$tmp/err.txt"
  show "$tmp/out.txt" "$tmp/err.txt"
  check "an MP4 was written" test -s "$tmp/out.mp4"
  check_decoded "the output decodes" RGB rgb
  # The panel (cells of 4 px, 8 experts, 4 rows: MoE layers 0 and 2 x attn,
  # ffn, top-right with a 4 px margin: x 28..60, y 4..20) has its 2 chosen
  # cells of 8 per row (3x3 px drawn of 4x4: 14% of the panel) changed by
  # more than 40 in every frame; the re-encoding changes no pixel that much
  # elsewhere.
  check_frame_pairs "the routing panel is drawn on every frame, nothing else changed" <<'PY'
for i in range(24):
    name = "%03d.rgb" % i
    a, b = frames(name)
    assert len(a) == len(b) == 64 * 64 * 3
    ci = co = ni = no = 0
    for y in range(64):
        for x in range(64):
            o = (y * 64 + x) * 3
            changed = max(abs(a[o + c] - b[o + c]) for c in range(3)) > 40
            if 28 <= x < 60 and 4 <= y < 20:
                ci += changed; ni += 1
            else:
                co += changed; no += 1
    print("# frame %d: %.1f%% of the panel changed, %.1f%% elsewhere"
          % (i, 100.0 * ci / ni, 100.0 * co / no))
    assert ci / ni > 0.10 and co / no < 0.005, name
PY
  check "--caption burns the caption in too" pipelines/routing-overlay.sh --preset ultrafast --caption \
    -o "$tmp/cap.mp4" "$video" >"$tmp/cap.txt" 2>&1
  show "$tmp/cap.txt"
  check "the captioned MP4 was written" test -s "$tmp/cap.mp4"
  check "--test with --labels" pipelines/routing-overlay.sh --test --num-buffers 16 --labels "a,b" \
    --position bottom-left --preset ultrafast -o "$tmp/test.mp4" >"$tmp/test.txt" 2>&1
  show "$tmp/test.txt"
  check "the --test MP4 was written" test -s "$tmp/test.mp4"
  if $PY -c 'import numpy, PIL' 2>/dev/null; then
    check "upmbin text-format=json to heatmaps" sh -c "gst-launch-1.0 -q filesrc location='$video' ! \
      decodebin ! videoconvert ! upmbin task=caption text-format=json ! filesink location='$tmp/r.json' &&
      $PY tools/upm-routing-heatmap.py -o '$tmp/hm' '$tmp/r.json' >'$tmp/hm.txt'"
    check "one heatmap PNG per clip" test "$(ls "$tmp/hm"/routing-*.png | wc -l)" = 6
  else
    ok "# SKIP numpy or Pillow missing: no heatmaps"
  fi
  expect_fail "missing input file" "no such file" pipelines/routing-overlay.sh "$tmp/nope.mp4"
  expect_fail "a bad position" "position" pipelines/routing-overlay.sh --position middle -o "$tmp/x.mp4" "$video"
  ;;
live-camera)
  start=$(date +%s.%N)
  check "live-camera.sh --test (24 frames at 8 fps)" pipelines/live-camera.sh --test --num-buffers 24 --drift \
    >"$tmp/out.txt" 2>"$tmp/err.txt"
  end=$(date +%s.%N)
  show "$tmp/out.txt" "$tmp/err.txt"
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  echo "# wall time $wall s"
  check "real time: the 3 s stream took at least 2.8 s" awk -v w="$wall" 'BEGIN { exit !(w >= 2.8) }'
  lines=$(grep -c '^\[' "$tmp/out.txt")
  check "captions came out ($lines of 6 clips; a busy machine may drop one)" test "$lines" -ge 4 -a "$lines" -le 6
  check "no result fell more than 1 s behind the stream" awk -F'drift ' \
    '/drift/ { d = $2 + 0; if (d > 1.0) bad = 1 } END { exit bad }' "$tmp/out.txt"
  check "--labels classifies live" pipelines/live-camera.sh --test --num-buffers 8 --labels "a,b" >"$tmp/cls.txt"
  check "two live classifications" test "$(grep -cE '^\[.*\] (a|b) [01]\.[0-9]{2}' "$tmp/cls.txt")" = 2
  expect_fail "no camera" "no camera" pipelines/live-camera.sh --device "$tmp/video99"
  ;;
live-camera-stress)
  # One clip per frame at 60 fps for 2 s: more than the model may keep up
  # with on a loaded machine. The leaky queue and upmbin's bounded clip queue
  # must keep results close to the stream (dropping clips), not queue them.
  start=$(date +%s.%N)
  check "live-camera.sh --test at 60 clips/s" pipelines/live-camera.sh --test --fps 60 --num-buffers 120 \
    --clip-frames 1 --drift >"$tmp/out.txt" 2>"$tmp/err.txt"
  end=$(date +%s.%N)
  show "$tmp/err.txt"
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  lines=$(grep -c '^\[' "$tmp/out.txt")
  echo "# wall time $wall s, $lines results of 120 clips"
  tail -n 3 "$tmp/out.txt" | show
  check "results came out" test "$lines" -ge 10
  check "no result fell more than 1 s behind the stream" awk -F'drift ' \
    '/drift/ { d = $2 + 0; if (d > max) max = d } END { print "# max drift " max; exit max > 1.0 }' "$tmp/out.txt"
  check "the run ended within 1.5 s of the stream's end (no backlog)" awk -v w="$wall" 'BEGIN { exit !(w < 2.0 + 1.5 + 2.0) }'
  ;;
demo)
  [ -x "$UPM_BUILD_ROOT/tools/upm-inspect" ] || skip_all "upm-inspect not built"
  $PY -c 'import numpy' 2>/dev/null || skip_all "python3-numpy missing (synthworld)"
  check "scripts/demo.sh runs (fixture model, 2 clips)" env UPM_BUILD_DIR="$UPM_BUILD_ROOT" scripts/demo.sh \
    --model "$UPM_DEFAULT_MODEL" --clips 2 --seed 10512345 --out "$tmp/demo" >"$tmp/out.txt" 2>"$tmp/err.txt"
  show "$tmp/out.txt" "$tmp/err.txt"
  check "ground truth printed" test "$(grep -c '^   truth ' "$tmp/out.txt")" = 2
  section() { awk -v h="$1" 'index($0, "== ") == 1 { on = index($0, h) == 1; next } on' "$tmp/out.txt"; }
  section "== GStreamer: filesrc ! decodebin ! upmbin task=caption" >"$tmp/gst.txt"
  section "== the upm-run CLI" >"$tmp/cli.txt"
  check "timed captions with a routing summary" test \
    "$(grep -cE '^\[00:00:0[0-9]\.[0-9]{3} --> .*\(score ' "$tmp/gst.txt"):$(grep -c '^    experts caption_prefix' "$tmp/gst.txt")" = 2:2
  check "the same clip times as upm-run (stream time)" diff <(printed_spans "$tmp/gst.txt") <(printed_spans "$tmp/cli.txt")
  check "motion labels" grep -qE '^\[00:00:00\.000 --> 00:00:00\.500\] (moving|[a-z])' "$tmp/out.txt"
  check "captioned.mp4 and captions.vtt written" test -s "$tmp/demo/captioned.mp4" -a -s "$tmp/demo/captions.vtt"
  check "the WebVTT has 2 cues" test "$(grep -c -- '-->' "$tmp/demo/captions.vtt")" = 2
  ;;
c-app)
  [ -x "$app" ] || skip_all "upm-caption-app not built"
  check "upm-caption-app on an MP4 (uridecodebin ! upmbin ! appsink)" "$app" "$video" >"$tmp/out.txt" 2>"$tmp/err.txt"
  show "$tmp/out.txt" "$tmp/err.txt"
  check "6 captions with the clip spans" diff <(expected_spans) \
    <(sed -n 's/^\[\([0-9:.]* --> [0-9:.]*\)\] caption ".*" (score -\{0,1\}[0-9.]*, [0-9]* tokens)$/\1/p' "$tmp/out.txt")
  check "the metas' times match the buffers'" sh -c "! grep -q warning '$tmp/out.txt'"
  check "routing per layer and gate" test "$(grep -cE '^    layer +[0-9]+ (attn|ffn) +caption_(prefix|text) +tokens +[0-9]+-[0-9]+ +experts [0-9]+ \(0\.[0-9]{2}\) \+ [0-9]+ \(0\.[0-9]{2}\)$' \
    "$tmp/out.txt")" -ge 24
  check "gst_upm_buffer_metas_to_json: caption, routing, pts" $PY - "$tmp/out.txt" <<'PY'
import json, sys
objs = [json.loads(l[len("  json "):]) for l in open(sys.argv[1]) if l.startswith("  json ")]
assert len(objs) == 6, len(objs)
for i, o in enumerate(objs):
    assert o["pts"] == i * 500000000 and o["duration"] == 500000000
    assert "text" in o["caption"] and o["caption"]["pts"] == o["pts"]
    assert o["routing"]["routes"]
PY
  check "summary line" grep -qx '6 results, 0 clips dropped' "$tmp/out.txt"
  check "classification" "$app" -t classify -l "left,right,up" -k 2 --no-json --no-routing "$video" >"$tmp/cls.txt"
  check "6 results with 2 labels each" test "$(grep -cE '^\[.*\] classify (left|right|up) [01]\.[0-9]{2} \| (left|right|up) [01]\.[0-9]{2}$' "$tmp/cls.txt")" = 6
  expect_fail "missing file" "no such file" "$app" "$tmp/nope.mp4"
  expect_fail "missing model: the element's error" 'nope.upm" not found' \
    env UPM_DEFAULT_MODEL="$tmp/nope.upm" "$app" "$video"
  expect_fail "missing --model file" "no such model file" "$app" -m "$tmp/nope.upm" "$video"
  expect_fail "classify without labels: the element's error" "No labels" "$app" -t classify "$video"
  ;;
c-app-live)
  [ -x "$app" ] || skip_all "upm-caption-app not built"
  start=$(date +%s.%N)
  check "upm-caption-app --test-src --live (24 frames at 8 fps)" "$app" --test-src --live --num-buffers 24 \
    --no-json >"$tmp/out.txt" 2>"$tmp/err.txt"
  end=$(date +%s.%N)
  show "$tmp/out.txt" "$tmp/err.txt"
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  echo "# wall time $wall s"
  check "real time" awk -v w="$wall" 'BEGIN { exit !(w >= 2.8) }'
  check "results + dropped clips = 6" awk '/results, .* clips dropped/ { s = $1 + $3 } END { exit s != 6 }' "$tmp/out.txt"
  # 200 one-frame clips in 1 s: results and dropped clips add up, and the run
  # ends soon after the stream (clips are dropped, not queued).
  start=$(date +%s.%N)
  check "upm-caption-app --live at 200 clips/s" "$app" --test-src --live --fps 200 --num-buffers 200 \
    --clip-frames 1 --no-json --no-routing >"$tmp/stress.txt" 2>"$tmp/err.txt"
  end=$(date +%s.%N)
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  tail -n 1 "$tmp/stress.txt" | show
  echo "# wall time $wall s"
  check "results + dropped clips = 200" awk '/results, .* clips dropped/ { s = $1 + $3 } END { exit s != 200 }' \
    "$tmp/stress.txt"
  check "no backlog: done within 2.5 s of the 1 s stream" awk -v w="$wall" 'BEGIN { exit !(w < 3.5) }'
  ;;
*)
  echo "Bail out! unknown case $case_name"
  exit 1
  ;;
esac
finish
