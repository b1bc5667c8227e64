#!/usr/bin/python3
# Runs a Uni-Perceiver classification or captioning pipeline and prints every
# "upm-result" bus message of upmbin (task, clip times, labels and
# probabilities or the caption).
# usage: examples/upm_results.py [--task caption|classify|retrieve]
#            [--labels "a,b,..."] [--top-k K] [--model FILE]
#            [--test-src [--live] [--num-buffers N]] [FILE|URI]
# Needs PyGObject and the GStreamer typelib (Debian: python3-gi
# gir1.2-gstreamer-1.0) and the plugin on GST_PLUGIN_PATH (this script puts
# build/plugins/uniperceiver there when it finds it and none is set).
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Print the upm-result messages of upmbin."""
import argparse
import os
import sys
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_build_plugin = os.path.join(os.environ.get("UPM_BUILD_DIR", os.path.join(REPO, "build")),
                             "plugins", "uniperceiver")
if (not os.environ.get("GST_PLUGIN_PATH") and not os.environ.get("GST_PLUGIN_PATH_1_0")
        and os.path.isfile(os.path.join(_build_plugin, "libgstuniperceiver.so"))):
    os.environ["GST_PLUGIN_PATH"] = _build_plugin

try:
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
except (ImportError, ValueError) as e:
    print(f"error: PyGObject with GStreamer is missing ({e}); "
          "install python3-gi gir1.2-gstreamer-1.0", file=sys.stderr)
    sys.exit(1)


def fmt_time(ns):
    if ns is None or ns == Gst.CLOCK_TIME_NONE:
        return "--:--:--.---"
    ms = ns // 1000000
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def one_line(text):
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)


def array(s, field):
    """A GstValueArray field as a Python list (PyGObject cannot read it
    through get_value on every version)."""
    ok, arr = s.get_array(field) if hasattr(s, "get_array") else (False, None)
    if ok:
        with warnings.catch_warnings():  # GValueArray is deprecated, not gone
            warnings.simplefilter("ignore", DeprecationWarning)
            return [arr.get_nth(i) for i in range(arr.n_values)]
    try:
        v = s.get_value(field)
        return list(v) if v is not None else []
    except TypeError:
        return []


def describe(s):
    """One line for an upm-result structure."""
    task = s.get_string("task")
    # running-time: for a file played from its start, the time players show
    # (pts is the buffer PTS, above it when an MP4 edit list shifts the video)
    ok, pts = s.get_uint64("running-time")
    if not ok:
        ok, pts = s.get_uint64("pts")
    ok2, dur = s.get_uint64("duration")
    end = pts + dur if ok and ok2 and pts != Gst.CLOCK_TIME_NONE and dur != Gst.CLOCK_TIME_NONE else None
    head = f"{task:<8} {fmt_time(pts if ok else None)} --> {fmt_time(end)}"
    if task == "caption":
        ok, score = s.get_double("score")
        return f'{head}  "{one_line(s.get_string("text") or "")}" (score {score:.2f})'
    labels = array(s, "labels")
    probs = array(s, "probs")
    return head + "  " + " | ".join(f"{one_line(str(lab))} {p:.2f}" for lab, p in zip(labels, probs))


def error_text(msg):
    err, debug = msg.parse_error()
    hint = (debug or "").strip().split("\n")[-1]
    return f"error: {err.message}" + (f"\n  ({hint})" if hint else "")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("input", nargs="?", help="video file or URI")
    p.add_argument("--task", default="caption", choices=["caption", "classify", "retrieve"])
    p.add_argument("--labels", help="comma-separated labels (classify, retrieve)")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--model", help="model file (.upm); default: the bundled model")
    p.add_argument("--test-src", action="store_true", help="videotestsrc instead of a file")
    p.add_argument("--live", action="store_true", help="live test source")
    p.add_argument("--num-buffers", type=int, default=32, help="frames of the test source")
    a = p.parse_args()

    if a.test_src == (a.input is not None):
        p.error("give a FILE or URI, or --test-src")
    # Before any Gst call: with python3-gst-1.0's overrides installed, a Gst
    # function called before Gst.init() raises.
    Gst.init(None)
    if a.input and not Gst.uri_is_valid(a.input) and not os.path.isfile(a.input):
        print(f"error: no such file: {a.input}", file=sys.stderr)
        return 1
    if a.model and not os.path.isfile(a.model):
        print(f"error: no such model file: {a.model}", file=sys.stderr)
        return 1

    if Gst.ElementFactory.find("upmbin") is None:
        print("error: the upmbin element is missing (set GST_PLUGIN_PATH to "
              "build/plugins/uniperceiver)", file=sys.stderr)
        return 1
    if a.test_src:
        src = (f"videotestsrc is-live={str(a.live).lower()} pattern=ball "
               f"num-buffers={a.num_buffers} ! video/x-raw,width=64,height=64,framerate=8/1")
    else:
        src = "uridecodebin name=src ! video/x-raw"
    pipeline = Gst.parse_launch(f"{src} ! videoconvert ! upmbin name=upm ! fakesink sync=false")
    upm = pipeline.get_by_name("upm")
    if a.input:
        uri = a.input if Gst.uri_is_valid(a.input) else Gst.filename_to_uri(a.input)
        pipeline.get_by_name("src").set_property("uri", uri)
    Gst.util_set_object_arg(upm, "task", a.task)
    upm.set_property("top-k", a.top_k)
    if a.labels:
        upm.set_property("labels", a.labels)
    if a.model:
        upm.set_property("model", a.model)

    bus = pipeline.get_bus()
    status = 0
    n = 0
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop_filtered(
            Gst.CLOCK_TIME_NONE,
            Gst.MessageType.ELEMENT | Gst.MessageType.ERROR | Gst.MessageType.EOS)
        if msg.type == Gst.MessageType.ERROR:
            print(error_text(msg), file=sys.stderr)
            status = 1
            break
        if msg.type == Gst.MessageType.EOS:
            break
        s = msg.get_structure()
        if s is not None and s.get_name() == "upm-result":
            n += 1
            print(describe(s), flush=True)
    pipeline.set_state(Gst.State.NULL)
    if status == 0:
        print(f"{n} results")
    return status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
