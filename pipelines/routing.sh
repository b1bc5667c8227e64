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
in=""
while [ $# -gt 0 ]; do
  upm_common_opt "$@"
  if [ "$UPM_SHIFT" -gt 0 ]; then shift "$UPM_SHIFT"; continue; fi
  case "$1" in
    --labels) [ $# -ge 2 ] || usage; labels=$2; shift 2 ;;
    --json) mode=jsonl; shift ;;
    -h | --help) usage 0 ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [ -z "$in" ] || usage; in=$1; shift ;;
  esac
done
[ -n "$in" ] || usage
upm_need_file "$in"
upm_finish_opts
offset=$(upm_stream_offset "$in")
if [ -n "$labels" ]; then
  task=(task=classify labels="$labels")
else
  task=(task=caption)
fi

gst-launch-1.0 -q filesrc location="$in" ! decodebin ! video/x-raw ! videoconvert ! \
  upmbin "${task[@]}" text-format=json "${UPM_PROPS[@]}" ! fdsink fd=1 sync=false |
  upm_format "$mode" --offset "$offset"
