/* upm-routing.c: UpmRouting, the record of routing decisions that callers
 * ask for: per (layer, gate) expert counts, the static levels' routes, and
 * the dynamic levels' per-token runs.
 *
 * Uses: the model (upm-model.h) for its sizes; nothing above.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-routing.h"

#include <string.h>

/* A recorded run of per-token expert ids (bytes at offset in token_ids). */
typedef struct
{
  uint32_t layer;
  UpmGateKind gate;
  uint32_t token_begin, n_tokens;
  guint offset;
} TokenRun;

void
upm_routing_init (UpmRouting *routing)
{
  memset (routing, 0, sizeof *routing);
  routing->routes = g_array_new (FALSE, TRUE, sizeof (UpmRoute));
}

void
upm_routing_clear (UpmRouting *routing)
{
  if (routing->routes)
    g_array_free (routing->routes, TRUE);
  routing->routes = NULL;
  g_clear_pointer (&routing->counts, g_free);
  routing->n_layer = routing->n_expert = 0;
  if (routing->token_runs)
    g_array_free (routing->token_runs, TRUE);
  routing->token_runs = NULL;
  if (routing->token_ids)
    g_byte_array_unref (routing->token_ids);
  routing->token_ids = NULL;
}

void
upm_routing_set_token_experts (UpmRouting *routing, gboolean enable)
{
  routing->token_experts = enable;
}

static uint32_t *
routing_counts (
    UpmModel *model, UpmRouting *routing, uint32_t layer, UpmGateKind gate)
{
  if (!routing->counts)
    {
      routing->n_layer = model->hp.n_layer;
      routing->n_expert = model->hp.n_expert;
      routing->counts = g_new0 (uint32_t,
          (gsize)routing->n_layer * UPM_N_GATES * MAX (routing->n_expert, 1));
    }
  if (layer >= routing->n_layer || routing->n_expert != model->hp.n_expert)
    return NULL;
  return routing->counts
         + ((gsize)layer * UPM_N_GATES + gate) * routing->n_expert;
}

void
upm_routing_count (UpmModel *model, UpmRouting *routing, uint32_t layer,
    UpmGateKind gate, const uint32_t expert[2], uint32_t n)
{
  uint32_t *c = routing ? routing_counts (model, routing, layer, gate) : NULL;

  if (!c)
    return;
  for (int k = 0; k < 2; k++)
    if (expert[k] < routing->n_expert)
      c[expert[k]] += n;
}

gboolean
upm_routing_expert_counts (const UpmRouting *routing, uint32_t layer,
    UpmGateKind gate, uint32_t *counts, uint32_t n_counts)
{
  const uint32_t *c;
  uint32_t total = 0;

  if (!routing || !routing->counts || layer >= routing->n_layer
      || (guint)gate >= UPM_N_GATES)
    return FALSE;
  c = routing->counts + ((gsize)layer * UPM_N_GATES + gate) * routing->n_expert;
  for (uint32_t e = 0; e < routing->n_expert; e++)
    total += c[e];
  if (total == 0)
    return FALSE;
  memcpy (counts, c, MIN (n_counts, routing->n_expert) * sizeof (uint32_t));
  return TRUE;
}

guint
upm_routing_n_token_runs (const UpmRouting *routing)
{
  return routing && routing->token_runs ? routing->token_runs->len : 0;
}

gboolean
upm_routing_token_run (const UpmRouting *routing, guint i, UpmTokenExperts *out)
{
  const TokenRun *r;

  if (i >= upm_routing_n_token_runs (routing))
    return FALSE;
  r = &g_array_index (routing->token_runs, TokenRun, i);
  out->layer = r->layer;
  out->gate = r->gate;
  out->token_begin = r->token_begin;
  out->n_tokens = r->n_tokens;
  out->experts = routing->token_ids->data + r->offset;
  return TRUE;
}

/* Record the dynamic decisions of @n rows (valid ones only). */
void
upm_routing_record (UpmRouting *rt, UpmModel *model, const UpmRouteScope *sc,
    uint32_t from, gboolean runs, uint32_t layer, UpmGateKind gate,
    const UpmTokenRoute *r, uint32_t n)
{
  const uint32_t group_rows = sc && sc->group_rows ? sc->group_rows : n;
  uint32_t *c = routing_counts (model, rt, layer, gate);
  TokenRun run = { layer, gate, 0, 0, 0 };

  if (!c)
    return;
  if (runs && rt->token_experts)
    {
      if (!rt->token_runs)
        {
          rt->token_runs = g_array_new (FALSE, FALSE, sizeof (TokenRun));
          rt->token_ids = g_byte_array_new ();
        }
      run.token_begin = from;
      run.offset = rt->token_ids->len;
    }
  for (uint32_t i = from; i < n; i++)
    {
      const uint32_t gi = i / group_rows, off = i % group_rows;
      if (sc && sc->n_valid && off >= sc->n_valid[gi])
        continue;
      c[r[i].expert[0]]++;
      c[r[i].expert[1]]++;
      if (runs && rt->token_experts)
        {
          g_byte_array_append (rt->token_ids, r[i].expert, 2);
          run.n_tokens++;
        }
    }
  if (runs && rt->token_experts)
    g_array_append_val (rt->token_runs, run);
}
