#!/usr/bin/env python3
# test_tokenizer_ref.py: tools/clip_bpe.py still produces
# tests/data/bpe_cases.tsv exactly (regenerated in memory).
#
# Copyright (C) 2026 gst-uniperceiver authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Exit status: 0 pass, 1 fail, 77 skipped (no `regex` module).

import os
import sys

ROOT = os.environ.get("UPM_SOURCE_ROOT") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..")


def main():
    try:
        import regex  # noqa: F401
    except ImportError:
        print("SKIP: python3 'regex' module missing")
        return 77
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import make_bpe_cases

    vocab = os.environ.get("UPM_CLIP_VOCAB") or os.path.join(
        ROOT, "data", "clip-bpe", "bpe_simple_vocab_16e6.txt.gz")
    want = make_bpe_cases.generate(vocab)
    path = os.path.join(ROOT, "tests", "data", "bpe_cases.tsv")
    with open(path, encoding="ascii", newline="") as f:
        have = f.read()
    if have == want:
        print("ok: %s matches tools/clip_bpe.py (%d cases)"
              % (path, len(make_bpe_cases.CASES)))
        return 0
    a, b = have.splitlines(), want.splitlines()
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else "<missing>"
        y = b[i] if i < len(b) else "<missing>"
        if x != y:
            print("line %d differs:\n  file:      %s\n  reference: %s"
                  % (i + 1, x, y))
            break
    print("FAIL: regenerate with tools/make_bpe_cases.py")
    return 1


if __name__ == "__main__":
    sys.exit(main())
