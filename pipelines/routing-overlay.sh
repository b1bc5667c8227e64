#!/usr/bin/env bash
# Draw the experts chosen for each clip onto the video and write an MP4.
# usage: pipelines/routing-overlay.sh [-o OUT.mp4] [--caption] [--labels "a,b"]
#                                     [--position top-right] [--cell-size PX]
#                                     [--opacity 0.8] [--segment NAME]
#                                     [--num-buffers N] [--preset veryfast]
#                                     [--font "Sans 10"] [-m MODEL]
#                                     [--frame-stride N] [--clip-frames N]
#                                     [-p PROP=VALUE]... IN | --test
# The decoded video goes through a tee: one branch into upmbin (task=caption,
# or classify with --labels), whose buffers carry the routing meta of each
# clip and feed upmroutingoverlay's routing pad; the other into its video pad.
# The overlay draws a panel in a corner: a row per MoE layer and gate, a
# column per expert, the two chosen experts' cells in their colours, brighter
# for the larger gate weight (the routing of the video tokens; --segment
# caption_text for the caption's words). --caption also burns the caption in
# with textoverlay. --test uses a 160x120 videotestsrc ball (--num-buffers,
# default 48) instead of a file. OUT defaults to IN's name with
# -routing.mp4 (routing-overlay.mp4 with --test).
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail
. "$(dirname "$0")/env.sh"
usage() { sed -n 3,9p "$0" | sed 's/^# //' >&2; exit "${1:-2}"; }

out=""
caption=0
labels=""
test_src=0
num_buffers=48
preset=veryfast
font="Sans 10"
ov_props=()
overlay_opt() {
  case "$1" in
    -o | --output) upm_optarg "$@"; out=$2 ;;
    --caption) caption=1; UPM_SHIFT=1 ;;
    --labels) upm_optarg "$@"; labels=$2 ;;
    --position | --cell-size | --opacity | --segment)
      upm_optarg "$@"; ov_props+=("${1#--}=$2") ;;
    --num-buffers) upm_optarg "$@"; num_buffers=$2 ;;
    --preset) upm_optarg "$@"; preset=$2 ;;
    --font) upm_optarg "$@"; font=$2 ;;
    --test) test_src=1; UPM_SHIFT=1 ;;
  esac
}
upm_parse_args overlay_opt "$@"
if [ $test_src = 1 ]; then
  upm_take_pos
  case "$num_buffers" in '' | *[!0-9]*) upm_die "--num-buffers wants a number" ;; esac
  src=(videotestsrc pattern=ball num-buffers="$num_buffers" !
    video/x-raw,width=160,height=120,framerate=8/1)
  : "${out:=routing-overlay.mp4}"
else
  upm_take_pos in
  upm_need_file "$in"
  src=(filesrc location="$in" ! decodebin ! video/x-raw)
  : "${out:=${in%.*}-routing.mp4}"
fi
[ -z "$labels" ] || [ $caption = 0 ] || upm_die "--caption and --labels exclude each other"
upm_finish_opts
upm_need_elements upmroutingoverlay x264enc mp4mux
upm_task_props "$labels"

# The video branch's queue is not capped: it holds the frames of a clip until
# the clip's routing comes out of upmbin (see caption-to-mp4.sh).
vqueue=(queue max-size-buffers=0 max-size-bytes=0 max-size-time=0)
if [ $caption = 1 ]; then
  upm_need_elements textoverlay
  gst-launch-1.0 -q "${src[@]}" ! tee name=t \
    t. ! queue ! videoconvert ! upmbin "${UPM_TASK[@]}" text-format=label "${UPM_PROPS[@]}" ! \
      tee name=r \
    r. ! queue ! o.routing_sink \
    r. ! queue ! ov.text_sink \
    t. ! "${vqueue[@]}" ! videoconvert ! o.video_sink \
    upmroutingoverlay name=o "${ov_props[@]}" ! videoconvert ! \
    textoverlay name=ov valignment=bottom halignment=center \
      shaded-background=true font-desc="$font" ! \
    videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset="$preset" ! h264parse ! \
    mp4mux ! filesink location="$out"
else
  gst-launch-1.0 -q "${src[@]}" ! tee name=t \
    t. ! queue ! videoconvert ! upmbin "${UPM_TASK[@]}" "${UPM_PROPS[@]}" ! o.routing_sink \
    t. ! "${vqueue[@]}" ! videoconvert ! o.video_sink \
    upmroutingoverlay name=o "${ov_props[@]}" ! \
    videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset="$preset" ! h264parse ! \
    mp4mux ! filesink location="$out"
fi
echo "wrote $out"
