#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generate the benchmark models once: random official state dicts
(tools/reference.random_state_dict) converted with tools/convert.py.

    bench/make_models.py [--size base|small] [--out bench/models] [--force]

Writes <out>/<size>-dense.upm, <out>/<size>-moe.upm (MoE: 8 experts, top-2,
in the odd layers, attribute routing) and <out>/<size>-token.upm (the same
MoE layers with token-level routing, for the dispatch row) and a .json sidecar per model holding the generator
arguments, so bench/torch_bench.py rebuilds the identical float32 weights
without a second multi-GB file.  Existing models are kept unless --force.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))

# Base: ViT-B/16 shapes; small: for development and CI (D <= 256).
SIZES = {
    "base": dict(D=768, layers=12, heads=12, ffn=3072),
    "small": dict(D=256, layers=4, heads=4, ffn=1024),
}
VOCAB = 49411          # CLIP BPE: 512 byte symbols + 48,894 merges + 5 specials
PATCH, GRID, TEMPORAL, CTX = 16, 14, 8, 77
SEEDS = {"dense": 1001, "moe": 1002, "token": 1003}
KINDS = ("dense", "moe", "token")   # token: token-level routing (dynamic dispatch)


def generator_args(size, kind):
    s = SIZES[size]
    moe_layers = list(range(1, s["layers"], 2)) if kind != "dense" else []
    gen = dict(D=s["D"], layers=s["layers"], heads=s["heads"], ffn=s["ffn"], vocab=VOCAB,
               patch=PATCH, grid=GRID, temporal=TEMPORAL, moe_layers=moe_layers,
               seed=SEEDS[kind], ctx=CTX, n_experts=8)
    if kind == "token":
        gen["routing"] = "token"
    return gen


def state_dict(args):
    from reference import random_state_dict
    a = dict(args)
    a["moe_layers"] = tuple(a["moe_layers"])
    return random_state_dict(**a)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="base")
    ap.add_argument("--out", default=os.path.join(HERE, "models"))
    ap.add_argument("--force", action="store_true", help="regenerate existing models")
    args = ap.parse_args(argv)

    from convert import convert_state_dict
    os.makedirs(args.out, exist_ok=True)
    for kind in KINDS:
        path = os.path.join(args.out, "%s-%s.upm" % (args.size, kind))
        side = path + ".json"
        gen = generator_args(args.size, kind)
        if os.path.exists(path) and os.path.exists(side) and not args.force:
            with open(side) as f:
                if json.load(f).get("generator") == gen:
                    print("%s: up to date" % path)
                    continue
        t0 = time.time()
        sd = state_dict(gen)
        convert_state_dict(sd, path + ".tmp", heads=gen["heads"], name="bench-%s-%s" % (args.size, kind),
                           clip_frames=TEMPORAL, log=lambda *a: None,
                           routing=gen.get("routing", "attribute"))
        os.replace(path + ".tmp", path)
        with open(side, "w") as f:
            json.dump({"generator": gen, "kind": kind, "size": args.size}, f, indent=1)
        del sd
        print("%s: written in %.1f s (%.0f MB)" % (path, time.time() - t0, os.path.getsize(path) / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
