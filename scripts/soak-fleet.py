#!/usr/bin/python3
# Endurance of upm-fleet (issue 22, item 5): one process, N live RTSP cameras
# of the bundled model publishing at QoS 1 to a mosquitto of its own
# (127.0.0.1, free ports) that is restarted every --broker-every seconds,
# while one camera after the other is restarted every --camera-every seconds.
# usage: scripts/soak-fleet.py [--duration 3600] [--broker-every 600]
#            [--camera-every 300] [--streams 16] [--warmup 300]
#            [--sample 10] [--build build] [--json OUT] [--keep DIR]
# Checks, exit status 0 when all pass:
#  * RSS flat after warm-up: the fleet's resident set is sampled every
#    --sample s from /proc; over the samples after --warmup s, the median of
#    the last quarter may exceed the median of the first quarter by at most
#    --rss-tolerance (5 %) or --rss-slack MB (4), whichever is larger. The
#    least-squares slope (MB/h) is reported as well.
#  * Nothing lost beyond what the fleet reports: at the end (SIGTERM, the
#    outboxes flushed) each stream's totals line gives clips, published
#    (acknowledged by the broker) and publish-dropped (outbox overflow,
#    refusals, and results still undelivered when a stream's pipeline
#    stopped: at the end, or at a restart after a lost camera); the
#    subscriber (QoS 2, persistent session on a broker with persistence)
#    must have received at least `published` distinct ids of that stream,
#    and clips - received must equal publish-dropped. Each stream
#    session's seq numbers arrive in order, and a duplicate (QoS 1) has the
#    id and content of the first copy.
# The servers and the subscriber are those of tests/fleet/test_fleet.py.
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Endurance run of upm-fleet: RSS over time, every published result kept."""
import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=3600)
    ap.add_argument("--broker-every", type=float, default=600)
    ap.add_argument("--broker-down", type=float, default=5,
                    help="seconds the broker stays away at each restart")
    ap.add_argument("--camera-every", type=float, default=300)
    ap.add_argument("--camera-down", type=float, default=3)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--warmup", type=float, default=300)
    ap.add_argument("--sample", type=float, default=10)
    ap.add_argument("--rss-tolerance", type=float, default=0.05)
    ap.add_argument("--rss-slack", type=float, default=4.0, help="MB")
    ap.add_argument("--outbox-size", type=int, default=10000)
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--json", help="write the samples and totals here")
    ap.add_argument("--keep", help="work directory to keep (logs, payloads)")
    return ap.parse_args()


ARGS = parse_args()
os.environ["UPM_BUILD_ROOT"] = os.path.abspath(ARGS.build)
os.environ["UPM_SOURCE_ROOT"] = REPO
sys.path.insert(0, os.path.join(REPO, "tests", "fleet"))
import test_fleet as tf  # noqa: E402  (after UPM_BUILD_ROOT is set)

LABELS = "a red circle,a blue square,a white circle,a green triangle"
PATTERNS = ["ball", "smpte", "snow", "circular"]


def write_config(path, mqtt_port, cams):
    lines = ["[fleet]", "stop-timeout = 60", "",
             "[model]", "path = %s" % tf.MODEL, "",
             "[publish]", "method = mqtt",
             "uri = mqtt://127.0.0.1:%d" % mqtt_port,
             "topic = upm/${stream}/${task}", "qos = 1",
             "outbox-size = %d" % ARGS.outbox_size,
             "flush-timeout = 30000", "max-backoff = 1000",
             "client-id = soak-${stream}", ""]
    for name, port in cams:
        lines += ["[stream %s]" % name,
                  "uri = rtsp://127.0.0.1:%d/cam" % port,
                  "task = classify", "labels = " + LABELS, "top-k = 2",
                  "stall-timeout = 4", "reconnect-min = 0.3",
                  "reconnect-max = 2", "max-pending = 8", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def metrics_text(fleet):
    """The fleet's /metrics once (None when it does not answer)."""
    try:
        return tf.http_get(fleet.url + "metrics")[1]
    except OSError:
        return None


def metrics_sum(text, name):
    if text is None:
        return None
    return sum(float(m.group(1)) for m in re.finditer(
        r"^%s\{[^}]*\} (\S+)$" % name, text, re.M))


def metric_mb(text, name):
    """An unlabelled gauge of the process (bytes), in MB; None if absent."""
    m = re.search(r"^%s (\S+)$" % name, text, re.M) if text is not None else None
    return float(m.group(1)) / 2**20 if m else None


def slope_mb_per_h(samples):
    n = len(samples)
    if n < 2:
        return float("nan")
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    cov = sum((t - mt) * (r - mr) for t, r in samples)
    return cov / var * 3600 if var else float("nan")


