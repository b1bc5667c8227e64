/* upm-html-entities.h: the HTML5 named character references (generated).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * upm-html-entities.c is written by tools/gen_html_entities.py from
 * Python's html.entities.html5, which the CLIP tokenizer's html.unescape
 * uses; see that script to regenerate it.
 */
#ifndef UPM_HTML_ENTITIES_H
#define UPM_HTML_ENTITIES_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  const char *name;  /* with the ';' when it is required */
  const char *value; /* UTF-8 */
} UpmHtmlEntity;

/* Sorted by strcmp () for a binary search; a name without ';' is a legacy
 * one (matched as a prefix by html.unescape). */
extern const UpmHtmlEntity upm_html_entities[];
extern const gsize upm_n_html_entities;

G_END_DECLS
#endif /* UPM_HTML_ENTITIES_H */
