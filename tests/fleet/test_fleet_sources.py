#!/usr/bin/env python3
"""upm-fleet with a file and an HTTP camera (no broker): every clip of each
becomes one JSON line of upmpublish method=file, each stream finishes at
its end (on-eos=stop), the metrics count what the file holds, and SIGTERM
exits 0. Loopback only; every wait bounded."""
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SRC = os.environ["UPM_SOURCE_ROOT"]
BUILD = os.environ["UPM_BUILD_ROOT"]
FLEET = os.path.join(BUILD, "tools", "fleet", "upm-fleet")
MODEL = os.path.join(SRC, "models", "uniperceiver-synth-moe.upm")
FRAMES = 48  # 12 clips of 4 frames


def fail(msg):
    print("not ok - " + msg, flush=True)
    raise SystemExit(1)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory):
    handler = lambda *a, **kw: Quiet(*a, directory=directory, **kw)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def run(work):
    video = os.path.join(work, "clip.avi")
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc",
                    "num-buffers=%d" % FRAMES, "pattern=ball", "!",
                    "video/x-raw,width=96,height=72,framerate=15/1", "!",
                    "jpegenc", "!", "avimux", "!", "filesink",
                    "location=" + video], check=True, timeout=120)
    httpd = serve(work)
    out = os.path.join(work, "results.jsonl")
    conf = os.path.join(work, "fleet.conf")
    with open(conf, "w") as f:
        f.write("[model]\npath = %s\n\n[publish]\nmethod = file\n"
                "location = %s\n\n" % (MODEL, out))
        f.write("[stream disk]\nuri = clip.avi\ntask = caption\n\n")
        f.write("[stream web]\nuri = http://127.0.0.1:%d/clip.avi\n"
                "live = false\non-eos = stop\ntask = classify\n"
                "labels = a white circle,a red square\n" % httpd.server_port)
    url_file = os.path.join(work, "url")
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(
        BUILD, "plugins", "uniperceiver"))
    log = open(os.path.join(work, "fleet.log"), "w")
    p = subprocess.Popen([FLEET, "-c", conf, "--http", "127.0.0.1:0",
                          "--url-file", url_file], env=env, stdout=log,
                         stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        states = {}
        while time.monotonic() < deadline:
            if os.path.exists(url_file):
                url = open(url_file).read().strip()
                s = json.loads(get(url + "status.json"))
                states = {x["name"]: x for x in s["streams"]}
                if all(x["state"] == "finished" for x in states.values()):
                    break
            if p.poll() is not None:
                fail("upm-fleet exited %d" % p.returncode)
            time.sleep(0.3)
        else:
            fail("streams not finished in 120 s: %s" % states)
        print("ok - both streams finished")
        metrics = get(url + "metrics")
        lines = [json.loads(x) for x in open(out) if x.strip()]
        for name in ("disk", "web"):
            mine = [x for x in lines if x["stream"] == name]
            m = re.search(r'^upm_fleet_clips_total\{stream="%s"\} (\d+)$'
                          % name, metrics, re.M)
            clips = int(m.group(1))
            if clips != FRAMES // 4 or len(mine) != clips:
                fail("%s: %d clips, %d lines, want %d" % (
                    name, clips, len(mine), FRAMES // 4))
            if [x["seq"] for x in mine] != list(range(clips)):
                fail("%s: seq %s" % (name, [x["seq"] for x in mine]))
            task = "caption" if name == "disk" else "classify"
            if any(x["task"] != task for x in mine):
                fail("%s: task not %s" % (name, task))
            if not states[name]["last"]:
                fail("%s: no last result on the status page" % name)
            print("ok - %s: %d clips, %d lines in order, last %r" % (
                name, clips, len(mine), states[name]["last"]))
        if 'upm_fleet_result_latency_seconds_count{stream="web"} 12' \
                not in metrics:
            fail("latency histogram count of web")
        print("ok - latency histogram counts every result")
        for path, method, want in (("nope", "GET", 404),
                                   ("metrics", "POST", 405),
                                   ("healthz", "GET", 200)):
            req = urllib.request.Request(url + path, method=method,
                                         data=b"x" if method == "POST"
                                         else None)
            try:
                code = urllib.request.urlopen(req, timeout=10).status
            except urllib.error.HTTPError as e:
                code = e.code
            if code != want:
                fail("%s /%s: %d, want %d" % (method, path, code, want))
        print("ok - /nope 404, POST 405, /healthz 200")
        # a broken file on SIGHUP: refused with the reason, streams kept
        with open(conf, "a") as f:
            f.write("\n[stream bad]\nuri = clip.avi\nno-such-key = 1\n")
        p.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            log.flush()
            text = open(os.path.join(work, "fleet.log")).read()
            if "keeping the running configuration" in text:
                break
            time.sleep(0.2)
        else:
            fail("no reload warning for a broken file")
        if "no-such-key" not in text or p.poll() is not None:
            fail("reload of a broken file: %s" % text[-500:])
        names = [x["name"] for x in json.loads(get(url + "status.json"))[
            "streams"]]
        if names != ["disk", "web"]:
            fail("after a refused reload the streams are %s" % names)
        print("ok - a broken file on SIGHUP is refused, the streams kept")
        p.send_signal(signal.SIGTERM)
        rc = p.wait(60)
        if rc != 0:
            fail("SIGTERM: exit %d" % rc)
        print("ok - SIGTERM: exit 0")
        print("1..7")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
        httpd.shutdown()


def main():
    work = tempfile.mkdtemp(prefix="upm-fleet-sources-")
    try:
        run(work)
    except BaseException:
        print("# logs kept in " + work)
        with open(os.path.join(work, "fleet.log")) as f:
            print("# " + f.read()[-3000:].replace("\n", "\n# "))
        raise
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
