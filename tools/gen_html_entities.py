#!/usr/bin/env python3
"""Generate lib/upm-html-entities.c, the HTML5 named character references.

The CLIP tokenizer calls Python's html.unescape, whose table is
html.entities.html5; lib/upm-text-clean.c looks names up in the same
table, sorted by strcmp () for a binary search. Regenerate with

    /usr/bin/python3 tools/gen_html_entities.py > lib/upm-html-entities.c

The output depends only on the Python version's html.entities (the table
has not changed since Python 3.4).
"""
# SPDX-License-Identifier: LGPL-2.1-or-later
import html.entities
import sys


def c_string(text):
    """A C string literal: printable ASCII as is, every other byte octal
    (so are '"', '\\' and '?', which could start a trigraph)."""
    out = []
    for byte in text.encode("utf-8"):
        if 0x20 <= byte < 0x7F and chr(byte) not in '"\\?':
            out.append(chr(byte))
        else:
            out.append("\\%03o" % byte)
    return '"' + "".join(out) + '"'


def main():
    names = sorted(html.entities.html5, key=lambda n: n.encode("utf-8"))
    w = sys.stdout.write
    w("/* upm-html-entities.c: Python's html.entities.html5, generated.\n")
    w(" *\n")
    w(" * DO NOT EDIT: regenerate with\n")
    w(" *   /usr/bin/python3 tools/gen_html_entities.py"
      " > lib/upm-html-entities.c\n")
    w(" *\n")
    w(" * SPDX-License-Identifier: LGPL-2.1-or-later\n")
    w(" */\n")
    w('#include "upm-html-entities.h"\n\n')
    w("/* clang-format off */\n")
    w("const UpmHtmlEntity upm_html_entities[] = {\n")
    for name in names:
        w("  {%s, %s},\n" % (c_string(name), c_string(html.entities.html5[name])))
    w("};\n")
    w("/* clang-format on */\n\n")
    w("const gsize upm_n_html_entities = G_N_ELEMENTS (upm_html_entities);\n")


if __name__ == "__main__":
    main()
