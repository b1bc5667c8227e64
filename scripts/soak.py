#!/usr/bin/python3
# Soak test: runs upmbin on a live videotestsrc for a given time and checks
# that it neither leaks nor loses clips.
# usage: scripts/soak.py [--duration SECONDS] [--warmup SECONDS] [--fps N]
#            [--size WxH] [--task caption|classify] [--labels "a,b"]
#            [--clip-frames N] [--model FILE] [--json OUT]
# Every --sample seconds it reads the process's resident set size; after the
# warm-up the RSS must stay within --rss-tolerance (5 %) of the first sample
# taken after warm-up. Every clip of the stream must give exactly one
# upm-result message, in order, each one clip span after the previous one
# (no clip lost, none duplicated) and upmbin's `dropped` count must stay 0.
# It also reports the latency of each result: the pipeline running time when
# its message arrives minus the running time of the clip's first frame (end to
# end: the whole clip must be captured first, so it is at least one clip span)
# and minus the running time of its last frame (the processing delay; a live
# source pushes a frame at its timestamp).
# Exit status 0 when every check passed. Needs PyGObject (python3-gi
# gir1.2-gstreamer-1.0) and the plugin on GST_PLUGIN_PATH (build/ is used
# when none is set).
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Soak test of the live captioning pipeline (RSS, clip cadence, latency)."""
import argparse
import json
import os
import resource
import sys
import time

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


HIST_MS = 10000      # latencies above 10 s land in the last bin


def add_ms(hist, ms):
    hist[min(max(int(round(ms)), 0), HIST_MS)] += 1


def quantile_ms(hist, q):
    """The q-quantile of a 1 ms histogram (q = 1: the largest value)."""
    n = sum(hist)
    if n == 0:
        return None
    rank = max(1, min(n, int(q * n + 0.999999)))
    seen = 0
    for ms, count in enumerate(hist):
        seen += count
        if seen >= rank:
            return float(ms)
    return float(HIST_MS)


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def parse_size(text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size wants WxH, not '{text}'")
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"--size wants positive WxH, not '{text}'")
    return w, h


def build_pipeline(a, num_buffers):
    w, h = a.size
    desc = (f"videotestsrc is-live=true pattern=ball num-buffers={num_buffers} ! "
            f"video/x-raw,width={w},height={h},framerate={a.fps}/1 ! videoconvert ! "
            f"upmbin name=upm clip-frames={a.clip_frames} ! fakesink sync=false")
    pipeline = Gst.parse_launch(desc)
    upm = pipeline.get_by_name("upm")
    Gst.util_set_object_arg(upm, "task", a.task)
    if a.labels:
        upm.set_property("labels", a.labels)
    if a.model:
        upm.set_property("model", a.model)
    return pipeline, upm


class Soak:
    def __init__(self, a, pipeline, upm):
        self.a = a
        self.pipeline = pipeline
        self.upm = upm
        self.span = Gst.util_uint64_scale(a.clip_frames, Gst.SECOND, a.fps)
        self.frame = Gst.util_uint64_scale(1, Gst.SECOND, a.fps)
        # Constant memory, whatever the duration: the script's own growth
        # would count as the pipeline's. Cadence is checked as results come,
        # latencies go to 1 ms histograms.
        self.n_results = 0
        self.last_pts = None
        self.bad_cadence = 0
        self.first_bad = None
        self.latency_hist = [0] * (HIST_MS + 1)
        self.after_last_hist = [0] * (HIST_MS + 1)
        self.rss = []           # (seconds since start, KiB), one per --sample
        self.errors = []

    def running_time_now(self):
        clock = self.pipeline.get_clock()
        if clock is None:
            return None
        return clock.get_time() - self.pipeline.get_base_time()

    def on_result(self, s):
        ok, pts = s.get_uint64("running-time")
        if not ok:
            ok, pts = s.get_uint64("pts")
        if not ok or pts == Gst.CLOCK_TIME_NONE:
            self.errors.append("a result without a timestamp")
            return
        # 1 ms slack: buffer timestamps are rounded to nanoseconds per frame
        if self.last_pts is not None and abs(pts - self.last_pts - self.span) > Gst.MSECOND:
            self.bad_cadence += 1
            if self.first_bad is None:
                self.first_bad = (self.n_results, self.last_pts, pts)
        self.last_pts = pts
        self.n_results += 1
        now = self.running_time_now()
        if now is not None:
            add_ms(self.latency_hist, (now - pts) / 1e6)
            add_ms(self.after_last_hist, (now - (pts + self.span - self.frame)) / 1e6)

    def run(self):
        bus = self.pipeline.get_bus()
        t0 = time.monotonic()
        next_sample = t0
        self.pipeline.set_state(Gst.State.PLAYING)
        done = False
        while not done:
            now = time.monotonic()
            if now >= next_sample:
                self.rss.append((now - t0, rss_kib()))
                next_sample += self.a.sample
                if not self.a.quiet:
                    print(f"[{now - t0:7.1f} s] rss {self.rss[-1][1] / 1024:.1f} MiB, "
                          f"{self.n_results} results", flush=True)
            msg = bus.timed_pop_filtered(
                100 * Gst.MSECOND,
                Gst.MessageType.ELEMENT | Gst.MessageType.ERROR | Gst.MessageType.EOS)
            if msg is None:
                continue
            if msg.type == Gst.MessageType.ERROR:
                err, _ = msg.parse_error()
                self.errors.append(f"pipeline error: {err.message}")
                done = True
            elif msg.type == Gst.MessageType.EOS:
                done = True
            else:
                s = msg.get_structure()
                if s is not None and s.get_name() == "upm-result":
                    self.on_result(s)
        self.rss.append((time.monotonic() - t0, rss_kib()))
        ru = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu_s = ru.ru_utime + ru.ru_stime
        self.wall_s = time.monotonic() - t0
        dropped = self.upm.get_property("dropped")
        self.pipeline.set_state(Gst.State.NULL)
        return dropped

    def check(self, expected, dropped):
        """Returns a report dict; self.errors lists every failed check."""
        a = self.a
        if dropped:
            self.errors.append(f"upmbin dropped {dropped} clips")
        if self.n_results != expected:
            self.errors.append(f"{self.n_results} results for {expected} clips")
        if self.bad_cadence:
            i, before, at = self.first_bad
            self.errors.append(f"{self.bad_cadence} results out of cadence (first: result {i} at "
                               f"{at / 1e9:.3f} s after {before / 1e9:.3f} s)")
        after = [kib for t, kib in self.rss if t >= a.warmup]
        growth = None
        if len(after) >= 2:
            base = after[0]
            growth = max(abs(kib - base) for kib in after) / base
            # A sanitizer runtime (scripts/sanitize.sh) holds freed memory in
            # quarantine, so RSS grows by design there: report it, judge it
            # only in normal builds.
            if growth > a.rss_tolerance and not os.environ.get("UPM_SANITIZER_PRELOAD"):
                self.errors.append(f"RSS moved {growth * 100:.1f} % after warm-up "
                                   f"({base / 1024:.1f} -> {after[-1] / 1024:.1f} MiB, "
                                   f"limit {a.rss_tolerance * 100:.0f} %)")
        elif a.duration > a.warmup:
            self.errors.append("too few RSS samples after warm-up")
        lat = self.latency_hist
        last = self.after_last_hist
        return {
            "duration_s": a.duration, "fps": a.fps, "size": "%dx%d" % a.size,
            "task": a.task, "clip_frames": a.clip_frames,
            "clips_expected": expected, "results": self.n_results, "dropped": dropped,
            "rss_mib_first": self.rss[0][1] / 1024 if self.rss else None,
            "rss_mib_after_warmup": after[0] / 1024 if after else None,
            "rss_mib_last": self.rss[-1][1] / 1024 if self.rss else None,
            "rss_max_change_after_warmup": growth,
            "latency_ms_median": quantile_ms(lat, 0.5),
            "latency_ms_p95": quantile_ms(lat, 0.95),
            "latency_ms_max": quantile_ms(lat, 1.0),
            "after_last_frame_ms_median": quantile_ms(last, 0.5),
            "after_last_frame_ms_max": quantile_ms(last, 1.0),
            "clip_span_ms": self.span / 1e6,
            # CPU seconds the whole process (source, conversion, model) used
            # per second of video: the real-time factor (< 1: keeps up)
            "cpu_s": self.cpu_s, "wall_s": self.wall_s,
            "realtime_factor": self.cpu_s / a.duration,
            "errors": self.errors,
        }


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--duration", type=float, default=1800.0, help="stream length in seconds")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds before RSS is checked")
    p.add_argument("--sample", type=float, default=5.0, help="RSS sampling period (s)")
    p.add_argument("--rss-tolerance", type=float, default=0.05)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--size", type=parse_size, default=(320, 240))
    p.add_argument("--task", default="caption", choices=["caption", "classify", "retrieve"])
    p.add_argument("--labels", help="labels for classify/retrieve")
    p.add_argument("--clip-frames", type=int, default=4)
    p.add_argument("--model", help="model file (.upm); default: the bundled model")
    p.add_argument("--json", help="write the report here")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    if a.duration <= 0 or a.fps <= 0 or a.clip_frames <= 0 or a.sample <= 0:
        p.error("--duration, --fps, --clip-frames and --sample must be positive")
    if a.task != "caption" and not a.labels:
        p.error(f"--task {a.task} needs --labels")

    Gst.init(None)
    if Gst.ElementFactory.find("upmbin") is None:
        print("error: the upmbin element is missing (set GST_PLUGIN_PATH to "
              "build/plugins/uniperceiver)", file=sys.stderr)
        return 1
    # a whole number of clips, so that the last one is not cut by EOS
    clips = max(1, int(a.duration * a.fps) // a.clip_frames)
    pipeline, upm = build_pipeline(a, clips * a.clip_frames)
    soak = Soak(a, pipeline, upm)
    dropped = soak.run()
    report = soak.check(clips, dropped)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    print(json.dumps({k: v for k, v in report.items() if k != "errors"}))
    for e in report["errors"]:
        print("FAIL: " + e, file=sys.stderr)
    print("soak: " + ("FAILED" if report["errors"] else "OK"))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
