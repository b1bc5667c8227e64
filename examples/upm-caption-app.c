/* upm-caption-app.c: a media application on the uniperceiver plugin.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Builds  uridecodebin (a file or URI) | videotestsrc
 *           ! videoconvert ! upmbin ! appsink
 * pulls every text buffer upmbin outputs (one per clip) and prints what its
 * metas hold, read through the public header upmmeta.h:
 *
 *   GstUpmCaptionMeta  the caption, its score and tokens, with the clip times
 *   GstUpmResultMeta   the top labels and probabilities (--task classify)
 *   GstUpmRoutingMeta  per MoE layer and gate, the two experts and weights
 *
 * and the same metas as JSON (gst_upm_buffer_metas_to_json).
 *
 * Outside this tree:
 *   cc upm-caption-app.c $(pkg-config --cflags --libs gstupmmeta-1.0 \
 *       gstreamer-app-1.0) -o upm-caption-app
 *
 * usage: upm-caption-app [OPTION...] FILE|URI
 *        upm-caption-app --test-src [--live] [--num-buffers N] [OPTION...]
 * Exit status: 0 on success, 1 on an error (the element's message is
 * printed), 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/app/gstappsink.h>

#include <upmmeta.h>

typedef struct
{
  /* options */
  gchar *model;
  gchar *task;
  gchar *labels;
  gboolean test_src, live, no_json, no_routing;
  gint num_buffers;
  gint width, height, fps;
  gint clip_frames;
  gint top_k;

  GstElement *pipeline, *convert, *upm, *sink;
  guint n_results;
} App;

static void
format_time (gchar *out, gsize size, GstClockTime t)
{
  if (!GST_CLOCK_TIME_IS_VALID (t))
    {
      g_strlcpy (out, "--:--:--.---", size);
      return;
    }
  g_snprintf (out, size, "%02u:%02u:%02u.%03u",
      (guint)(t / (3600 * GST_SECOND)), (guint)(t / (60 * GST_SECOND) % 60),
      (guint)(t / GST_SECOND % 60), (guint)(t / GST_MSECOND % 1000));
}

/* Captions of an untrained model may hold control characters: print them as
 * spaces, one result per line. */
static gchar *
printable (const gchar *text)
{
  gchar *s = g_strdup (text ? text : ""), *p;

  for (p = s; *p; p++)
    if ((guchar)*p < 32 || *p == 127)
      *p = ' ';
  return s;
}

static void
print_routing (const GstUpmRoutingMeta *rm)
{
  guint i;

  printf ("  routing: model %s, %u layers, %u experts per MoE layer\n",
      rm->model ? rm->model : "?", rm->n_layers, rm->n_experts);
  for (i = 0; i < rm->n_routes; i++)
    {
      const GstUpmRoute *r = &rm->routes[i];

      printf ("    layer %2u %-4s %-16s tokens %3u-%-3u experts %u (%.2f) + "
              "%u (%.2f)\n",
          r->layer, gst_upm_gate_name (r->gate), r->segment ? r->segment : "?",
          r->token_begin, r->token_end, r->expert[0], r->weight[0],
          r->expert[1], r->weight[1]);
    }
}

/* Times are printed in stream time (what players show): buffer PTS through
 * the segment, which differ when an MP4 edit list starts the video at a PTS
 * above 0. The metas hold the buffer PTS. */
