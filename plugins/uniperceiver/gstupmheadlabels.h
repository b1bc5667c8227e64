/* gstupmheadlabels.h: upmhead's labels of classification and texts of
 * retrieval.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_HEAD_LABELS_H__
#define __GST_UPM_HEAD_LABELS_H__

#include "gstupmcommon.h"

G_BEGIN_DECLS

/* The labels of classification / the texts of retrieval (@task): from
 * @labels_file (one per line, UTF-8, blank lines skipped), @labels
 * (comma-separated, trimmed, no empty items), else the first label set
 * bundled with @model. NULL-terminated, with their number in @n_labels;
 * NULL with an error posted on @element when there are none or they are
 * invalid. */
gchar **gst_upm_head_resolve_labels (GstElement *element, UpmModel *model,
    GstUpmTask task, const gchar *labels, const gchar *labels_file,
    guint *n_labels, gboolean *prompt_head);

G_END_DECLS
#endif /* __GST_UPM_HEAD_LABELS_H__ */
