#!/usr/bin/python3
# upmpublish after upmbin (the random-weight fixture model) in whole
# pipelines: method=file messages follow docs/publish-schema.json and hold
# every member of upmbin text-format=json's output (its readers keep
# working); method=mqtt to a mosquitto of the test's own (127.0.0.1, a free
# port) read back by mosquitto_sub: every clip, in order, unique ids.
# Exit 77 (skip) without gst-launch-1.0, mosquitto, mosquitto_sub or
# python3-jsonschema. Every wait is bounded; the broker is stopped on every
# exit path.
# SPDX-License-Identifier: LGPL-2.1-or-later
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.environ.get("UPM_SOURCE_ROOT", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
MOSQUITTO = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
SUB = shutil.which("mosquitto_sub")
try:
    import jsonschema
except ImportError:
    jsonschema = None

if not shutil.which("gst-launch-1.0") or not MOSQUITTO or not SUB or jsonschema is None:
    print("SKIP: needs gst-launch-1.0, mosquitto, mosquitto-clients and python3-jsonschema")
    sys.exit(77)

FRAMES = 24  # 6 clips of 4 frames at 8 fps (the fixture model's clip)
SOURCE = (f"videotestsrc num-buffers={FRAMES} pattern=ball ! "
          "video/x-raw,width=64,height=64,framerate=8/1 ! videoconvert")
TIMEOUT = 240  # a pipeline on a loaded 2-core machine


def launch(pipeline, env=None):
    return subprocess.run(["gst-launch-1.0", "-q"] + pipeline.split(), check=True,
                          timeout=TIMEOUT, env=env, capture_output=True, text=True)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_objects(path):
    """JSON objects one after the other (text-format=json into a filesink)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    dec, objs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        obj, i = dec.raw_decode(text, i)
        objs.append(obj)
    return objs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """mosquitto on 127.0.0.1:port with a generated config, for a with."""

    def __init__(self, tmp):
        self.port = free_port()
        self.conf = os.path.join(tmp, "mosquitto.conf")
        user = "user root\n" if os.getuid() == 0 else ""
        with open(self.conf, "w") as f:
            f.write(f"{user}listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("mosquitto did not listen")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


class PublishTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="upm-publish-")
        with open(os.path.join(ROOT, "docs", "publish-schema.json"), encoding="utf-8") as f:
            self.schema = json.load(f)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def check_file(self, task, extra):
        published = os.path.join(self.tmp, f"{task}.jsonl")
        plain = os.path.join(self.tmp, f"{task}-plain.jsonl")
        launch(f"{SOURCE} ! upmbin task={task} {extra} ! upmpublish method=file "
               f"location={published} stream-id=cam1 model-id=sha256:00ff ! fakesink")
        launch(f"{SOURCE} ! upmbin task={task} {extra} text-format=json ! "
               f"filesink location={plain}")
        msgs, metas = read_lines(published), read_objects(plain)
        self.assertEqual(len(msgs), FRAMES // 4)
        self.assertEqual(len(metas), len(msgs))
        ids = set()
        for i, (m, old) in enumerate(zip(msgs, metas)):
            jsonschema.validate(m, self.schema)
            self.assertEqual((m["stream"], m["seq"], m["task"]), ("cam1", i, task))
            self.assertEqual(m["model"]["id"], "sha256:00ff")
            self.assertEqual(m["pts"], i * 500_000_000)
            ids.add(m["id"])
            # every member of the metas JSON is there, unchanged (apart from
            # the numbers of the run itself: the same model, the same input)
            for key, value in old.items():
                self.assertIn(key, m)
                self.assertEqual(m[key], value, key)
        self.assertEqual(len(ids), len(msgs))
        return msgs

    def test_file_caption(self):
        msgs = self.check_file("caption", "")
        self.assertTrue(all(m["text"] == m["caption"]["text"] for m in msgs))
        self.assertTrue(all(m["routing_summary"]["experts"] == 8 for m in msgs))

    def test_file_classify(self):
        msgs = self.check_file("classify", "labels=left,right,up,down")
        for m in msgs:
            self.assertEqual(m["text"], m["result"]["scores"][0]["label"])
            self.assertIn(m["text"], ("left", "right", "up", "down"))

    def test_mqtt_in_order(self):
        n = FRAMES // 4
        with Broker(self.tmp) as broker:
            # -d: the SUBACK says when it listens; message lines start with
            # the topic
            # (stdbuf: mosquitto_sub does not flush its debug lines into a pipe)
            sub = subprocess.Popen(["stdbuf", "-oL", SUB, "-d", "-h", "127.0.0.1", "-p", str(broker.port),
                                    "-q", "2", "-t", "site/#", "-v", "-C", str(n), "-W", "120"],
                                   stdout=subprocess.PIPE, text=True)
            lines = []
            reader = threading.Thread(target=lambda: lines.extend(sub.stdout), daemon=True)
            try:
                reader.start()
                end = time.monotonic() + 30
                while not any("SUBACK" in line for line in list(lines)):
                    self.assertLess(time.monotonic(), end, "mosquitto_sub did not subscribe")
                    time.sleep(0.05)
                launch(f"{SOURCE} ! upmbin task=caption ! upmpublish "
                       f"uri=mqtt://127.0.0.1:{broker.port} qos=2 mqtt-version=5 "
                       "stream-id=cam7 topic=site/${stream}/${task} ! fakesink")
                sub.wait(timeout=130)
                reader.join(timeout=10)
            finally:
                if sub.poll() is None:
                    sub.kill()
                    sub.wait(timeout=10)
                reader.join(timeout=10)
                sub.stdout.close()
        msgs = []
        for line in lines:
            if line.startswith("site/"):
                topic, payload = line.rstrip("\n").split(" ", 1)
                self.assertEqual(topic, "site/cam7/caption")
                msgs.append(json.loads(payload))
        self.assertEqual(len(msgs), n)
        for m in msgs:
            jsonschema.validate(m, self.schema)
        self.assertEqual([m["seq"] for m in msgs], list(range(n)))
        self.assertEqual(len({m["id"] for m in msgs}), n)


if __name__ == "__main__":
    unittest.main(verbosity=2)
