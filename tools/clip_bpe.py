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
# ftfy is not available: fix_text is replaced by NFC normalisation, which is
# what it amounts to for ordinary, correctly encoded text (see lib/upm-text-clean.c
# for the list of texts where ftfy would differ).
#
# Usage: clip_bpe.py [--vocab PATH] TEXT...   (prints the ids of each TEXT)

import gzip
import html
import os
import sys
import unicodedata

import regex

N_MERGES = 48894
SPECIALS = ["<|startoftext|>", "<|endoftext|>", "<|mask|>", "<|gen|>",
            "<|spe|>"]
# <|mask|> is deliberately not atomic (Uni-Perceiver's pattern).
PATTERN = (r"<\|startoftext\|>|<\|endoftext\|>|<\|gen\|>|<\|spe\|>|"
           r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+")


def default_vocab_path():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "data", "clip-bpe",
                        "bpe_simple_vocab_16e6.txt.gz")


def bytes_to_unicode():
    """byte -> unicode character, in vocabulary order."""
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


def basic_clean(text):
    text = unicodedata.normalize("NFC", text)  # stands in for ftfy.fix_text
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
        vocab = list(self.byte_encoder.values())
        vocab += [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in merges]
        vocab += SPECIALS
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
            out = []
            i = 0
            while i < len(word):
                if (i + 1 < len(word) and word[i] == best[0]
                        and word[i + 1] == best[1]):
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
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
