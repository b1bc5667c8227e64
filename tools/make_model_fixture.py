#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reference expectations for a trained model file on a held-out synthetic clip.

The random fixture models never end a caption, so their fixtures do not reach
the finished-beam and length-penalty rules of beam search; a trained model
does. This reads a .upm back into official keys, runs tools/reference.py
(float64) on one held-out clip of tools/synthworld.py and writes an
expectation file in the format of tools/make_fixtures.py, which
tests/test-engine.c compares the C engine with.

usage: make_model_fixture.py MODEL.upm OUT.expect.gguf [--seed S]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402
import reference  # noqa: E402
import synthworld  # noqa: E402
import train  # noqa: E402


def word_ids(kv, text):
    """Token ids of a text whose words are single tokens of the model."""
    tokens = kv["tokenizer.ggml.tokens"]
    index = {t: i for i, t in enumerate(tokens)}
    ids = [index[w + "</w>"] for w in text.lower().split()]
    return ids + [int(kv["tokenizer.upm.eot_id"])]


def patchify(frames, patch):
    """uint8 [T, S, S, 3] -> [T*g*g, 3*P*P] with video normalisation."""
    x = torch.as_tensor(frames).double().div(127.5).sub(1.0)
    t, s = x.shape[0], x.shape[1]
    g = s // patch
    x = x.view(t, g, patch, g, patch, 3).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(t * g * g, 3 * patch * patch)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=synthworld.HELDOUT_SEED_BASE + 4242)
    args = ap.parse_args(argv)

    sd, kv = train.upm_to_official(args.model)
    ref = reference.Reference(sd, heads=int(kv["uniperceiver.attention.head_count"]))
    size = int(kv["uniperceiver.vision.image_size"])
    frames = int(kv["uniperceiver.vision.clip_frames"])
    patch = int(kv["uniperceiver.vision.patch_size"])
    clip = synthworld.generate_clip(args.seed, size, frames)
    patches = patchify(clip.frames, patch)
    labels = [word_ids(kv, name) for name in synthworld.class_names()]
    exp = make_fixtures.write_expectations(args.out, ref, patches.numpy(), frames, labels)
    words = " ".join(kv["tokenizer.ggml.tokens"][i].replace("</w>", "") for i in exp["caption_ids"])
    print(f"clip {args.seed}: truth '{clip.caption}', reference caption '{words}' "
          f"({len(exp['caption_ids'])} ids, score {exp['caption_score']:.4f}, "
          f"smallest beam margin {exp['caption_margin']:.2e})")


if __name__ == "__main__":
    main()
