#!/usr/bin/env python3
"""upm-fleet --check: the configuration file's errors name what to fix, and
--shard splits a list as the documented hash says (SHA-256 of the name,
first 8 bytes big-endian, mod N)."""
import hashlib
import os
import subprocess
import sys
import tempfile

SRC = os.environ["UPM_SOURCE_ROOT"]
BUILD = os.environ["UPM_BUILD_ROOT"]
FLEET = os.path.join(BUILD, "tools", "fleet", "upm-fleet")
MODEL = os.path.join(SRC, "models", "uniperceiver-synth-moe.upm")
ENV = dict(os.environ, GST_PLUGIN_PATH=os.path.join(BUILD, "plugins",
                                                     "uniperceiver"))
GOOD = "[model]\npath = %s\n" % MODEL
failures = 0
count = 0


def check(text, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write(text)
        f.flush()
        return subprocess.run([FLEET, "--config", f.name, "--check"]
                              + list(args), capture_output=True, text=True,
                              timeout=120, env=ENV)


def expect_error(name, text, *words):
    global failures, count
    count += 1
    r = check(text)
    ok = r.returncode != 0 and all(w in r.stderr for w in words)
    print("%s - %s%s" % ("ok" if ok else "not ok", name,
                         "" if ok else ": rc %d, %r" % (r.returncode,
                                                        r.stderr)))
    failures += not ok


def shard(name, n):
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8],
                          "big") % n


def main():
    global failures, count
    expect_error("no [model]", "[stream a]\nuri = rtsp://h/x\n", "[model]",
                 "path")
    expect_error("missing model file", "[model]\npath = /nonexistent.upm\n",
                 "[model] path", "/nonexistent.upm")
    expect_error("stream without uri", GOOD + "[stream a]\ntask = caption\n",
                 "[stream a]", "uri")
    expect_error("unknown upmbin key", GOOD +
                 "[stream a]\nuri = rtsp://h/x\ntaks = caption\n",
                 "taks", "upmbin")
    expect_error("unknown publish key", GOOD +
                 "[stream a]\nuri = rtsp://h/x\npublish.methd = file\n",
                 "methd", "upmpublish")
    expect_error("bad seconds", GOOD +
                 "[stream a]\nuri = rtsp://h/x\nreconnect-max = soon\n",
                 "reconnect-max", "seconds")
    expect_error("bad on-eos", GOOD +
                 "[stream a]\nuri = rtsp://h/x\non-eos = loop\n",
                 "on-eos", "restart")
    expect_error("unknown group", GOOD + "[streams a]\nuri = x\n",
                 "[streams a]", "[stream NAME]")
    expect_error("bad http", GOOD + "[fleet]\nhttp = localhost\n", "IP:PORT")

    r = subprocess.run([FLEET, "--config", "/dev/null", "--shard", "2/2"],
                       capture_output=True, text=True, timeout=60, env=ENV)
    ok = r.returncode == 2 and "I/N" in r.stderr
    print("%s - --shard 2/2 refused" % ("ok" if ok else "not ok"))
    count += 1
    failures += not ok

    names = ["camera-%03d" % i for i in range(60)]
    text = GOOD + "".join("[stream %s]\nuri = rtsp://127.0.0.1/%s\n\n"
                          % (n, n) for n in names)
    for n_shards in (2, 3, 7):
        seen = {}
        for i in range(n_shards):
            r = check(text, "--shard", "%d/%d" % (i, n_shards))
            for line in r.stdout.splitlines():
                name, where, here = line.split("\t")
                if here == "here":
                    seen.setdefault(name, []).append(i)
                if where != "shard %d/%d" % (shard(name, n_shards),
                                              n_shards):
                    print("not ok - %s: %s, want shard %d" % (
                        name, where, shard(name, n_shards)))
                    failures += 1
        ok = (sorted(seen) == sorted(names)
              and all(v == [shard(k, n_shards)] for k, v in seen.items()))
        sizes = [sum(1 for v in seen.values() if v == [i])
                 for i in range(n_shards)]
        print("%s - %d shards: every stream once, sizes %s" % (
            "ok" if ok else "not ok", n_shards, sizes))
        failures += not ok
        count += 1
    print("1..%d" % count)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
