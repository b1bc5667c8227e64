#!/usr/bin/env bash
# Print the expert routing of every clip of a video file: per MoE layer and
# gate (attention, FFN), the two experts chosen and their gate weights, for
# each token segment (caption prefix and caption text; or the classification
# input with --labels).
# usage: pipelines/routing.sh [--labels "a,b,..."] [--json] [-m MODEL]
#                             [--frame-stride N] [--clip-frames N]
#                             [-p PROP=VALUE]... IN
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
. "$(dirname "$0")/env.sh"
usage() { sed -n 6,8p "$0" | sed 's/^# //' >&2; exit "${1:-2}"; }

mode=routing
labels=""
routing_opt() {
  case "$1" in
    --labels) upm_optarg "$@"; labels=$2 ;;
    --json) mode=jsonl; UPM_SHIFT=1 ;;
  esac
}
upm_parse_input routing_opt "$@"
in=$UPM_IN
upm_finish_opts
offset=$(upm_stream_offset "$in")
upm_task_props "$labels"

gst-launch-1.0 -q filesrc location="$in" ! decodebin ! video/x-raw ! videoconvert ! \
  upmbin "${UPM_TASK[@]}" text-format=json "${UPM_PROPS[@]}" ! fdsink fd=1 sync=false |
  upm_format "$mode" --offset "$offset"
