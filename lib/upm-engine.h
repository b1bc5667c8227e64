/* upm-engine.h: the engine's internal headers in one, for the tests, tools
 * and benchmarks that reach below upm.h. The library's modules include the
 * header of each module they use instead:
 *
 *   upm-context.h  per-stream state (UpmContext), scratch, routing record
 *   upm-caption.h  caption decoder (beam search)
 *   upm-heads.h    label / vocabulary features and their caches
 *   upm-encoder.h  layers, chunked layers, transformer, text encoding
 *   upm-embed.h    embeddings
 *   upm-moe.h      gates, routing levels, merged experts, dispatch
 *   upm-model.h    model, its cache slots; upm-gguf.h: GGUF reader
 *   upm-ops.h      kernels and thread pool
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_ENGINE_H
#define UPM_ENGINE_H

#include "upm-private.h"
#include "upm-caption.h"
#include "upm-context.h"
#include "upm-encoder.h"
#include "upm-heads.h"

#endif /* UPM_ENGINE_H */
