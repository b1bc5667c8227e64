#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Two builds of the C engine side by side, in one run, on the same models.

    bench/compare.py OLD_BUILD NEW_BUILD MODEL.upm [MODEL.upm ...]
                     [--rounds 3] [--runs 3] [--threads 0]

Runs `upm-bench model` of each build in alternating rounds (old, new, new,
old, ...) so that drift of a shared, noisy machine falls on both alike, and
prints per model and timed row the median over rounds of each build's median
and the ratio new/old. Use it to show that a change left the engine's speed
as it was (or what it gained); the vocabulary caches must be warm
(`upm-bench vocab MODEL` once, with the same XDG_CACHE_HOME).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def bench_once(build, model, runs, threads):
    cmd = [os.path.join(build, "bench", "upm-bench"), "model", model,
           "--runs", str(runs), "--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def timed_rows(result):
    """The rows of one result that are times in seconds."""
    return {k: v for k, v in result.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            and (k.endswith("_s") or k.endswith("seconds"))}


def same_outputs(old, new):
    """Caption ids equal, and the largest feature difference."""
    ids = all(old.get(k) == new.get(k) for k in ("caption_image", "caption_clip"))
    diff = max((abs(a - b) for k in ("feature_image", "feature_clip")
                for a, b in zip(old.get(k, []), new.get(k, []))), default=0.0)
    return "captions %s, features max diff %.2g" % ("equal" if ids else "DIFFER", diff)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()

    print("| model | row | old (s) | new (s) | new/old |")
    print("|---|---|---|---|---|")
    for model in a.models:
        times = {"old": {}, "new": {}}
        levels, outputs = {}, {}
        for r in range(a.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for which in order:
                res = bench_once(getattr(a, which), model, a.runs, a.threads)
                levels[which] = res.get("kernels", "-")
                outputs[which] = res
                for k, v in timed_rows(res).items():
                    times[which].setdefault(k, []).append(v)
        name = os.path.basename(model)
        for k in sorted(times["new"]):
            if k not in times["old"]:
                continue
            o = statistics.median(times["old"][k])
            n = statistics.median(times["new"][k])
            print("| %s | %s | %.4f | %.4f | %.3f |" % (name, k, o, n, n / o if o else float("nan")))
        print("| %s | kernels | %s | %s | |" % (name, levels.get("old"), levels.get("new")))
        print("| %s | outputs | %s | | |" % (name, same_outputs(outputs["old"], outputs["new"])))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
