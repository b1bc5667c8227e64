#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""GStreamer rows of the benchmark (bench/run.sh calls this; JSON on stdout).

  gst_bench.py [--runs N] [--build DIR] [--model FILE] [--base-model FILE]
               [--live-seconds S]

Rows:
  * file: clips per second through a whole gst-launch-1.0 pipeline
    (filesrc ! qtdemux ! avdec_h264 ! videoconvert ! upmbin ! fakesink) on
    an H.264 MP4 made here (320x240, 30 fps), captioning and classifying, on
    the bundled model; the median of --runs runs, and as a multiple of real
    time (clips/s x clip span);
  * live: scripts/soak.py on a live 30 fps videotestsrc: real-time factor
    (CPU seconds per second of video), end-to-end latency (result after the
    clip's first frame) and processing delay (after its last frame), clips
    lost/dropped;
  * memory: peak RSS of one process running 1 and 4 pipelines at once on one
    model (--base-model, the benchmark's MoE-B by default, where the model
    dominates; and the bundled model).
Target rows ({"target", "ok", "shown"}) are added to the report's targets.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# One process, N pipelines on one model, each classifying CLIPS clips of a
# videotestsrc; prints the process's peak RSS (VmHWM) in KiB.
RSS_PROBE = r"""
import sys, gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
n, model, size, frames = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ps = []
for i in range(n):
    p = Gst.parse_launch(
        "videotestsrc pattern=%d num-buffers=%d ! video/x-raw,width=%d,height=%d,framerate=8/1 "
        "! videoconvert ! upmbin task=classify labels=\"walking, running, a cat, a dog\" "
        "model=\"%s\" ! fakesink" % (i, frames, size, size, model))
    ps.append(p)
for p in ps:
    p.set_state(Gst.State.PLAYING)
for p in ps:
    msg = p.get_bus().timed_pop_filtered(Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg.type == Gst.MessageType.ERROR:
        print("error:", msg.parse_error()[0].message, file=sys.stderr)
        sys.exit(1)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
for p in ps:
    p.set_state(Gst.State.NULL)
print(hwm)
"""


def gst_env(build):
    env = dict(os.environ)
    env["GST_PLUGIN_PATH"] = os.path.join(build, "plugins", "uniperceiver")
    env.setdefault("XDG_CACHE_HOME", os.path.join(HERE, "models", "cache"))
    return env


def make_video(path, seconds, env):
    frames = int(seconds * 30)
    cmd = ["gst-launch-1.0", "-q", "videotestsrc", "pattern=ball", "num-buffers=%d" % frames,
           "!", "video/x-raw,width=320,height=240,framerate=30/1", "!", "videoconvert", "!",
           "x264enc", "speed-preset=ultrafast", "key-int-max=30", "!", "mp4mux", "!",
           "filesink", "location=" + path]
    subprocess.run(cmd, check=True, env=env)


def file_row(video, task, model, runs, env, clip_frames, seconds):
    labels = ["labels=moving left, moving right, moving up, moving down, rotating, growing, "
              "shrinking, bouncing, staying still"] if task == "classify" else []
    cmd = ["gst-launch-1.0", "-q", "filesrc", "location=" + video, "!", "qtdemux", "!",
           "avdec_h264", "!", "videoconvert", "!", "upmbin", "task=" + task,
           "clip-frames=%d" % clip_frames, "model=" + model] + labels + [
           "!", "fakesink", "sync=false"]
    times = []
    for _ in range(runs + 1):          # the first run warms the caches
        t0 = time.monotonic()
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        times.append(time.monotonic() - t0)
    wall = statistics.median(times[1:])
    clips = int(seconds * 30) // clip_frames
    rate = clips / wall
    span = clip_frames / 30.0
    return {"name": "GStreamer file pipeline, bundled model, %s (320x240 30 fps H.264, "
                    "%d clips of %d frames; decode + convert + model)" % (task, clips, clip_frames),
            "c": "%.0f clips/s" % rate,
            "note": "%.0f× real time (whole process incl. decoding, median of %d)" % (rate * span, runs)}


def live_row(model, seconds, env):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "soak.json")
        subprocess.run([PY, os.path.join(ROOT, "scripts", "soak.py"), "--duration", str(seconds),
                        "--warmup", str(min(10.0, seconds / 3)), "--sample", "1", "--quiet",
                        "--model", model, "--json", out], env=env, stdout=subprocess.DEVNULL)
        rep = json.load(open(out))
    lost = rep["clips_expected"] - rep["results"]
    rows = [{"name": "GStreamer live 30 fps (videotestsrc 320x240, caption, clip 4 frames = %.0f ms), %.0f s"
             % (rep["clip_span_ms"], seconds),
             "c": "real-time factor %.3f" % rep["realtime_factor"],
             "note": "CPU s per s of video, whole process; latency after the clip's first frame "
                     "median %.0f ms / max %.0f ms; after its last frame median %.0f ms / max %.0f ms; "
                     "%d lost, %d dropped"
                     % (rep["latency_ms_median"], rep["latency_ms_max"],
                        rep["after_last_frame_ms_median"], rep["after_last_frame_ms_max"],
                        lost, rep["dropped"])}]
    limit = rep["clip_span_ms"] + 200
    targets = [
        {"target": "bundled model real-time on a live 30 fps source (2 cores)",
         "ok": rep["realtime_factor"] < 1.0 and lost == 0 and rep["dropped"] == 0,
         "shown": "factor %.3f, %d lost" % (rep["realtime_factor"], lost)},
        {"target": "live latency ≤ one clip span + 200 ms (%.0f ms)" % limit,
         "ok": rep["latency_ms_max"] <= limit,
         "shown": "max %.0f ms" % rep["latency_ms_max"]},
    ]
    return rows, targets


