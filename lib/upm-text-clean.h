/* upm-text-clean.h: CLIP's text side of tokenisation (internal).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What tokenization_clip.py does to a string before and after BPE: the
 * clean-up (ftfy stand-in, html.unescape, whitespace folding, lower-case),
 * the split regex, and Python's str.strip and lossy UTF-8 decoding.  The
 * BPE (upm-bpe.c) uses this; it knows nothing of vocabularies.
 */
#ifndef UPM_TEXT_CLEAN_H
#define UPM_TEXT_CLEAN_H

#include "upm.h"

G_BEGIN_DECLS

/* The specials that CLIP's split regex keeps whole, in regex order. */
#define UPM_TEXT_N_ATOMIC_SPECIALS 4
extern const char *const upm_text_atomic_specials[UPM_TEXT_N_ATOMIC_SPECIALS];

/* The parts of ftfy.fix_text that change ordinary text (docs/text-cleaning.md):
 * HTML entities (ftfy's narrower rule), UTF-8 read as Latin-1/Windows-1252,
 * C1 controls, Latin ligatures, character width, curly quotes, line breaks,
 * terminal escapes, control characters, NFC; repeated until nothing
 * changes.  @text is valid UTF-8. */
char *upm_text_fix (const char *text);

/* upm_text_fix (the ftfy.fix_text stand-in), html.unescape twice, whitespace
 * folded and stripped, lower-cased.  NULL with UPM_ERROR_INVALID_ARGUMENT when
 * @text (of @len bytes, or NUL-terminated when -1) is not valid UTF-8. */
char *upm_text_clean (const char *text, gssize len, GError **error);

/* re.findall (PAT, text), one match a call: the next piece at or after
 * *cursor and its length; *special is its index in upm_text_atomic_specials
 * when the piece is exactly that token, else -1 (CLIP's bpe cache holds
 * only the exact strings).  Advances *cursor; FALSE at the end. */
gboolean upm_text_next_piece (
    const char **cursor, const char **piece, gsize *len, int *special);

/* str.strip () in place on valid UTF-8; returns @s. */
char *upm_text_strip (char *s);

/* bytes.decode ('utf-8', errors='replace') of @n bytes onto @out. */
void upm_text_append_utf8_lossy (GString *out, const guint8 *s, gsize n);

G_END_DECLS
#endif /* UPM_TEXT_CLEAN_H */
