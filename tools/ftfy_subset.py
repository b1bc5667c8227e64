#!/usr/bin/env python3
# ftfy_subset.py: the parts of ftfy.fix_text that change ordinary text, for
# tools/clip_bpe.py (ftfy is not installed here).  lib/upm-text-clean.c
# implements the same rules in C; docs/text-cleaning.md lists what ftfy does
# beyond them.
#
# Copyright (C) 2026 gst-uniperceiver authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Per line (the '\n' kept), repeated until nothing changes, as ftfy 6's
# fix_and_explain with the default TextFixerConfig:
#   unescape_html (only "&#?[0-9A-Za-z]{1,24};", off from the first line
#   with a '<'), fix_encoding (UTF-8 read as Latin-1/Windows-1252, where a
#   classic mojibake sequence shows it), fix_c1_controls,
#   fix_latin_ligatures, fix_character_width, uncurl_quotes,
#   fix_line_breaks, remove_terminal_escapes, remove_control_chars, NFC.

import html
import html.entities
import re
import unicodedata

ENTITY_RE = re.compile(r"&#?[0-9A-Za-z]{1,24};")

LIGATURES = {
    0x132: "IJ", 0x133: "ij", 0x149: "\u02bcn", 0x1F1: "DZ", 0x1F2: "Dz",
    0x1F3: "dz", 0x1C4: "D\u017d", 0x1C5: "D\u017e", 0x1C6: "d\u017e",
    0x1C7: "LJ", 0x1C8: "Lj", 0x1C9: "lj", 0x1CA: "NJ", 0x1CB: "Nj",
    0x1CC: "nj", 0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi",
    0xFB04: "ffl", 0xFB05: "\u017ft", 0xFB06: "st",
}

WIDTH = {0x3000: " "}
WIDTH.update({i: unicodedata.normalize("NFKC", chr(i))
              for i in range(0xFF01, 0xFFF0)
              if unicodedata.normalize("NFKC", chr(i)) != chr(i)})

CONTROLS = {i: None for i in list(range(0x00, 0x09)) + [0x0B]
            + list(range(0x0E, 0x20)) + [0x7F] + list(range(0x206A, 0x2070))
            + [0xFEFF] + list(range(0xFFF9, 0xFFFD))}

ANSI_RE = re.compile("\033\\[((?:\\d|;)*)([a-zA-Z])")

# Windows-1252 with its five holes kept as the C1 code points ("sloppy")
CP1252 = {}
for b in range(256):
    try:
        CP1252[b] = bytes([b]).decode("cp1252")
    except UnicodeDecodeError:
        CP1252[b] = chr(b)
BYTE_OF = {ord(c): b for b, c in CP1252.items()}
BYTE_OF.update({i: i for i in range(256)})  # Latin-1

# leads of the classic sequences and how many continuation bytes follow
CLASSIC_LEADS = {0xC2: 1, 0xC3: 1, 0xC4: 1, 0xC5: 1, 0xCE: 1, 0xCF: 1,
                 0xD0: 1, 0xD1: 1, 0xE2: 2, 0xE3: 2}


def _entity(m):
    ref = m.group(0)
    name = ref[1:]
    if name in html.entities.html5:
        return html.entities.html5[name]
    plain = html.unescape(ref)
    if ref.startswith("&#"):
        return ref if ";" in plain else plain
    if plain != ref:
        return ref
    lower = name.lower()
    if lower != name and lower.upper() == name and lower in html.entities.html5:
        return html.entities.html5[lower].upper()
    return ref


def _undo(text):
    try:
        raw = bytes(BYTE_OF[ord(c)] for c in text)
    except KeyError:
        return None
    if raw.isascii() or b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _classic_at(text, i):
    need = CLASSIC_LEADS.get(ord(text[i]), 0)
    seq = text[i:i + need + 1]
    if need == 0 or len(seq) != need + 1:
        return 0
    if not all(0x80 <= BYTE_OF.get(ord(c), -1) <= 0xBF for c in seq[1:]):
        return 0
    return need + 1 if _undo(seq) is not None else 0


def fix_mojibake(text):
    # ftfy's fix_encoding takes off every layer before the other fixes
    while True:
        fixed = _fix_mojibake_once(text)
        if fixed == text:
            return text
        text = fixed


def _fix_mojibake_once(text):
    if not any(_classic_at(text, i) for i in range(len(text))):
        return text
    whole = _undo(text)
    if whole is not None:
        return whole
    out, i = [], 0
    while i < len(text):
        n = _classic_at(text, i)
        if n:
            out.append(_undo(text[i:i + n]))
            i += n
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def fix_c1(text):
    return "".join(CP1252[ord(c)] if 0x80 <= ord(c) <= 0x9F else c
                   for c in text)


def uncurl(text):
    text = re.sub("[\u201c-\u201f]", '"', text)
    return re.sub("[\u02bc\u2018-\u201b]", "'", text)


def line_breaks(text):
    for a in ("\r\n", "\r", "\u2028", "\u2029", "\u0085"):
        text = text.replace(a, "\n")
    return text


def fix_segment(text, unescape):
    while True:
        orig = text
        if unescape:
            text = ENTITY_RE.sub(_entity, text)
        text = fix_mojibake(text)
        text = fix_c1(text)
        text = text.translate(LIGATURES)
        text = text.translate(WIDTH)
        text = uncurl(text)
        text = line_breaks(text)
        text = ANSI_RE.sub("", text)
        text = text.translate(CONTROLS)
        text = unicodedata.normalize("NFC", text)
        if text == orig:
            return text


def fix_text(text):
    out, unescape, pos = [], True, 0
    while pos < len(text):
        end = text.find("\n", pos) + 1 or len(text)
        seg = text[pos:end]
        if "<" in seg:
            unescape = False
        out.append(fix_segment(seg, unescape))
        pos = end
    return "".join(out)
