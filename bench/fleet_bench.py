#!/usr/bin/env python3
"""One upm-fleet process with N live RTSP cameras on the bundled model:
CPU, RSS, results/s, result latency (README "Fleets").

    /usr/bin/python3 bench/fleet_bench.py [--streams 1,4,16] [--task classify]
        [--seconds 30] [--build build] [--batch-wait US]
        [--publish mqtt [--qos 1]]

The cameras (96x72 MJPEG at 15 fps, 4-frame clips: 3.75 clips/s each) come
from one loopback RTSP server (tests/fleet/rtsp_server.py --mounts N);
results go to method=file so that no broker is measured. Each row: after
10 s of warm-up, the difference of two /metrics samples --seconds apart.

--publish mqtt publishes to a mosquitto of its own (127.0.0.1, a free port)
instead, and adds the publish latency at a subscriber: mosquitto_sub
(-F '%U %p') stamps each message's arrival; minus the result's wall-clock
time in the payload (time_us, taken when upmpublish builds the message),
p50 and p95 over the messages that arrived in the measured window.
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(url):
    with urllib.request.urlopen(url + "metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def total(m, prefix):
    return sum(v for k, v in m.items() if k.startswith(prefix + "{"))


def latency_quantile(m0, m1, q):
    buckets = {}
    for k, v in m1.items():
        mm = re.match(r'upm_fleet_result_latency_seconds_bucket\{.*le="([^"]+)"\}',
                      k)
        if mm:
            le = float("inf") if mm.group(1) == "+Inf" else float(mm.group(1))
            buckets[le] = buckets.get(le, 0) + v - m0.get(k, 0)
    n = buckets.get(float("inf"), 0)
    for le in sorted(buckets):
        if n and buckets[le] >= q * n:
            return le
    return float("nan")


def start_broker(work):
    """mosquitto on a free loopback port and a subscriber stamping arrivals;
    (broker, subscriber, port, path of the subscriber's output)."""
    port = free_port()
    conf = os.path.join(work, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\n"
                "max_queued_messages 100000\n" % port)
        if os.geteuid() == 0:
            f.write("user root\n")
    broker = subprocess.Popen(["mosquitto", "-c", conf],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    out = os.path.join(work, "arrivals-%d.txt" % port)
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p",
                            str(port), "-q", "1", "-t", "upm/#", "-F",
                            "%U %p"], stdout=open(out, "w"),
                           stderr=subprocess.DEVNULL, start_new_session=True)
    return broker, sub, port, out


def publish_latency(path, since, until):
    """p50, p95 (s) and count of arrival - time_us over the messages that
    arrived between the wall-clock times @since and @until."""
    lat = []
    with open(path) as f:
        for line in f:
            stamp, _, payload = line.partition(" ")
            try:
                arrived, r = float(stamp), json.loads(payload)
            except ValueError:
                continue
            if since <= arrived <= until and "time_us" in r:
                lat.append(arrived - r["time_us"] / 1e6)
    lat.sort()
    if not lat:
        return float("nan"), float("nan"), 0
    return (lat[len(lat) // 2], lat[min(len(lat) - 1, int(0.95 * len(lat)))],
            len(lat))


def stop_all(*procs):
    for p in procs:
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def run(args, n, work):
    port = free_port()
    server = subprocess.Popen([PY, os.path.join(SRC, "tests", "fleet",
                                                "rtsp_server.py"),
                               "--port", str(port), "--mounts", str(n)],
                              stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    fleet = broker = sub = None
    try:
        server.stdout.readline()
        if args.publish == "mqtt":
            broker, sub, mqtt_port, arrivals = start_broker(work)
        conf = os.path.join(work, "bench-%d.conf" % n)
        with open(conf, "w") as f:
            f.write("[model]\npath = %s\n" % os.path.join(
                SRC, "models", "uniperceiver-synth-moe.upm"))
            if args.batch_wait is not None:
                f.write("batch-wait = %d\n" % args.batch_wait)
            f.write("\n")
            if args.publish == "mqtt":
                f.write("[publish]\nmethod = mqtt\nuri = mqtt://127.0.0.1:%d"
                        "\ntopic = upm/${stream}/${task}\nqos = %d\n"
                        "client-id = bench-${stream}\n\n"
                        % (mqtt_port, args.qos))
            else:
                f.write("[publish]\nmethod = file\nlocation = %s\n\n"
                        % os.path.join(work, "results-%d.jsonl" % n))
            for i in range(n):
                f.write("[stream cam%d]\nuri = rtsp://127.0.0.1:%d/cam%d\n"
                        "task = %s\n" % (i, port, i, args.task))
                if args.task == "classify":
                    f.write("labels = a red circle,a blue square,a white "
                            "circle\n")
                f.write("\n")
        url_file = os.path.join(work, "url-%d" % n)
        env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(
            args.build, "plugins", "uniperceiver"))
        fleet = subprocess.Popen([os.path.join(args.build, "tools", "fleet",
                                               "upm-fleet"), "-c", conf,
                                  "--http", "127.0.0.1:0", "--url-file",
                                  url_file], env=env,
                                 stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(url_file) and time.monotonic() < deadline:
            time.sleep(0.2)
        url = open(url_file).read().strip()
        time.sleep(10)
        m0, t0, w0 = metrics(url), time.monotonic(), time.time()
        time.sleep(args.seconds)
        m1, t1, w1 = metrics(url), time.monotonic(), time.time()
        wall = t1 - t0
        res = (total(m1, "upm_fleet_clips_total")
               - total(m0, "upm_fleet_clips_total")) / wall
        cpu = (m1["process_cpu_seconds_total"]
               - m0["process_cpu_seconds_total"]) / wall
        drops = (total(m1, "upm_fleet_clips_dropped_total")
                 - total(m0, "upm_fleet_clips_dropped_total"))
        pub = ""
        if args.publish == "mqtt":
            time.sleep(2)  # the window's last messages reach the subscriber
            p50, p95, count = publish_latency(arrivals, w0, w1)
            pub = " %.1f / %.1f ms (%d msgs) |" % (p50 * 1e3, p95 * 1e3,
                                                    count)
        print("| %d | %s%s | %.1f (%.2f per stream) | %.2f | %.0f MB | "
              "%.3g / %.3g s | %d |%s" % (
                  n, args.task, "" if args.batch_wait is None else
                  ", batch-wait %d" % args.batch_wait, res, res / n, cpu,
                  m1["process_resident_memory_bytes"] / 2**20,
                  latency_quantile(m0, m1, 0.5),
                  latency_quantile(m0, m1, 0.95), drops, pub), flush=True)
    finally:
        stop_all(fleet, server, sub, broker)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", default="1,4,16")
    ap.add_argument("--task", default="classify")
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--batch-wait", type=int, default=None,
                    help="[model] batch-wait in µs (default: the elements')")
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--publish", choices=["file", "mqtt"], default="file")
    ap.add_argument("--qos", type=int, default=1, help="with --publish mqtt")
    args = ap.parse_args()
    mqtt = args.publish == "mqtt"
    print("| streams | task | results/s | CPU cores | RSS | latency p50 / "
          "p95 (bucket bound) | dropped |%s" % (
              " publish latency p50 / p95 at the subscriber |" if mqtt
              else ""))
    print("|---|---|---|---|---|---|---|%s" % ("---|" if mqtt else ""))
    with tempfile.TemporaryDirectory() as work:
        for n in [int(x) for x in args.streams.split(",")]:
            run(args, n, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
