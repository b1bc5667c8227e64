/* upm-datadir.h: where the installed data (the bundled model, the label
 * sets) is: <datadir>/gst-uniperceiver of the install.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_DATADIR_H
#define UPM_DATADIR_H

#include <glib.h>

G_BEGIN_DECLS

/* The data directories to search, best first (NULL-terminated; free with
 * g_strfreev): the one beside the installed object that holds this code
 * (the shared library, the plugin or a tool, found with dladdr: so that an
 * install moved or staged under DESTDIR finds its own data), then the
 * configured <prefix>/<datadir>/gst-uniperceiver. Only directories that
 * exist are listed; none when nothing is installed. */
char **upm_datadir_list (void);

G_END_DECLS

#endif /* UPM_DATADIR_H */
