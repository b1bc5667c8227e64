#!/usr/bin/env python3
# test_text_clean_ref.py: lib/upm-text-clean.c (through
# tests/upm-text-clean-check) cleans random texts exactly as the reference
# tokenizer's Python clean-up (tools/clip_bpe.py with tools/ftfy_subset.py).
# The texts are drawn from pieces that each rule of the ftfy subset, of
# html.unescape and of the whitespace/lower-case steps acts on, so that the
# rules meet in every order.
#
# Copyright (C) 2026 gst-uniperceiver authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# usage: test_text_clean_ref.py CHECK_PROGRAM [N] [SEED]
# Exit status: 0 pass, 1 fail, 77 skipped (no `regex` module).

import os
import random
import subprocess
import sys

ROOT = os.environ.get("UPM_SOURCE_ROOT") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..")

PIECES = [
    "a", "b", "E", " ", "\n", "\r", "\t", "<", ">", "&", ";", "#", "x",
    "&amp;", "&amp;amp;", "&lt;", "&EACUTE;", "&eacute;", "&#65;", "&#x263a;",
    "&#150;", "&SZLIG;", "&nTILDE;", "&AMP;", "&notin;", "&not", "&#0;",
    "&#65a;", "\u00c3", "\u00a9", "\u00c2", "\u00a0", "\u00e2", "\u20ac",
    "\u2122", "\u0153", "\u201d", "\u00d0", "\u00bf", "\u00d1", "\u00c5",
    "\u203a", "\u00ce", "\u00b1", "\u00e3", "\x80", "\x93", "\x81", "\u00e9",
    "\u00c9", "\u2026", "\u0192", "\u0161", "\u017e", "\u00ac", "\u00a2",
    "\u201c", "\u2019", "\u02bc", "\u201e", "\u201f", "\ufb01", "\ufb00",
    "\u01c4", "\u01c5", "\u0132", "\u0149", "\ufb05", "\uff21", "\uff5a",
    "\uff01", "\uff76", "\uff9e", "\uffa1", "\uffe5", "\u3000", "\x1b[1;2m",
    "\x1b[", "\x07", "\x7f", "\ufeff", "\u206a", "\ufffc", "\u2028", "\x85",
    "e\u0301", "\u0130", "\u03a3", "\u732b", "\U0001f600",
]


def main(argv):
    try:
        import regex  # noqa: F401
    except ImportError:
        print("SKIP: python3 'regex' module missing")
        return 77
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import clip_bpe

    check = argv[0]
    n = int(argv[1]) if len(argv) > 1 else 5000
    rng = random.Random(int(argv[2]) if len(argv) > 2 else 20261207)
    texts = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12)))
             for _ in range(n)]
    inp = "".join(t.encode().hex() + "\n" for t in texts).encode()
    out = subprocess.run([check], input=inp, capture_output=True,
                         check=True).stdout.decode().split("\n")

    def normalise(text):
        return clip_bpe.whitespace_clean(clip_bpe.basic_clean(text)).lower()

    bad = 0
    for text, line in zip(texts, out):
        want = normalise(text)
        got = "<refused>" if line == "!" else bytes.fromhex(line).decode()
        if got != want:
            bad += 1
            if bad <= 5:
                print("differs: %r\n  C:      %r\n  Python: %r"
                      % (text, got, want))
    if len(out) < len(texts):
        print("FAIL: %d answers for %d texts" % (len(out), len(texts)))
        return 1
    print("%d/%d texts cleaned alike" % (n - bad, n))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
