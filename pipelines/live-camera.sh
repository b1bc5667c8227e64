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
camera_opt() {
  case "$1" in
    --device) upm_optarg "$@"; device=$2 ;;
    --test) test_src=1; UPM_SHIFT=1 ;;
    --num-buffers) upm_optarg "$@"; num_buffers=$2 ;;
    --size) upm_optarg "$@"; size=$2 ;;
    --fps) upm_optarg "$@"; fps=$2 ;;
    --labels) upm_optarg "$@"; labels=$2 ;;
    --drift) fmt_args+=(--drift); UPM_SHIFT=1 ;;
    *) echo "unknown argument $1" >&2; usage ;;
  esac
}
upm_parse_args camera_opt "$@"
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
upm_task_props "$labels"
mode=${UPM_TASK[0]#task=}

# -e: Ctrl-C sends EOS, so the last clip is still printed.
gst-launch-1.0 -q -e "${src[@]}" ! videoconvert ! \
  queue leaky=downstream max-size-buffers=16 max-size-bytes=0 max-size-time=0 ! \
  upmbin "${UPM_TASK[@]}" text-format=json "${UPM_PROPS[@]}" ! fdsink fd=1 sync=false |
  upm_format "$mode" "${fmt_args[@]}"
