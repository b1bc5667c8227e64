#!/usr/bin/python3
# Whole pipelines through PyGObject: filesrc ! decodebin ! upmbin ! appsink on
# MP4s made here (the number of results, their timestamps, the upm-result
# messages), and the example app examples/upm_results.py.
# Exit 77 (skip) without python3-gi / the GStreamer typelib.
# SPDX-License-Identifier: LGPL-2.1-or-later
import json
import os
import re
import subprocess
import sys
import unittest

try:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstApp", "1.0")
    from gi.repository import Gst, GstApp  # noqa: F401
except (ImportError, ValueError) as e:
    print(f"SKIP: PyGObject with GStreamer is missing ({e})")
    sys.exit(77)

ROOT = os.environ.get("UPM_SOURCE_ROOT", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
TMP = os.path.join(os.environ.get("UPM_TEST_TMP", "/tmp/upm-pipelines-test"), "python")
SEC = Gst.SECOND
CLIP = SEC // 2  # 4 frames at 8 fps (the fixture model's clip length)


def make_mp4(path, frames=24, bframes=0):
    subprocess.run(
        ["gst-launch-1.0", "-q", "videotestsrc", f"num-buffers={frames}", "pattern=ball", "!",
         "video/x-raw,width=64,height=64,framerate=8/1", "!", "videoconvert", "!",
         "video/x-raw,format=I420", "!", "x264enc", "speed-preset=ultrafast",
         f"bframes={bframes}", "!", "h264parse", "!", "mp4mux", "!",
         "filesink", f"location={path}"], check=True)


def run_appsink(path, props):
    """decodebin ! upmbin PROPS ! appsink: [(pts, duration, stream_time,
    text)], [upm-result structures], error or None."""
    p = Gst.parse_launch(
        f'filesrc name=src ! decodebin ! video/x-raw ! videoconvert ! upmbin name=upm {props} ! '
        'appsink name=sink sync=false max-buffers=0')
    p.get_by_name("src").set_property("location", path)
    sink = p.get_by_name("sink")
    bus = p.get_bus()
    out, results, error = [], [], None
    p.set_state(Gst.State.PLAYING)
    while True:
        sample = sink.try_pull_sample(50 * Gst.MSECOND)
        if sample is not None:
            buf = sample.get_buffer()
            seg = sample.get_segment()
            ok, info = buf.map(Gst.MapFlags.READ)
            text = bytes(info.data).decode("utf-8", "replace") if ok else ""
            if ok:
                buf.unmap(info)
            out.append((buf.pts, buf.duration, seg.to_stream_time(Gst.Format.TIME, buf.pts), text))
            continue
        # (pop_filtered drops the messages of other types)
        while True:
            msg = bus.pop_filtered(Gst.MessageType.ERROR | Gst.MessageType.ELEMENT)
            if msg is None or msg.type == Gst.MessageType.ERROR:
                break
            s = msg.get_structure()
            if s is not None and s.get_name() == "upm-result":
                results.append(s.copy())
        if msg is not None:
            err, dbg = msg.parse_error()
            error = err.message
            break
        if sink.is_eos():
            break
    while True:
        msg = bus.pop_filtered(Gst.MessageType.ELEMENT)
        if msg is None:
            break
        s = msg.get_structure()
        if s is not None and s.get_name() == "upm-result":
            results.append(s.copy())
    p.set_state(Gst.State.NULL)
    return out, results, error


class WholePipeline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        Gst.init(None)
        for e in ("x264enc", "mp4mux", "upmbin"):
            if Gst.ElementFactory.find(e) is None:
                raise unittest.SkipTest(f"element {e} missing")
        cls.plain = os.path.join(TMP, "plain.mp4")
        cls.bframes = os.path.join(TMP, "bframes.mp4")
        make_mp4(cls.plain)
        make_mp4(cls.bframes, bframes=2)

    def check_times(self, out, results, shifted):
        self.assertEqual(len(out), 6, out)
        self.assertEqual(len(results), 6)
        for i, (pts, dur, stream, text) in enumerate(out):
            self.assertEqual(stream, i * CLIP, f"clip {i}: stream time")
            self.assertEqual(dur, CLIP, f"clip {i}: duration")
            if not shifted:
                self.assertEqual(pts, i * CLIP, f"clip {i}: PTS")
            s = results[i]
            self.assertEqual(s.get_uint64("pts")[1], pts, f"clip {i}: message pts")
            self.assertEqual(s.get_uint64("duration")[1], dur)
            self.assertEqual(s.get_uint64("running-time")[1], i * CLIP)

    def test_caption(self):
        out, results, error = run_appsink(self.plain, "task=caption")
        self.assertIsNone(error)
        self.check_times(out, results, False)
        for (pts, dur, stream, text), s in zip(out, results):
            self.assertTrue(text)
            self.assertEqual(s.get_string("task"), "caption")
            self.assertEqual(s.get_string("text"), text)

    def test_caption_edit_list(self):
        # x264enc bframes=2 ! mp4mux: the video starts at PTS 0.25 s, which
        # an edit list maps to stream time 0.
        out, results, error = run_appsink(self.bframes, "task=caption")
        self.assertIsNone(error)
        self.check_times(out, results, True)

    def test_classify_json(self):
        labels = ["a red ball", "a blue square", "noise"]
        out, results, error = run_appsink(
            self.plain, f'task=classify labels="{",".join(labels)}" top-k=2 text-format=json')
        self.assertIsNone(error)
        self.check_times(out, results, False)
        for pts, dur, stream, text in out:
            obj = json.loads(text)
            self.assertEqual(obj["pts"], pts)
            scores = obj["result"]["scores"]
            self.assertEqual(len(scores), 2)
            self.assertTrue(all(s["label"] in labels for s in scores))
            self.assertGreaterEqual(scores[0]["prob"], scores[1]["prob"])
            self.assertTrue(obj["routing"]["routes"])

    def test_missing_model(self):
        out, results, error = run_appsink(self.plain, f'model="{TMP}/nope.upm"')
        self.assertIsNotNone(error)
        self.assertIn('nope.upm" not found', error)


class PythonApp(unittest.TestCase):
    APP = os.path.join(ROOT, "examples", "upm_results.py")

    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.video = os.path.join(TMP, "app.mp4")
        make_mp4(cls.video, bframes=2)

    def run_app(self, *args, env=None):
        return subprocess.run([sys.executable, self.APP, *args], capture_output=True,
                              text=True, env=env, timeout=120)

    def test_caption(self):
        r = self.run_app(self.video)
        print(r.stdout, r.stderr)
        self.assertEqual(r.returncode, 0)
        lines = r.stdout.splitlines()
        spans = [re.match(r'^caption  (\S+) --> (\S+)  ".*" \(score -?\d+\.\d\d\)$', l) for l in lines[:-1]]
        self.assertTrue(all(spans), lines)
        self.assertEqual([m.group(1) for m in spans],
                         [f"00:00:0{i // 2}.{500 * (i % 2):03d}" for i in range(6)])
        self.assertEqual(lines[-1], "6 results")

    def test_classify(self):
        r = self.run_app("--task", "classify", "--labels", "up,down,left", "--top-k", "2", self.video)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 7)
        for l in lines[:-1]:
            self.assertRegex(l, r"^classify \S+ --> \S+  (up|down|left) [01]\.\d\d \| (up|down|left) [01]\.\d\d$")

    def test_live_test_source(self):
        r = self.run_app("--test-src", "--live", "--num-buffers", "8")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[-1], "2 results")

    def test_errors(self):
        r = self.run_app(os.path.join(TMP, "nope.mp4"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such file", r.stderr)
        env = dict(os.environ, UPM_DEFAULT_MODEL=os.path.join(TMP, "nope.upm"))
        r = self.run_app(self.video, env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn('nope.upm" not found', r.stderr)
        r = self.run_app("--task", "classify", self.video)
        self.assertEqual(r.returncode, 1)
        self.assertIn("No labels", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
