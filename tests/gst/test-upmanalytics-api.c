/* test-upmanalytics-api.c: the custom Mtds' API of gstupmmeta-1.0
 * (upmanalytics.h): what is added is what the accessors give back, on the
 * buffer and on copies of it; gst_upm_buffer_add_analytics maps our metas
 * as docs/analytics.md says. Skipped (77) without GstAnalytics.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/gst.h>

#ifndef UPM_HAVE_GST_ANALYTICS

int
main (void)
{
  g_print ("SKIP: built without GstAnalytics (GStreamer < 1.26 or "
           "-Danalytics=disabled)\n");
  return 77;
}

#else

#include <gst/check/gstcheck.h>
#include <string.h>

#include "upm-test-harness.h"
#include "upmanalytics.h"

static const GstUpmRoute routes[] = {
  { 0, GST_UPM_GATE_ATTN, "cls_input", 0, 17, { 3, 1 }, { 0.75f, 0.25f } },
  { 1, GST_UPM_GATE_FFN, "caption_prefix", 1, 17, { 0, 7 }, { 0.5f, 0.5f } },
};

static void
check_routes (const GstUpmRoutingMtd *mtd)
{
  GstUpmRoute r;

  fail_unless_equals_string (gst_upm_routing_mtd_get_model (mtd), "tiny");
  fail_unless_equals_int (gst_upm_routing_mtd_get_n_layers (mtd), 2);
  fail_unless_equals_int (gst_upm_routing_mtd_get_n_experts (mtd), 8);
  fail_unless_equals_int (gst_upm_routing_mtd_get_n_routes (mtd), 2);
  for (guint i = 0; i < 2; i++)
    {
      fail_unless (gst_upm_routing_mtd_get_route (mtd, i, &r));
      fail_unless_equals_int (r.layer, routes[i].layer);
      fail_unless_equals_int (r.gate, routes[i].gate);
      fail_unless_equals_string (r.segment, routes[i].segment);
      fail_unless_equals_int (r.token_begin, routes[i].token_begin);
      fail_unless_equals_int (r.token_end, routes[i].token_end);
      fail_unless_equals_int (r.expert[0], routes[i].expert[0]);
      fail_unless_equals_int (r.expert[1], routes[i].expert[1]);
      fail_unless_equals_float (r.weight[0], routes[i].weight[0]);
      fail_unless_equals_float (r.weight[1], routes[i].weight[1]);
    }
  fail_if (gst_upm_routing_mtd_get_route (mtd, 2, &r));
}

static void
check_caption (const GstUpmCaptionMtd *mtd, const gchar *text,
    const gint32 *ids, guint n_ids, gfloat score)
{
  guint n = 99;
  const gint32 *got = gst_upm_caption_mtd_get_ids (mtd, &n);

  fail_unless_equals_string (gst_upm_caption_mtd_get_text (mtd), text);
  fail_unless_equals_float (gst_upm_caption_mtd_get_score (mtd), score);
  fail_unless_equals_int (n, n_ids);
  fail_unless (n_ids == 0 || memcmp (got, ids, n_ids * sizeof (gint32)) == 0);
}

GST_START_TEST (test_round_trip)
{
  const gint32 ids[] = { 320, 1929, 4, 49407 - 1 };
  GstBuffer *buf = gst_buffer_new (), *copy;
  GstAnalyticsRelationMeta *rmeta
      = gst_buffer_add_analytics_relation_meta (buf);
  GstUpmClipMtd clip;
  GstUpmCaptionMtd cap, empty;
  GstUpmRoutingMtd rt;
  GstAnalyticsMtd any;

  fail_unless (gst_upm_relation_meta_add_clip_mtd (
      rmeta, 2 * GST_SECOND, GST_SECOND / 2, 12, "classify", "k400", &clip));
  fail_unless (gst_upm_relation_meta_add_caption_mtd (
      rmeta, "a man is cooking", -0.5f, ids, G_N_ELEMENTS (ids), &cap));
  fail_unless (
      gst_upm_relation_meta_add_caption_mtd (rmeta, "", 0, NULL, 0, &empty));
  fail_unless (gst_upm_relation_meta_add_routing_mtd (
      rmeta, "tiny", 2, 8, routes, G_N_ELEMENTS (routes), &rt));

  fail_unless_equals_string (
      gst_analytics_mtd_type_get_name (gst_upm_clip_mtd_get_mtd_type ()),
      "upm-clip");
  fail_unless_equals_string (
      gst_analytics_mtd_type_get_name (gst_analytics_mtd_get_mtd_type (&cap)),
      "upm-caption");
  fail_unless_equals_string (
      gst_analytics_mtd_type_get_name (gst_upm_routing_mtd_get_mtd_type ()),
      "upm-routing");
  fail_unless_equals_uint64 (gst_upm_clip_mtd_get_pts (&clip), 2 * GST_SECOND);
  fail_unless_equals_uint64 (
      gst_upm_clip_mtd_get_duration (&clip), GST_SECOND / 2);
  fail_unless_equals_int (gst_upm_clip_mtd_get_n_views (&clip), 12);
  fail_unless_equals_string (gst_upm_clip_mtd_get_task (&clip), "classify");
  fail_unless_equals_string (gst_upm_clip_mtd_get_preset (&clip), "k400");
  check_caption (&cap, "a man is cooking", ids, G_N_ELEMENTS (ids), -0.5f);
  check_caption (&empty, "", NULL, 0, 0);
  check_routes (&rt);

  /* by id and type; another type's id is refused, its accessors give the
   * unset values */
  fail_unless (gst_upm_relation_meta_get_caption_mtd (rmeta, cap.id, &any));
  fail_if (gst_upm_relation_meta_get_caption_mtd (rmeta, clip.id, &any));
  fail_if (gst_upm_relation_meta_get_clip_mtd (rmeta, rt.id, &any));
  fail_if (gst_upm_relation_meta_get_routing_mtd (rmeta, cap.id, &any));
  fail_if (gst_upm_relation_meta_get_routing_mtd (rmeta, 99, &any));
  fail_unless (gst_upm_caption_mtd_get_text (&clip) == NULL);
  fail_unless_equals_int (gst_upm_routing_mtd_get_n_routes (&cap), 0);
  fail_unless_equals_uint64 (
      gst_upm_clip_mtd_get_pts (&rt), GST_CLOCK_TIME_NONE);

  /* a copy holds its own data */
  copy = gst_buffer_copy (buf);
  gst_buffer_unref (buf);
  rmeta = gst_buffer_get_analytics_relation_meta (copy);
  fail_unless (gst_upm_relation_meta_get_caption_mtd (rmeta, cap.id, &cap));
  check_caption (&cap, "a man is cooking", ids, G_N_ELEMENTS (ids), -0.5f);
  fail_unless (gst_upm_relation_meta_get_routing_mtd (rmeta, rt.id, &rt));
  check_routes (&rt);
  fail_unless (gst_upm_relation_meta_get_clip_mtd (rmeta, clip.id, &clip));
  fail_unless_equals_string (gst_upm_clip_mtd_get_preset (&clip), "k400");
  gst_buffer_unref (copy);
}