def check_rss(samples):
    """@samples: (seconds since start, MB). Returns (ok, summary dict)."""
    after = [s for s in samples if s[0] >= ARGS.warmup]
    if len(after) < 8:
        tf.fail("only %d RSS samples after the warm-up" % len(after))
    q = max(2, len(after) // 4)
    first = statistics.median(r for _, r in after[:q])
    last = statistics.median(r for _, r in after[-q:])
    bound = max(first * ARGS.rss_tolerance, ARGS.rss_slack)
    out = {"samples_after_warmup": len(after), "first_quarter_mb": first,
           "last_quarter_mb": last, "growth_mb": last - first,
           "bound_mb": bound, "slope_mb_per_h": slope_mb_per_h(after),
           "min_mb": min(r for _, r in after),
           "max_mb": max(r for _, r in after)}
    return last - first <= bound, out


def undelivered(fleet_log):
    """Results upmpublish said it could not deliver at EOS, per stream."""
    out = {}
    for m in re.finditer(r"stream (\S+): warning from .*?(\d+) results not "
                         r"delivered within flush-timeout", fleet_log):
        out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
    return out


def check_delivery(results, totals, lost_at_stop):
    streams = tf.by_stream(results)
    report, ok = {}, True
    for name, t in sorted(totals.items()):
        got = streams.get(name, [])
        first = {}
        for r in got:
            twin = first.setdefault(r["id"], r)
            if twin["seq"] != r["seq"] or twin["time_us"] != r["time_us"]:
                tf.fail("stream %s: id %s reused for another result"
                        % (name, r["id"]))
        sessions = {}
        for r in got:
            s = sessions.setdefault(r["session"], [])
            if r["seq"] not in s:
                s.append(r["seq"])
        order_ok = all(s == sorted(s) for s in sessions.values())
        received = len(first)
        missing = t["clips"] - received
        # publish-dropped counts what the outbox gave up, including what was
        # left undelivered at a stop (lost_at_stop: what the warnings of the
        # final flush said, for the report)
        accounted = t["publish_dropped"]
        s_ok = (order_ok and received >= t["published"]
                and missing == accounted)
        ok = ok and s_ok
        report[name] = dict(t, received=received, duplicates=len(got)
                            - received, sessions=len(sessions),
                            missing=missing, accounted=accounted,
                            warned_at_stop=lost_at_stop.get(name, 0),
                            in_order=order_ok, ok=s_ok)
        tf.log("stream %s: clips %d, published %d, received %d (+%d dup), "
               "missing %d, accounted %d (outbox dropped %d), head-dropped "
               "%d, %d sessions%s" % (
                   name, t["clips"], t["published"], received,
                   len(got) - received, missing, accounted,
                   t["publish_dropped"], t.get("head_dropped", 0),
                   len(sessions), "" if s_ok else "  <-- FAIL"))
    return ok, report


def stop_totals(text):
    out = tf.stop_totals(text)
    for m in re.finditer(r"stream (\S+) stopped: .*head-dropped (\d+)", text):
        out[m.group(1)]["head_dropped"] = int(m.group(2))
    return out


def soak(work):
    mqtt = tf.free_port()
    broker = tf.start_broker(work, mqtt)
    sub = tf.Subscriber(work, mqtt)
    sub.ready()
    cams = [("soak%02d" % i, tf.free_port()) for i in range(ARGS.streams)]
    servers = {n: tf.start_camera(work, n, p, PATTERNS[i % len(PATTERNS)])
               for i, (n, p) in enumerate(cams)}
    conf = os.path.join(work, "soak.conf")
    write_config(conf, mqtt, cams)
    fleet = tf.start_fleet(work, conf, "0/1")
    t0 = time.monotonic()
    next_broker = ARGS.broker_every
    next_camera = ARGS.camera_every
    cam_turn = 0
    samples, heap_samples, events = [], [], []
    while True:
        now = time.monotonic() - t0
        if now >= ARGS.duration:
            break
        if fleet.poll() is not None:
            tf.fail("upm-fleet exited (%s) after %.0f s:\n%s" % (
                fleet.returncode, now, tf.read_log(fleet)[-3000:]))
        rss = rss_mb(fleet.pid)
        samples.append((now, rss))
        # malloc's own view: live heap vs free bytes it keeps (growth of
        # the first is live data, of the second fragmentation)
        text = metrics_text(fleet)
        heap = (metric_mb(text, "upm_fleet_heap_allocated_bytes"),
                metric_mb(text, "upm_fleet_heap_free_bytes"))
        heap_samples.append((now,) + heap)
        tf.log("t=%4.0f s RSS %.1f MB heap %s MB (free %s MB) clips %s "
               "published %s outbox %s" % (
            now, rss, "%.1f" % heap[0] if heap[0] is not None else "?",
            "%.1f" % heap[1] if heap[1] is not None else "?",
            metrics_sum(text, "upm_fleet_clips_total"),
            metrics_sum(text, "upm_fleet_published_total"),
            metrics_sum(text, "upm_fleet_outbox_depth")))
        if now >= next_broker:
            tf.log("restarting the broker (%.0f s away)" % ARGS.broker_down)
            tf.stop(broker)
            time.sleep(ARGS.broker_down)
            broker = tf.start_broker(work, mqtt)
            events.append((now, "broker"))
            next_broker += ARGS.broker_every
        if now >= next_camera:
            name, port = cams[cam_turn % len(cams)]
            tf.log("restarting camera %s" % name)
            tf.stop(servers[name])
            time.sleep(ARGS.camera_down)
            servers[name] = tf.start_camera(
                work, name, port, PATTERNS[cam_turn % len(PATTERNS)])
            events.append((now, "camera " + name))
            cam_turn += 1
            next_camera += ARGS.camera_every
        time.sleep(max(0.0, ARGS.sample - (time.monotonic() - t0 - now)))

    tf.log("stopping upm-fleet (SIGTERM: outboxes flushed)")
    code = tf.stop(fleet, timeout=120)
    text = tf.read_log(fleet)
    totals = stop_totals(text)
    if code != 0 or len(totals) != ARGS.streams:
        tf.fail("upm-fleet exit %s, %d totals lines:\n%s" % (
            code, len(totals), text[-3000:]))
    published = sum(t["published"] for t in totals.values())
    tf.wait_for("the subscriber to receive %d results" % published,
                lambda: len({r["id"] for r in sub.results()}) >= published,
                120, step=1)
    time.sleep(2)  # stragglers beyond the published ones (acks lost)
    results = sub.results()
    tf.stop(sub.proc)
    tf.stop(broker)
    rss_ok, rss = check_rss(samples)
    tf.log("RSS after %.0f s warm-up: first quarter %.1f MB, last quarter "
           "%.1f MB (growth %.1f MB, bound %.1f MB), range %.1f-%.1f MB, "
           "slope %.1f MB/h: %s" % (
               ARGS.warmup, rss["first_quarter_mb"], rss["last_quarter_mb"],
               rss["growth_mb"], rss["bound_mb"], rss["min_mb"],
               rss["max_mb"], rss["slope_mb_per_h"],
               "flat" if rss_ok else "GROWING"))
    heap_after = [h for h in heap_samples if h[0] >= ARGS.warmup and h[1] is not None]
    if len(heap_after) >= 8:
        q = len(heap_after) // 4
        tf.log("malloc heap after the warm-up: allocated %.1f -> %.1f MB, "
               "free in the arenas %.1f -> %.1f MB (medians of the first and "
               "last quarter)" % (
                   statistics.median(h[1] for h in heap_after[:q]),
                   statistics.median(h[1] for h in heap_after[-q:]),
                   statistics.median(h[2] for h in heap_after[:q]),
                   statistics.median(h[2] for h in heap_after[-q:])))
    del_ok, report = check_delivery(results, totals, undelivered(text))
    sums = {k: sum(r[k] for r in report.values())
            for k in ("clips", "published", "received", "duplicates",
                      "missing", "accounted", "publish_dropped")}
    sums["head_dropped"] = sum(t.get("head_dropped", 0)
                               for t in totals.values())
    tf.log("all streams: %s; %d broker and %d camera restarts" % (
        ", ".join("%s %d" % kv for kv in sums.items()),
        sum(1 for _, e in events if e == "broker"),
        sum(1 for _, e in events if e != "broker")))
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump({"args": vars(ARGS), "rss_samples": samples,
                       "heap_samples": heap_samples,
                       "rss": rss, "events": events, "streams": report,
                       "sums": sums}, f, indent=1)
    if not rss_ok:
        tf.fail("RSS grew after the warm-up")
    if not del_ok:
        tf.fail("results lost beyond what the fleet reports")
    tf.log("PASS")


def main():
    for tool in ("mosquitto", "mosquitto_sub"):
        if not tf.shutil.which(tool):
            print("needs %s (scripts/deps.sh test)" % tool)
            return 77
    if not os.path.exists(tf.FLEET):
        print("no %s: build upm-fleet first" % tf.FLEET)
        return 77
    if ARGS.keep:
        os.makedirs(ARGS.keep, exist_ok=True)
    work = ARGS.keep or tempfile.mkdtemp(prefix="soak-fleet-")
    try:
        soak(work)
    finally:
        tf.stop_all()
        if not ARGS.keep:
            tf.shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
