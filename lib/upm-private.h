/* upm-private.h: internals shared by the library's modules: the
 * GGUF reader and the model (one header each; this one includes both for
 * the modules, tests and tools that use either).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_PRIVATE_H
#define UPM_PRIVATE_H

#include "upm-gguf.h"
#include "upm-model.h"

#endif /* UPM_PRIVATE_H */