static void
print_buffer (App *app, GstBuffer *buf, const GstSegment *segment)
{
  GstUpmCaptionMeta *cm = gst_buffer_get_upm_caption_meta (buf);
  GstUpmResultMeta *res = gst_buffer_get_upm_result_meta (buf);
  GstUpmRoutingMeta *rm = gst_buffer_get_upm_routing_meta (buf);
  gchar begin[32], end[32];
  GstClockTime pts = GST_BUFFER_PTS (buf), dur = GST_BUFFER_DURATION (buf);
  GstClockTime t0 = pts, t1 = GST_CLOCK_TIME_NONE;

  app->n_results++;
  if (GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (dur))
    t1 = pts + dur;
  if (segment != NULL && segment->format == GST_FORMAT_TIME)
    {
      if (GST_CLOCK_TIME_IS_VALID (t0))
        t0 = gst_segment_to_stream_time (segment, GST_FORMAT_TIME, t0);
      if (GST_CLOCK_TIME_IS_VALID (t1))
        t1 = gst_segment_to_stream_time (segment, GST_FORMAT_TIME, t1);
    }
  format_time (begin, sizeof begin, t0);
  format_time (end, sizeof end, t1);

  if (cm != NULL)
    {
      gchar *text = printable (cm->text);

      printf ("[%s --> %s] caption \"%s\" (score %.2f, %u tokens)\n", begin,
          end, text, cm->score, cm->n_ids);
      g_free (text);
      if (cm->pts != pts || cm->duration != dur)
        printf ("  warning: the caption meta's times differ from the "
                "buffer's\n");
    }
  else if (res != NULL)
    {
      guint i;

      printf ("[%s --> %s] %s", begin, end, res->task);
      for (i = 0; i < res->n_scores; i++)
        {
          gchar *label = printable (res->scores[i].label);

          printf ("%s %s %.2f", i == 0 ? "" : " |", label, res->scores[i].prob);
          g_free (label);
        }
      printf ("\n");
      if (res->pts != pts || res->duration != dur)
        printf ("  warning: the result meta's times differ from the "
                "buffer's\n");
    }
  else
    {
      printf ("[%s --> %s] (no result or caption meta)\n", begin, end);
    }

  if (rm != NULL && !app->no_routing)
    print_routing (rm);

  if (!app->no_json)
    {
      gchar *json = gst_upm_buffer_metas_to_json (buf);

      printf ("  json %s\n", json ? json : "null");
      g_free (json);
    }
}

/* uridecodebin: link its first video pad to videoconvert. */
static void
on_pad_added (GstElement *dec, GstPad *pad, App *app)
{
  GstPad *sinkpad = gst_element_get_static_pad (app->convert, "sink");
  GstCaps *caps = gst_pad_get_current_caps (pad);
  const gchar *name;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  name = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  if (g_str_has_prefix (name, "video/x-raw") && !gst_pad_is_linked (sinkpad))
    {
      if (GST_PAD_LINK_FAILED (gst_pad_link (pad, sinkpad)))
        fprintf (stderr, "warning: could not link the decoded video\n");
    }
  gst_caps_unref (caps);
  gst_object_unref (sinkpad);
}

/* The element's message, and the last line of its debug string (the hint;
 * the lines before it name the source file and function). */
static void
print_error (GstMessage *msg)
{
  GError *err = NULL;
  gchar *debug = NULL;

  gst_message_parse_error (msg, &err, &debug);
  fprintf (stderr, "error: %s\n", err->message);
  if (debug != NULL)
    {
      const gchar *hint = strrchr (debug, '\n');

      hint = hint ? hint + 1 : debug;
      if (*hint)
        fprintf (stderr, "  (%s)\n", hint);
    }
  g_clear_error (&err);
  g_free (debug);
}

static GstElement *
make (const gchar *factory, const gchar *name)
{
  GstElement *e = gst_element_factory_make (factory, name);

  if (e == NULL)
    fprintf (stderr, "error: the GStreamer element \"%s\" is missing%s\n",
        factory,
        g_str_has_prefix (factory, "upm")
            ? " (set GST_PLUGIN_PATH to build/plugins/uniperceiver)"
            : "");
  return e;
}

