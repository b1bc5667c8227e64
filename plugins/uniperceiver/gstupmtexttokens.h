/* gstupmtexttokens.h: the buffers of the tokenizer's text path: UTF-8 text
 * in, BPE token ids (application/x-upm-tokens) out.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_TEXT_TOKENS_H__
#define __GST_UPM_TEXT_TOKENS_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* The text of @buf without trailing NULs, in *@text (g_free). When there is
 * none, *@text is NULL and the return says why: GST_FLOW_ERROR (with an
 * element error of @element) when @buf cannot be mapped, GST_FLOW_OK (with an
 * element warning) when it is not valid UTF-8 and is to be dropped. */
GstFlowReturn gst_upm_text_buffer_dup (
    GstElement *element, GstBuffer *buf, gchar **text);

/* A buffer of the gint32 token @ids with the flags, timestamps and metas of
 * @text_buf. */
GstBuffer *gst_upm_tokens_buffer_new (const GArray *ids, GstBuffer *text_buf);

G_END_DECLS
#endif /* __GST_UPM_TEXT_TOKENS_H__ */
