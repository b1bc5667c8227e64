# Sourced by the pipelines/ scripts (not run): GStreamer environment and the
# options they share.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Plugin: when neither GST_PLUGIN_PATH nor GST_PLUGIN_PATH_1_0 is set and the
# build tree has the plugin (<repo>/build, or $UPM_BUILD_DIR), the scripts use
# it; otherwise the installed plugin. Model: --model FILE, or $UPM_MODEL;
# without either, the elements' default (the bundled model, or
# $UPM_DEFAULT_MODEL).

UPM_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UPM_PIPELINES=$UPM_REPO/pipelines
: "${UPM_BUILD_DIR:=$UPM_REPO/build}"

if [ -z "${GST_PLUGIN_PATH:-}" ] && [ -z "${GST_PLUGIN_PATH_1_0:-}" ] &&
  [ -f "$UPM_BUILD_DIR/plugins/uniperceiver/libgstuniperceiver.so" ]; then
  export GST_PLUGIN_PATH=$UPM_BUILD_DIR/plugins/uniperceiver
fi

# /usr/bin/python3 first: it is the Debian one (pyenv's may lack modules).
if [ -x /usr/bin/python3 ]; then UPM_PYTHON=/usr/bin/python3; else UPM_PYTHON=python3; fi

upm_die() {
  echo "error: $*" >&2
  exit 1
}

upm_need_elements() {
  local e
  for e in "$@"; do
    # --atleast-version: the default is the core version, above our 0.1.0
  gst-inspect-1.0 --exists --atleast-version=0.0.0 "$e" ||
      upm_die "the GStreamer element '$e' is missing (see scripts/deps.sh; is GST_PLUGIN_PATH right?)"
  done
}

upm_need_file() {
  [ -f "$1" ] || upm_die "no such file: $1"
  [ -r "$1" ] || upm_die "cannot read $1"
}

# Properties for upmbin, filled by upm_common_opt: UPM_PROPS=(model=... ...).
UPM_PROPS=()
UPM_MODEL_FILE=${UPM_MODEL:-}

# Handles an option shared by all scripts. Returns the number of arguments
# it used (0: not a common option), in UPM_SHIFT.
#   -m, --model FILE         model file (.upm)
#   --frame-stride N         keep every Nth frame
#   --clip-frames N          frames per clip (0: the model's)
#   -p, --set PROP=VALUE     any other upmbin property (repeatable)
upm_common_opt() {
  UPM_SHIFT=0
  case "$1" in
    -m | --model) [ $# -ge 2 ] || upm_die "$1 needs a file"; UPM_MODEL_FILE=$2; UPM_SHIFT=2 ;;
    --model=*) UPM_MODEL_FILE=${1#--model=}; UPM_SHIFT=1 ;;
    --frame-stride | --clip-frames)
      [ $# -ge 2 ] || upm_die "$1 needs a number"
      UPM_PROPS+=("${1#--}=$2"); UPM_SHIFT=2 ;;
    -p | --set)
      [ $# -ge 2 ] || upm_die "$1 needs PROP=VALUE"
      case "$2" in *=*) ;; *) upm_die "$1 needs PROP=VALUE, not '$2'" ;; esac
      UPM_PROPS+=("$2"); UPM_SHIFT=2 ;;
  esac
}

# upm_parse_args HANDLER ARG...: reads the command line. Each argument goes in
# turn to upm_common_opt; then -h/--help calls the script's usage function
# with 0; then HANDLER, the script's own options, runs with the arguments
# left (it sets UPM_SHIFT to the number it used, leaving it 0 for none: see
# upm_optarg). What none of them takes is an unknown option (usage) or goes
# to UPM_POS; with UPM_MAX_POS set, one more than that many is a usage error.
UPM_POS=()
upm_parse_args() {
  local handler=$1
  shift
  while [ $# -gt 0 ]; do
    upm_common_opt "$@"
    if [ "$UPM_SHIFT" -eq 0 ]; then
      case "$1" in -h | --help) usage 0 ;; esac
      "$handler" "$@"
    fi
    if [ "$UPM_SHIFT" -eq 0 ]; then
      case "$1" in
        -*) echo "unknown option $1" >&2; usage ;;
        *)
          [ -z "${UPM_MAX_POS:-}" ] || [ ${#UPM_POS[@]} -lt "$UPM_MAX_POS" ] || usage
          UPM_POS+=("$1"); UPM_SHIFT=1 ;;
      esac
    fi
    shift "$UPM_SHIFT"
  done
}

# upm_parse_input HANDLER ARG...: upm_parse_args for a script that takes one
# input file: usage without it, an error when it cannot be read; UPM_IN is
# its name.
upm_parse_input() {
  UPM_MAX_POS=1
  upm_parse_args "$@"
  UPM_IN=${UPM_POS[0]:-}
  [ -n "$UPM_IN" ] || usage
  upm_need_file "$UPM_IN"
}

# upm_optarg "$@": in a HANDLER, for an option that takes a value ($2):
# usage when there is none, else UPM_SHIFT=2.
upm_optarg() {
  [ $# -ge 2 ] || usage
  UPM_SHIFT=2
}

# upm_take_pos NAME...: usage unless UPM_POS holds one argument per NAME;
# sets each NAME to its argument, in order.
upm_take_pos() {
  [ ${#UPM_POS[@]} -eq $# ] || usage
  local i
  for ((i = 1; i <= $#; i++)); do
    printf -v "${!i}" '%s' "${UPM_POS[i - 1]}"
  done
}

# Call after the options: checks the model and adds it to UPM_PROPS.
upm_finish_opts() {
  if [ -n "$UPM_MODEL_FILE" ]; then
    upm_need_file "$UPM_MODEL_FILE"
    UPM_PROPS+=("model=$UPM_MODEL_FILE")
  fi
  upm_need_elements upmbin
}

# upm_task_props LABELS: sets UPM_TASK to upmbin's task properties: classify
# against LABELS when there are any, else caption.
upm_task_props() {
  if [ -n "$1" ]; then
    UPM_TASK=(task=classify labels="$1")
  else
    UPM_TASK=(task=caption)
  fi
}

# upm_stream_offset FILE: prints the stream time minus the PTS (ns) of the
# file's decoded video. upmbin stamps results with buffer PTS; players show
# stream time. They differ when the video starts at a PTS above 0 with an edit
# list mapping it to 0 (MP4 from ffmpeg with B-frames: 2 frames). The scripts
# add this offset to the times they print (and to webvttenc's).
upm_stream_offset() {
  local seg start t
  seg=$(gst-launch-1.0 -v filesrc location="$1" ! decodebin ! video/x-raw ! \
    fakesink silent=false num-buffers=1 2>/dev/null | grep -m1 'type: segment' || true)
  start=$(sed -n 's/.*, start=(guint64)\([0-9]*\),.*/\1/p' <<<"$seg")
  t=$(sed -n 's/.*, time=(guint64)\([0-9]*\),.*/\1/p' <<<"$seg")
  case "$seg" in
    *"format=(GstFormat)time"*) ;;
    *) start="" ;;
  esac
  if [ -n "$start" ] && [ -n "$t" ]; then echo $((t - start)); else echo 0; fi
}

# Formats the JSON text stream of upmbin (text-format=json) on stdin.
upm_format() {
  "$UPM_PYTHON" -u "$UPM_PIPELINES/upm-format.py" "$@"
}
