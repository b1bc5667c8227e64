/* fixture-check.h: compare the engine with the PyTorch reference's golden
 * fixtures (tools/make_fixtures.py).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef FIXTURE_CHECK_H
#define FIXTURE_CHECK_H

#include "upm.h"

/* Checks every expectation of @expect_path against @model_path on @path.
 * Appends one line per check to @report ("ok ..." / "FAIL ..."); returns
 * the number of failed checks, or -1 with @error when a file is unusable. */
int upm_fixture_check (const char *model_path, const char *expect_path,
    UpmPath path, GString *report, GError **error);

#endif
