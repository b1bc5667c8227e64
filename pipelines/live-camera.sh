#!/usr/bin/env bash
# Live captioning from a V4L2 camera, printing each caption as it comes.
# usage: pipelines/live-camera.sh [--device /dev/video0] [--test]
#                                 [--num-buffers N] [--size WxH] [--fps N]
#                                 [--labels "a,b,..."] [--drift] [-m MODEL]
#                                 [--frame-stride N] [--clip-frames N]
#                                 [-p PROP=VALUE]...
# --test captions videotestsrc is-live=true instead of the camera (what the
# test suite runs); --num-buffers stops after N frames (default: run until
# Ctrl-C, which ends the stream cleanly). --labels classifies instead of
# captioning. --drift prints, per clip, how far the results have fallen
# behind the stream since the first one (it stays near 0 s while the model
# keeps up).
# A leaky queue before upmbin drops frames rather than letting them pile up
# when the model is slower than the camera; upmbin itself drops the oldest
# waiting clip on a live stream (its `dropped` property counts them).
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
. "$(dirname "$0")/env.sh"
usage() { sed -n 3,7p "$0" | sed 's/^# //' >&2; exit "${1:-2}"; }

device=/dev/video0
test_src=0
num_buffers=-1
size=""
fps=""
labels=""
fmt_args=()
while [ $# -gt 0 ]; do
  upm_common_opt "$@"
  if [ "$UPM_SHIFT" -gt 0 ]; then shift "$UPM_SHIFT"; continue; fi
  case "$1" in
    --device) [ $# -ge 2 ] || usage; device=$2; shift 2 ;;
    --test) test_src=1; shift ;;
    --num-buffers) [ $# -ge 2 ] || usage; num_buffers=$2; shift 2 ;;
    --size) [ $# -ge 2 ] || usage; size=$2; shift 2 ;;
    --fps) [ $# -ge 2 ] || usage; fps=$2; shift 2 ;;
    --labels) [ $# -ge 2 ] || usage; labels=$2; shift 2 ;;
    --drift) fmt_args+=(--drift); shift ;;
    -h | --help) usage 0 ;;
    *) echo "unknown argument $1" >&2; usage ;;
  esac
done
upm_finish_opts

caps=video/x-raw
if [ -n "$size" ]; then
  case "$size" in
    *x*) caps+=",width=${size%x*},height=${size#*x}" ;;
    *) upm_die "--size wants WxH, not '$size'" ;;
  esac
fi
[ -z "$fps" ] || caps+=",framerate=$fps/1"

if [ $test_src = 1 ]; then
  [ -n "$size" ] || caps+=",width=64,height=64"
  [ -n "$fps" ] || caps+=",framerate=8/1"
  src=(videotestsrc is-live=true pattern=ball num-buffers="$num_buffers" ! "$caps")
else
  [ -e "$device" ] || upm_die "no camera at $device (--device DEV, or --test for a test pattern)"
  upm_need_elements v4l2src
  src=(v4l2src device="$device" num-buffers="$num_buffers" ! "$caps")
fi
if [ -n "$labels" ]; then
  task=(task=classify labels="$labels")
  mode=classify
else
  task=(task=caption)
  mode=caption
fi

# -e: Ctrl-C sends EOS, so the last clip is still printed.
gst-launch-1.0 -q -e "${src[@]}" ! videoconvert ! \
  queue leaky=downstream max-size-buffers=16 max-size-bytes=0 max-size-time=0 ! \
  upmbin "${task[@]}" text-format=json "${UPM_PROPS[@]}" ! fdsink fd=1 sync=false |
  upm_format "$mode" "${fmt_args[@]}"