static gboolean
build_pipeline (App *app, const gchar *input)
{
  GstElement *src, *caps = NULL;

  app->pipeline = gst_pipeline_new ("upm-caption-app");
  app->convert = make ("videoconvert", "convert");
  app->upm = make ("upmbin", "upm");
  app->sink = make ("appsink", "sink");
  if (app->test_src)
    {
      src = make ("videotestsrc", "src");
      caps = make ("capsfilter", "caps");
    }
  else
    {
      src = make ("uridecodebin", "src");
    }
  if (!app->convert || !app->upm || !app->sink || !src
      || (app->test_src && !caps))
    {
      /* the ones made are floating: sink them and drop them */
      GstElement *all[] = { app->convert, app->upm, app->sink, src, caps };
      guint i;

      for (i = 0; i < G_N_ELEMENTS (all); i++)
        if (all[i])
          gst_object_unref (gst_object_ref_sink (all[i]));
      app->convert = app->upm = app->sink = NULL;
      return FALSE;
    }

  gst_bin_add_many (
      GST_BIN (app->pipeline), src, app->convert, app->upm, app->sink, NULL);
  if (app->test_src)
    {
      GstCaps *c = gst_caps_new_simple ("video/x-raw", "width", G_TYPE_INT,
          app->width, "height", G_TYPE_INT, app->height, "framerate",
          GST_TYPE_FRACTION, app->fps, 1, NULL);

      g_object_set (
          src, "is-live", app->live, "num-buffers", app->num_buffers, NULL);
      gst_util_set_object_arg (G_OBJECT (src), "pattern", "ball");
      g_object_set (caps, "caps", c, NULL);
      gst_caps_unref (c);
      gst_bin_add (GST_BIN (app->pipeline), caps);
      if (!gst_element_link_many (src, caps, app->convert, NULL))
        return FALSE;
    }
  else
    {
      gchar *uri;

      if (gst_uri_is_valid (input))
        uri = g_strdup (input);
      else
        {
          GError *err = NULL;

          uri = gst_filename_to_uri (input, &err);
          if (uri == NULL)
            {
              fprintf (stderr, "error: %s\n", err->message);
              g_clear_error (&err);
              return FALSE;
            }
        }
      g_object_set (src, "uri", uri, NULL);
      g_free (uri);
      g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added), app);
    }
  if (!gst_element_link_many (app->convert, app->upm, app->sink, NULL))
    return FALSE;

  if (app->model)
    g_object_set (app->upm, "model", app->model, NULL);
  gst_util_set_object_arg (G_OBJECT (app->upm), "task", app->task);
  if (app->labels)
    g_object_set (app->upm, "labels", app->labels, NULL);
  if (app->clip_frames > 0)
    g_object_set (app->upm, "clip-frames", (guint)app->clip_frames, NULL);
  if (app->top_k > 0)
    g_object_set (app->upm, "top-k", (guint)app->top_k, NULL);
  /* as fast as results come; no sync on a file, keep all of them */
  g_object_set (app->sink, "sync", FALSE, "max-buffers", 0, NULL);
  return TRUE;
}