def rss_kib(n, model, size, frames, env):
    r = subprocess.run([PY, "-c", RSS_PROBE, str(n), model, str(size), str(frames)],
                       env=env, capture_output=True, text=True, check=True)
    return int(r.stdout.strip().splitlines()[-1])


def memory_rows(model, name, size, frames, env, with_target):
    one = rss_kib(1, model, size, frames, env)
    four = rss_kib(4, model, size, frames, env)
    r = four / one
    row = {"name": "peak RSS, %s: one process with 1 / 4 pipelines on one model" % name,
           "c": "%.0f MB / %.0f MB" % (one * 1.024e-3, four * 1.024e-3),
           "note": "4 pipelines / 1 = %.3f (+%.1f MB per extra pipeline)"
                   % (r, (four - one) * 1.024e-3 / 3)}
    target = None
    if with_target:
        target = {"target": "four pipelines on one model < 1.1× the RSS of one (%s)" % name,
                  "ok": r < 1.1, "shown": "%.3f" % r}
    return row, target


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "uniperceiver-synth-moe.upm"))
    ap.add_argument("--base-model", default=os.path.join(HERE, "models", "base-moe.upm"))
    ap.add_argument("--live-seconds", type=float, default=30.0)
    ap.add_argument("--video-seconds", type=float, default=60.0)
    a = ap.parse_args()
    env = gst_env(a.build)
    rows, targets = [], []
    with tempfile.TemporaryDirectory() as tmp:
        video = os.path.join(tmp, "bench.mp4")
        make_video(video, a.video_seconds, env)
        for task in ("caption", "classify"):
            print("gst: file pipeline, %s ..." % task, file=sys.stderr)
            rows.append(file_row(video, task, a.model, a.runs, env, 4, a.video_seconds))
    print("gst: live source ...", file=sys.stderr)
    r, t = live_row(a.model, a.live_seconds, env)
    rows += r
    targets += t
    print("gst: memory ...", file=sys.stderr)
    # The target is for MoE-B, where the model is what one process holds; the
    # 8.5 MB bundled model is smaller than a pipeline's own buffers and
    # threads, so its row shows the per-pipeline cost instead.
    for model, name, size, frames, target in ((a.model, "bundled model", 64, 8, False),
                                              (a.base_model, "MoE-B", 224, 8, True)):
        if os.path.exists(model):
            row, t = memory_rows(model, name, size, frames, env, target)
            rows.append(row)
            if t:
                targets.append(t)
    print(json.dumps({"rows": rows, "targets": targets}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
