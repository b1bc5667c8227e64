#!/usr/bin/env bash
# Classify each clip of a video file against labels given on the command line
# and print the timed results (the top-k labels and their probabilities).
# usage: pipelines/classify.sh [--top-k K] [--routing-summary] [-m MODEL]
#                              [--frame-stride N] [--clip-frames N]
#                              [-p PROP=VALUE]... IN "label a,label b,..."
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
. "$(dirname "$0")/env.sh"
usage() { sed -n 4,6p "$0" | sed 's/^# //' >&2; exit "${1:-2}"; }

fmt_args=()
top_k=3
classify_opt() {
  case "$1" in
    --top-k) upm_optarg "$@"; top_k=$2 ;;
    --routing-summary) fmt_args+=(--routing-summary); UPM_SHIFT=1 ;;
  esac
}
upm_parse_args classify_opt "$@"
upm_take_pos in labels
upm_need_file "$in"
[ -n "${labels//[ ,]/}" ] || upm_die "no labels given"
upm_finish_opts
offset=$(upm_stream_offset "$in")

gst-launch-1.0 -q filesrc location="$in" ! decodebin ! video/x-raw ! videoconvert ! \
  upmbin task=classify labels="$labels" top-k="$top_k" text-format=json "${UPM_PROPS[@]}" ! \
  fdsink fd=1 sync=false |
  upm_format classify --offset "$offset" "${fmt_args[@]}"
