# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the Python tools share about the model: the tables of model-spec.md (attribute rows,
logit scales, special tokens, routing levels) and the building blocks of CLIP's byte-level BPE.

Imported by convert.py, reference.py, train.py and clip_bpe.py from their own directory
(sys.path.insert(0, <tools>)); it needs nothing beyond the standard library.
"""

import os

# model-spec §3.3, in the order of docs/model-format.md
ATTRIBUTES = {
    "cls_input":        [1, 0, 0, 1, 1, 0, 0, 0],
    "retrieval_input":  [1, 0, 0, 1, 1, 0, 0, 0],
    "retrieval_target": [1, 0, 0, 1, 0, 1, 1, 0],
    "caption_prefix":   [1, 1, 0, 1, 1, 0, 0, 0],
    "caption_text":     [1, 1, 0, 1, 0, 1, 0, 1],
    "text_input":       [0, 1, 0, 1, 0, 1, 0, 0],
    "cls_target":       [1, 0, 0, 1, 0, 1, 1, 0],
    "vocab_target":     [1, 1, 0, 1, 0, 1, 1, 0],
}
ATTRIBUTE_NAMES = list(ATTRIBUTES)
LOGIT_SCALE_NAMES = ["img_cls", "video_cls", "text_mlm", "text_caption", "caption", "mlm",
                     "retrieve", "tqa_mlm", "tqa_caption", "tqa_retrieve", "downstream"]

# MoE routing levels (docs/model-format.md): attribute (official), modality / task (a learned
# embedding row per segment), token / context (per token: its LN output, or the mean over the
# tokens it may attend to)
ROUTING_LEVELS = ["attribute", "token", "context", "modality", "task"]
# rows of the modality and task gate embeddings, by attribute row (upm.h UpmModality/UpmTask)
MODALITY_OF = {"cls_input": 0, "retrieval_input": 0, "caption_prefix": 0,
               "retrieval_target": 1, "caption_text": 1, "text_input": 1, "cls_target": 1,
               "vocab_target": 1}
N_MODALITIES = 2
TASK_OF = {"cls_input": 0, "cls_target": 0, "retrieval_input": 1, "retrieval_target": 1,
           "caption_prefix": 2, "caption_text": 2, "vocab_target": 2, "text_input": 3}
N_TASKS = 4
EMBED_ROWS = {"modality": N_MODALITIES, "task": N_TASKS}

# ------------------------------------------------------------------ CLIP BPE (model-spec §2.1)
CLIP_N_MERGES = 48894
SPECIAL_TOKENS = ["<|startoftext|>", "<|endoftext|>", "<|mask|>", "<|gen|>", "<|spe|>"]
DEFAULT_BPE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                           "data", "clip-bpe", "bpe_simple_vocab_16e6.txt.gz")


def bytes_to_unicode():
    """CLIP's reversible byte -> printable unicode character mapping; its values, in
    insertion order, are the 256 byte symbols in vocabulary order."""
    bs = (list(range(ord("!"), ord("~") + 1))
          + list(range(ord("\u00a1"), ord("\u00ac") + 1))
          + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def vocab_tokens(merged):
    """CLIP's token list: the 256 byte symbols, the same with </w>, one token per merge
    (merged: the merged texts, in merge order), then the special tokens."""
    symbols = list(bytes_to_unicode().values())
    return symbols + [s + "</w>" for s in symbols] + list(merged) + SPECIAL_TOKENS


def merge_pair(symbols, pair):
    """symbols (a sequence) with every adjacent occurrence of pair, left to right, joined
    into one symbol; a list."""
    out = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out
