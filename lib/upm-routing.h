/* upm-routing.h: the record of routing decisions (UpmRouting of upm.h,
 * upm-routing.c) and the types of the dynamic levels' decisions. Uses the
 * model only.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_ROUTING_H
#define UPM_ROUTING_H

#include "upm-model.h"

G_BEGIN_DECLS

/* Dynamic routing (token, context): the decision of one gate for one row. */
typedef struct
{
  uint8_t expert[2]; /* descending gate logit */
  float weight[2];
} UpmTokenRoute;

/* Which rows a row's context (context routing) is the mean over. The rows
 * are tiled by groups of group_rows (0: one group of all rows); in a group,
 * only the first n_valid[g] rows count (the rest is padding); row i sees the
 * group's rows < max(causal_from, i + 1) (UINT32_MAX: all), plus, when
 * base is set, base_count earlier tokens whose sums are base[g]
 * ([n_layer][UPM_N_GATES][D] floats: the KV-cached caption prefix and
 * words). NULL scope: one bidirectional sequence. */
typedef struct
{
  uint32_t group_rows;
  const uint32_t *n_valid;
  uint32_t causal_from;
  const float *const *base;
  const uint32_t *base_count;
} UpmRouteScope;

/* Add n tokens to the counts of these experts of a layer's gate. */
void upm_routing_count (UpmModel *model, UpmRouting *routing, uint32_t layer,
    UpmGateKind gate, const uint32_t expert[2], uint32_t n);

/* Record the dynamic decisions @r of @n rows of a layer's gate: the valid
 * rows (by @scope) >= @from are counted, and appended as a per-token run
 * when @runs and the routing asks for token experts. */
void upm_routing_record (UpmRouting *routing, UpmModel *model,
    const UpmRouteScope *scope, uint32_t from, gboolean runs, uint32_t layer,
    UpmGateKind gate, const UpmTokenRoute *r, uint32_t n);

G_END_DECLS
#endif /* UPM_ROUTING_H */
