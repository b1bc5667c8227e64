/* gstupmtexttokens.c: the buffers of the tokenizer's text path: UTF-8 text
 * in, BPE token ids (application/x-upm-tokens) out.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmtexttokens.h"

/* the text path is the tokenizer's: its log category */
GST_DEBUG_CATEGORY_EXTERN (gst_upm_tokenizer_debug);
#define GST_CAT_DEFAULT gst_upm_tokenizer_debug

GstFlowReturn
gst_upm_text_buffer_dup (GstElement *element, GstBuffer *buf, gchar **text)
{
  GstMapInfo map;
  const gchar *data, *end = NULL;
  gsize len;

  *text = NULL;
  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    {
      GST_ELEMENT_ERROR (
          element, RESOURCE, READ, ("Could not map a text buffer."), (NULL));
      return GST_FLOW_ERROR;
    }
  data = (const gchar *)map.data;
  len = map.size;
  while (len > 0 && data[len - 1] == '\0')
    len--;
  if (!g_utf8_validate (data, len, &end))
    {
      GST_ELEMENT_WARNING (element, STREAM, DECODE,
          ("Dropped a text buffer that is not valid UTF-8."),
          ("invalid UTF-8 at byte %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
           " (pts %" GST_TIME_FORMAT "); the buffer was not tokenised",
              (gsize)(end - data), len, GST_TIME_ARGS (GST_BUFFER_PTS (buf))));
      gst_buffer_unmap (buf, &map);
      return GST_FLOW_OK;
    }
  *text = g_strndup (data, len);
  gst_buffer_unmap (buf, &map);
  return GST_FLOW_OK;
}

GstBuffer *
gst_upm_tokens_buffer_new (const GArray *ids, GstBuffer *text_buf)
{
  GstBuffer *out
      = gst_buffer_new_allocate (NULL, ids->len * sizeof (gint32), NULL);

  gst_buffer_fill (out, 0, ids->data, ids->len * sizeof (gint32));
  gst_buffer_copy_into (out, text_buf,
      GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_TIMESTAMPS | GST_BUFFER_COPY_META,
      0, -1);
  return out;
}
