#!/usr/bin/env bash
# Caption a video file and print the timed captions (one line per clip).
# usage: pipelines/caption.sh [--routing-summary] [-m MODEL] [--frame-stride N]
#                             [--clip-frames N] [-p PROP=VALUE]... IN
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
. "$(dirname "$0")/env.sh"
usage() { sed -n 3,4p "$0" | sed 's/^# //' >&2; exit "${1:-2}"; }

fmt_args=()
caption_opt() {
  case "$1" in
    --routing-summary) fmt_args+=(--routing-summary); UPM_SHIFT=1 ;;
  esac
}
upm_parse_input caption_opt "$@"
in=$UPM_IN
upm_finish_opts
offset=$(upm_stream_offset "$in")

gst-launch-1.0 -q filesrc location="$in" ! decodebin ! video/x-raw ! videoconvert ! \
  upmbin task=caption text-format=json "${UPM_PROPS[@]}" ! fdsink fd=1 sync=false |
  upm_format caption --offset "$offset" "${fmt_args[@]}"
