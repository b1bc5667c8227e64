#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tests/fixtures/tiny-dense-t8.upm: tiny-dense.upm with 8 temporal
positions (4 more random rows of temporal_pos_embd), so that the presets
with 8 frames per clip (k400) can run in the gst tests; the other fixtures
and the bundled model have 4.

usage: make_t8_fixture.py [SRC.upm OUT.upm]
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import upmgguf  # noqa: E402


def main(argv):
    src = argv[1] if len(argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "tiny-dense.upm")
    out = argv[2] if len(argv) > 2 else os.path.join(ROOT, "tests", "fixtures", "tiny-dense-t8.upm")
    kv, tensors, types = upmgguf.read_gguf(src, with_types=True)
    w = upmgguf.GGUFWriter(alignment=int(kv["general.alignment"]))
    rng = np.random.default_rng(8)
    old = tensors["temporal_pos_embd.weight"]
    extra = rng.normal(0.0, float(old.std()), (8 - old.shape[0], old.shape[1]))
    tensors["temporal_pos_embd.weight"] = np.concatenate([old, extra]).astype(np.float32)
    kv["uniperceiver.vision.temporal_positions"] = 8
    kv["general.name"] = "tiny-dense-t8"
    for name, a in tensors.items():
        w.add_tensor(name, a, types[name][1])
    w.add_keys(kv, types)  # the weights hash recomputed
    print(out, w.write(out), "bytes")


if __name__ == "__main__":
    main(sys.argv)
