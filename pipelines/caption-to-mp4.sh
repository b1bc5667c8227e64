#!/usr/bin/env bash
# Caption a video file and burn the captions into an H.264 MP4.
# usage: pipelines/caption-to-mp4.sh [--font "Sans 10"] [--preset veryfast]
#                                    [-m MODEL] [--frame-stride N]
#                                    [--clip-frames N] [-p PROP=VALUE]...
#                                    IN OUT.mp4
# The decoded video goes through a tee: one branch into upmbin task=caption,
# whose text buffers (clip PTS and duration) feed textoverlay's text pad; the
# other into textoverlay's video pad, then x264enc and mp4mux. The video
# branch's queue holds the frames of a clip while it is being captioned.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
. "$(dirname "$0")/env.sh"
usage() { sed -n 3,6p "$0" | sed 's/^# //' >&2; exit "${1:-2}"; }

font="Sans 10"
preset=veryfast
mp4_opt() {
  case "$1" in
    --font) upm_optarg "$@"; font=$2 ;;
    --preset) upm_optarg "$@"; preset=$2 ;;
  esac
}
upm_parse_args mp4_opt "$@"
upm_take_pos in out
upm_need_file "$in"
upm_finish_opts
upm_need_elements textoverlay x264enc mp4mux

# The video branch's queue is not capped: it holds the frames decoded while
# their clip is captioned (a few clips' worth: the clip being filled and the
# ones waiting in upmbin, whose own queue is bounded). A cap would stall the
# tee, and so the captioning branch, with long clips (large --frame-stride).
gst-launch-1.0 -q filesrc location="$in" ! decodebin ! video/x-raw ! tee name=t \
  t. ! queue ! videoconvert ! upmbin task=caption text-format=label "${UPM_PROPS[@]}" ! \
    queue ! ov.text_sink \
  t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! videoconvert ! \
    ov.video_sink \
  textoverlay name=ov valignment=bottom halignment=center \
    shaded-background=true font-desc="$font" ! \
  videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset="$preset" ! h264parse ! \
  mp4mux ! filesink location="$out"
echo "wrote $out"