GST_END_TEST;

/* The one Mtd of @type that the clip CONTAINs and that IS_PART_OF it. */
static GstAnalyticsMtd
contained (GstAnalyticsRelationMeta *rmeta, const GstUpmClipMtd *clip,
    GstAnalyticsMtdType type)
{
  GstAnalyticsMtd mtd, other;
  gpointer state = NULL;

  fail_unless (gst_analytics_relation_meta_get_direct_related (
      rmeta, clip->id, GST_ANALYTICS_REL_TYPE_CONTAIN, type, &state, &mtd));
  fail_if (gst_analytics_relation_meta_get_direct_related (
      rmeta, clip->id, GST_ANALYTICS_REL_TYPE_CONTAIN, type, &state, &other));
  fail_unless_equals_int (
      gst_analytics_relation_meta_get_relation (rmeta, mtd.id, clip->id),
      GST_ANALYTICS_REL_TYPE_IS_PART_OF);
  return mtd;
}

GST_START_TEST (test_from_result_metas)
{
  GstUpmScore scores[] = {
    { (gchar *)"a dog", 2, 30.f, 0.7f },
    { (gchar *)"a cat", 0, 25.f, 0.2f },
    { (gchar *)"a car", 5, 20.f, 0.05f },
  };
  GstUpmViewBox box = { 0 };
  guint64 frame = 0;
  GstClockTime fpts = 0;
  GstBuffer *buf = gst_buffer_new ();
  GstAnalyticsRelationMeta *rmeta;
  GstUpmResultMeta *result;
  GstAnalyticsMtd clip, mtd;
  gpointer state = NULL;

  /* no result, no caption: nothing */
  fail_unless (gst_upm_buffer_add_analytics (buf) == NULL);
  fail_unless (gst_buffer_get_analytics_relation_meta (buf) == NULL);

  result = gst_buffer_add_upm_result_meta (
      buf, "classify", GST_SECOND, GST_SECOND / 2, scores, 3);
  gst_upm_result_meta_set_preset (result, "k400");
  gst_buffer_add_upm_routing_meta (
      buf, "tiny", 2, 8, GST_SECOND, GST_SECOND / 2, routes, 2);
  for (guint v = 0; v < 2; v++)
    gst_buffer_add_upm_view_meta (
        buf, 0, v, 2, v, 0, &frame, &fpts, 1, &box, GST_SECOND, GST_SECOND / 2);

  rmeta = gst_upm_buffer_add_analytics (buf);
  fail_unless (rmeta != NULL);
  fail_unless (rmeta == gst_buffer_get_analytics_relation_meta (buf));
  fail_unless_equals_int ((gint)gst_analytics_relation_get_length (rmeta), 3);
  fail_unless (gst_analytics_relation_meta_iterate (
      rmeta, &state, gst_upm_clip_mtd_get_mtd_type (), &clip));
  fail_unless_equals_uint64 (gst_upm_clip_mtd_get_pts (&clip), GST_SECOND);
  fail_unless_equals_int (gst_upm_clip_mtd_get_n_views (&clip), 2);
  fail_unless_equals_string (gst_upm_clip_mtd_get_task (&clip), "classify");
  fail_unless_equals_string (gst_upm_clip_mtd_get_preset (&clip), "k400");

  mtd = contained (rmeta, &clip, gst_analytics_cls_mtd_get_mtd_type ());
  fail_unless_equals_int ((gint)gst_analytics_cls_mtd_get_length (&mtd), 3);
  for (guint i = 0; i < 3; i++)
    {
      fail_unless_equals_string (
          g_quark_to_string (gst_analytics_cls_mtd_get_quark (&mtd, i)),
          scores[i].label);
      fail_unless_equals_float (
          gst_analytics_cls_mtd_get_level (&mtd, i), scores[i].prob);
    }
  mtd = contained (rmeta, &clip, gst_upm_routing_mtd_get_mtd_type ());
  check_routes (&mtd);
  state = NULL;
  fail_if (gst_analytics_relation_meta_iterate (
      rmeta, &state, gst_upm_caption_mtd_get_mtd_type (), &mtd));
  gst_buffer_unref (buf);
}