static int
run (App *app)
{
  GstAppSink *sink = GST_APP_SINK (app->sink);
  GstBus *bus = gst_element_get_bus (app->pipeline);
  int status = 0;

  if (gst_element_set_state (app->pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE)
    {
      GstMessage *msg = gst_bus_timed_pop_filtered (bus, 0, GST_MESSAGE_ERROR);

      if (msg)
        {
          print_error (msg);
          gst_message_unref (msg);
        }
      else
        {
          fprintf (stderr, "error: the pipeline could not start\n");
        }
      gst_object_unref (bus);
      return 1;
    }

  for (;;)
    {
      GstSample *sample = gst_app_sink_try_pull_sample (sink, 50 * GST_MSECOND);
      GstMessage *msg;

      if (sample != NULL)
        {
          print_buffer (app, gst_sample_get_buffer (sample),
              gst_sample_get_segment (sample));
          gst_sample_unref (sample);
          continue;
        }
      msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
      if (msg != NULL)
        {
          gboolean error = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR;

          if (error)
            print_error (msg);
          gst_message_unref (msg);
          if (error)
            {
              status = 1;
              break;
            }
        }
      if (gst_app_sink_is_eos (sink))
        break;
    }
  gst_object_unref (bus);
  return status;
}

int
main (int argc, char **argv)
{
  App app = {
    .task = NULL,
    .num_buffers = 32,
    .width = 64,
    .height = 64,
    .fps = 8,
  };
  GOptionEntry entries[]
      = { { "model", 'm', 0, G_OPTION_ARG_FILENAME, &app.model,
              "Model file (.upm); default: the bundled model", "FILE" },
          { "task", 't', 0, G_OPTION_ARG_STRING, &app.task,
              "caption (default) or classify", "TASK" },
          { "labels", 'l', 0, G_OPTION_ARG_STRING, &app.labels,
              "Comma-separated labels (classify)", "LIST" },
          { "top-k", 'k', 0, G_OPTION_ARG_INT, &app.top_k,
              "Labels per result (classify)", "K" },
          { "clip-frames", 0, 0, G_OPTION_ARG_INT, &app.clip_frames,
              "Frames per clip (default: the model's)", "N" },
          { "test-src", 0, 0, G_OPTION_ARG_NONE, &app.test_src,
              "Caption videotestsrc instead of a file", NULL },
          { "live", 0, 0, G_OPTION_ARG_NONE, &app.live,
              "Make the test source live (real time)", NULL },
          { "num-buffers", 'n', 0, G_OPTION_ARG_INT, &app.num_buffers,
              "Frames of the test source (default 32)", "N" },
          { "width", 0, 0, G_OPTION_ARG_INT, &app.width,
              "Width of the test source (default 64)", "W" },
          { "height", 0, 0, G_OPTION_ARG_INT, &app.height,
              "Height of the test source (default 64)", "H" },
          { "fps", 0, 0, G_OPTION_ARG_INT, &app.fps,
              "Frame rate of the test source (default 8)", "N" },
          { "no-json", 0, 0, G_OPTION_ARG_NONE, &app.no_json,
              "Do not print the JSON of the metas", NULL },
          { "no-routing", 0, 0, G_OPTION_ARG_NONE, &app.no_routing,
              "Do not print the routing", NULL },
          { NULL } };
  GOptionContext *ctx;
  GError *err = NULL;
  const gchar *input = NULL;
  guint64 dropped = 0;
  int status;

  /* UTF-8 captions as they are (g_print would convert them to the locale's
   * charset), a line as soon as it is complete */
  setvbuf (stdout, NULL, _IOLBF, 0);
  ctx = g_option_context_new ("FILE|URI  - caption a video with upmbin");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err))
    {
      fprintf (stderr, "error: %s\n", err->message);
      g_clear_error (&err);
      g_option_context_free (ctx);
      return 2;
    }
  g_option_context_free (ctx);

  if (app.task == NULL)
    app.task = g_strdup ("caption");
  if (!g_str_equal (app.task, "caption") && !g_str_equal (app.task, "classify")
      && !g_str_equal (app.task, "retrieve"))
    {
      fprintf (stderr,
          "error: --task is caption, classify or retrieve, not \"%s\"\n",
          app.task);
      return 2;
    }
  if (app.test_src)
    {
      if (argc > 1)
        {
          fprintf (stderr, "error: give a file or --test-src, not both\n");
          return 2;
        }
      if (app.num_buffers == 0 || app.width <= 0 || app.height <= 0
          || app.fps <= 0)
        {
          fprintf (stderr,
              "error: --num-buffers, --width, --height and --fps must "
              "be positive\n");
          return 2;
        }
    }
  else
    {
      if (argc != 2)
        {
          fprintf (stderr,
              "usage: %s [OPTION...] FILE|URI   (or --test-src; see "
              "--help)\n",
              argv[0]);
          return 2;
        }
      input = argv[1];
      if (!gst_uri_is_valid (input)
          && !g_file_test (input, G_FILE_TEST_IS_REGULAR))
        {
          fprintf (stderr, "error: no such file: %s\n", input);
          return 1;
        }
    }
  if (app.model && !g_file_test (app.model, G_FILE_TEST_IS_REGULAR))
    {
      fprintf (stderr, "error: no such model file: %s\n", app.model);
      return 1;
    }

  if (!build_pipeline (&app, input))
    {
      if (app.pipeline && app.upm)
        fprintf (stderr, "error: could not build the pipeline\n");
      gst_object_unref (app.pipeline);
      return 1;
    }

  status = run (&app);
  g_object_get (app.upm, "dropped", &dropped, NULL);
  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  if (status == 0)
    printf ("%u results, %" G_GUINT64_FORMAT " clips dropped\n", app.n_results,
        dropped);

  gst_object_unref (app.pipeline);
  g_free (app.model);
  g_free (app.task);
  g_free (app.labels);
  gst_deinit ();
  return status;
}
