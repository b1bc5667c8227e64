#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tests/fixtures/tiny-moe-q8.upm: tiny-moe.upm with its layers' linears
stored as I8 + per-row scales (what `convert.py --dtype q8` writes: the
token embedding F16, all else as it was), so that the engine tests can run
the int8 precision on a file whose weights are already int8 (its dense
layers read in place, its merged experts mixed from I8 experts).

usage: make_q8_fixture.py [SRC.upm OUT.upm]
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import convert  # noqa: E402
import upmgguf  # noqa: E402


def main(argv):
    src = argv[1] if len(argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "tiny-moe.upm")
    out = argv[2] if len(argv) > 2 else os.path.join(ROOT, "tests", "fixtures", "tiny-moe-q8.upm")
    kv, tensors, types = upmgguf.read_gguf(src, with_types=True)
    w = upmgguf.GGUFWriter(alignment=int(kv["general.alignment"]))
    for name, a in tensors.items():
        if types[name][1] == upmgguf.TYPE_F32:
            convert.add_typed_tensor(w, name, a, "q8")
        else:
            w.add_tensor(name, a, types[name][1])
    kv["general.name"] = "tiny-moe-q8"
    w.add_keys(kv, types)  # the weights hash recomputed
    print(out, w.write(out), "bytes")


if __name__ == "__main__":
    main(sys.argv)
