#!/usr/bin/env bash
# Caption a video file to a WebVTT subtitle file (one cue per clip).
# usage: pipelines/caption-to-webvtt.sh [--own-format] [-m MODEL]
#                                       [--frame-stride N] [--clip-frames N]
#                                       [-p PROP=VALUE]... IN OUT.vtt
# Uses webvttenc (gst-plugins-bad, subenc) when it is there; --own-format (or
# its absence) writes the file with pipelines/upm-format.py instead, which
# also keeps each caption on one line.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
. "$(dirname "$0")/env.sh"
usage() { sed -n 3,5p "$0" | sed 's/^# //' >&2; exit "${1:-2}"; }

own=0
webvtt_opt() {
  case "$1" in
    --own-format) own=1; UPM_SHIFT=1 ;;
  esac
}
upm_parse_args webvtt_opt "$@"
upm_take_pos in out
upm_need_file "$in"
upm_finish_opts
if [ $own = 0 ] && ! gst-inspect-1.0 --exists --atleast-version=0.0.0 webvttenc; then
  echo "note: webvttenc is missing; writing the WebVTT file ourselves" >&2
  own=1
fi

offset=$(upm_stream_offset "$in")
src=(filesrc location="$in" ! decodebin ! video/x-raw ! videoconvert)
if [ $own = 1 ]; then
  gst-launch-1.0 -q "${src[@]}" ! upmbin task=caption text-format=json "${UPM_PROPS[@]}" ! \
    fdsink fd=1 sync=false | upm_format vtt --offset "$offset" -o "$out"
else
  gst-launch-1.0 -q "${src[@]}" ! upmbin task=caption text-format=label "${UPM_PROPS[@]}" ! \
    webvttenc timestamp="$offset" ! filesink location="$out"
fi
echo "wrote $out ($(grep -c -- '-->' "$out") cues)"