GST_END_TEST;

GST_START_TEST (test_from_caption_meta)
{
  const gint32 ids[] = { 1, 2, 3 };
  GstBuffer *buf = gst_buffer_new ();
  GstAnalyticsRelationMeta *rmeta;
  GstAnalyticsMtd clip, mtd;
  gpointer state = NULL;

  gst_buffer_add_upm_caption_meta (
      buf, "a ball", ids, 3, -1.25f, 3 * GST_SECOND, GST_SECOND);
  rmeta = gst_upm_buffer_add_analytics (buf);
  fail_unless (rmeta != NULL);
  /* no routing meta: clip and caption only */
  fail_unless_equals_int ((gint)gst_analytics_relation_get_length (rmeta), 2);
  fail_unless (gst_analytics_relation_meta_iterate (
      rmeta, &state, gst_upm_clip_mtd_get_mtd_type (), &clip));
  fail_unless_equals_string (gst_upm_clip_mtd_get_task (&clip), "caption");
  fail_unless (gst_upm_clip_mtd_get_preset (&clip) == NULL);
  fail_unless_equals_int (gst_upm_clip_mtd_get_n_views (&clip), 1);
  fail_unless_equals_uint64 (gst_upm_clip_mtd_get_duration (&clip), GST_SECOND);
  mtd = contained (rmeta, &clip, gst_upm_caption_mtd_get_mtd_type ());
  check_caption (&mtd, "a ball", ids, 3, -1.25f);
  gst_buffer_unref (buf);
}

GST_END_TEST;

static const UpmCheckTest upmanalytics_api_tests[] = {
  UPM_CHECK_TEST (test_round_trip),
  UPM_CHECK_TEST (test_from_result_metas),
  UPM_CHECK_TEST (test_from_caption_meta),
};

UPM_CHECK_MAIN (upmanalytics_api, NULL);

#endif /* UPM_HAVE_GST_ANALYTICS */
