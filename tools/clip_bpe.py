#!/usr/bin/env python3
# clip_bpe.py: reference CLIP byte-level BPE tokenizer (model-spec §2.1).
#
# Copyright (C) 2026 gst-uniperceiver authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Written from the published algorithm of CLIP's simple_tokenizer.py as used
# by Uni-Perceiver's tokenization_clip.py:
#   fix_text -> html.unescape twice -> strip -> \s+ to ' ' -> strip -> lower
#   -> regex.findall(PAT) -> UTF-8 bytes -> byte-unicode symbols -> BPE by
#   merge rank, "</w>" on the last symbol -> ids.
# ftfy is not available: fix_text is replaced by tools/ftfy_subset.py, the
# parts of it that change ordinary text (docs/text-cleaning.md lists the
# rest); lib/upm-text-clean.c implements the same in C.
#
# Usage: clip_bpe.py [--vocab PATH] TEXT...   (prints the ids of each TEXT)

import gzip
import html
import sys

import regex

import ftfy_subset

# (tools/upmspec.py: found on sys.path as this file is)
from upmspec import CLIP_N_MERGES as N_MERGES
from upmspec import DEFAULT_BPE, bytes_to_unicode, merge_pair, vocab_tokens
from upmspec import SPECIAL_TOKENS as SPECIALS
# <|mask|> is deliberately not atomic (Uni-Perceiver's pattern).
PATTERN = (r"<\|startoftext\|>|<\|endoftext\|>|<\|gen\|>|<\|spe\|>|"
           r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+")


def default_vocab_path():
    return DEFAULT_BPE


def basic_clean(text):
    text = ftfy_subset.fix_text(text)  # stands in for ftfy.fix_text
    text = html.unescape(html.unescape(text))
    return text.strip()


def whitespace_clean(text):
    return regex.sub(r"\s+", " ", text).strip()


class ClipBpe:
    def __init__(self, path=None):
        path = path or default_vocab_path()
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        lines = raw.decode("utf-8").split("\n")
        merges = [tuple(m.split()) for m in lines[1:N_MERGES + 1]]
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        vocab = vocab_tokens("".join(m) for m in merges)
        self.vocab = vocab
        self.encoder = {v: i for i, v in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.cache = {s: [s] for s in SPECIALS}
        self.pat = regex.compile(PATTERN, regex.IGNORECASE)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = [(word[i], word[i + 1]) for i in range(len(word) - 1)]
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            word = merge_pair(word, best)
        self.cache[token] = word
        return word

    def normalise(self, text):
        return whitespace_clean(basic_clean(text)).lower()

    def pieces(self, text):
        return self.pat.findall(self.normalise(text))

    def encode(self, text):
        ids = []
        for piece in self.pieces(text):
            sym = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[s] for s in self.bpe(sym))
        return ids

    def decode(self, ids):
        text = "".join(self.vocab[i] for i in ids)
        data = bytearray(self.byte_decoder[c] for c in text)
        return data.decode("utf-8", errors="replace").replace("</w>",
                                                              " ").strip()


def main(argv):
    path = None
    if len(argv) >= 2 and argv[0] == "--vocab":
        path = argv[1]
        argv = argv[2:]
    tok = ClipBpe(path)
    for text in argv:
        print(" ".join(str(i) for i in tok.encode(text)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
