/* upm-cli.c: what upm-run and upm-eval share.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "upm-cli.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* ------------------------------------------------------------ options */

gboolean
upm_cli_parse (const GOptionEntry *entries, const char *summary,
    const char *description, int *argc, char ***argv, GError **error)
{
  GOptionContext *oc = g_option_context_new (NULL);
  gboolean ok;

  g_option_context_set_summary (oc, summary);
  g_option_context_set_description (oc, description);
  g_option_context_add_main_entries (oc, entries, NULL);
  ok = g_option_context_parse (oc, argc, argv, error);
  g_option_context_free (oc);
  return ok;
}

gboolean
upm_cli_usage (GError **error, const char *format, ...)
{
  va_list ap;
  char *msg;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error_literal (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT, msg);
  g_free (msg);
  return FALSE;
}

gboolean
upm_cli_parse_progress (const char *when, gboolean *show, GError **error)
{
  if (when == NULL || g_str_equal (when, "auto"))
    *show = isatty (2);
  else if (g_str_equal (when, "always"))
    *show = TRUE;
  else if (g_str_equal (when, "never"))
    *show = FALSE;
  else
    return upm_cli_usage (error, "--progress must be auto, always or never");
  return TRUE;
}

guint
upm_cli_top_k (const UpmCliOptions *o, guint n)
{
  return MIN (o->top_k > 0 ? (guint)o->top_k : UPM_CLI_DEFAULT_TOP_K, n);
}

void
upm_cli_options_clear (UpmCliOptions *o)
{
  g_free (o->model);
  g_free (o->output);
  g_free (o->progress);
  g_free (o->precision);
}

gboolean
upm_cli_parse_precision (UpmCliOptions *o, GError **error)
{
  GString *names;

  o->precision_value = UPM_PRECISION_AUTO;
  if (o->precision == NULL
      || upm_precision_parse (o->precision, &o->precision_value))
    return TRUE;
  /* the library's names, so that a precision it adds is listed */
  names = g_string_new (NULL);
  for (int i = 0; i < 64; i++)
    {
      const char *name = upm_precision_name ((UpmPrecision)i);
      UpmPrecision p;

      if (!upm_precision_parse (name, &p) || (int)p != i)
        break;
      g_string_append_printf (names, "%s%s", i ? ", " : "", name);
    }
  upm_cli_usage (
      error, "unknown precision '%s' (%s)", o->precision, names->str);
  g_string_free (names, TRUE);
  return FALSE;
}

int
upm_cli_report_usage (const char *prog, GError **error)
{
  g_printerr ("%s: %s\nTry '%s --help' for more information.\n", prog,
      (*error)->message, prog);
  g_clear_error (error);
  return UPM_CLI_EXIT_USAGE;
}

void
upm_cli_report_error (const char *prog, gboolean show_progress, GError **error)
{
  if (*error == NULL)
    return;
  if (show_progress)
    g_printerr ("\n");
  g_printerr ("%s: %s\n", prog, (*error)->message);
  g_clear_error (error);
}

/* -------------------------------------------------------------- model */

gboolean
upm_cli_load_model (const char *path, UpmPrecision precision, UpmModel **model,
    UpmContext **ctx, GError **error)
{
  GError *err = NULL;

  *model = upm_model_load (path, &err);
  if (*model == NULL)
    {
      if (strstr (err->message, path) == NULL)
        g_prefix_error (&err, "%s: ", path);
      g_propagate_error (error, err);
      return FALSE;
    }
  upm_model_set_precision (*model, precision);
  *ctx = upm_context_new (*model);
  upm_context_set_precision (*ctx, precision);
  return TRUE;
}

const char *
upm_cli_precision_used (UpmContext *ctx)
{
  return upm_precision_name (upm_context_precision (ctx));
}

gsize
upm_cli_frame_floats (const UpmHParams *hp)
{
  return (gsize)UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
}

/* ------------------------------------------------- output and progress */

gboolean
upm_cli_open_output (UpmCliOutput *o, const char *path, GError **error)
{
  if (path == NULL || g_str_equal (path, "-"))
    {
      o->out = stdout;
    }
  else if ((o->out = g_fopen (path, "w")) == NULL)
    {
      g_set_error (
          error, UPM_ERROR, UPM_ERROR_IO, "%s: %s", path, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

void
upm_cli_close_output (UpmCliOutput *o)
{
  if (o->out && o->out != stdout)
    fclose (o->out);
  o->out = NULL;
}

gboolean
upm_cli_write (UpmCliOutput *o, const GString *s, GError **error)
{
  gboolean ok;

  if (o->show_progress && o->out == stdout && isatty (1))
    g_printerr ("\r\033[K");
  ok = fwrite (s->str, 1, s->len, o->out) == s->len && fflush (o->out) == 0;
  if (!ok)
    g_set_error (error, UPM_ERROR, UPM_ERROR_IO, "cannot write output: %s",
        g_strerror (errno));
  return ok;
}

static void
vocab_progress (double fraction, const char *what, gpointer user_data)
{
  UpmCliOutput *o = user_data;

  if (!o->show_progress)
    return;
  g_printerr ("\r%s: %3.0f%%   ", what ? what : "vocabulary features",
      100.0 * CLAMP (fraction, 0.0, 1.0));
  if (fraction >= 1.0)
    g_printerr ("\n");
}

gboolean
upm_cli_vocab_features (UpmModel *model, UpmCliOutput *o, GError **error)
{
  return upm_model_vocab_features (model, vocab_progress, o, error) != NULL;
}

void
upm_cli_progress_clips (UpmCliOutput *o, guint done, gint64 total)
{
  double dt = (g_get_monotonic_time () - o->t_start) / 1e6;
  double rate = dt > 0.0 ? done / dt : 0.0;

  if (!o->show_progress)
    return;
  if (total > 0)
    {
      gint64 left = MAX (total - (gint64)done, 0);
      int eta = rate > 0.0 ? (int)(left / rate) : 0;

      g_printerr ("\rclip %u/%" G_GINT64_FORMAT
                  "  %.2f clips/s  ETA %d:%02d   ",
          done, total, rate, eta / 60, eta % 60);
    }
  else
    {
      g_printerr ("\rclip %u  %.2f clips/s   ", done, rate);
    }
}

void
upm_cli_progress_end (UpmCliOutput *o)
{
  if (o->show_progress)
    g_printerr ("\n");
}

/* ------------------------------------------------------------ routing */

const char *
upm_cli_gate_name (UpmGateKind gate)
{
  return gate == UPM_GATE_ATTN ? "attn" : "ffn";
}

UpmFormatRoute *
upm_cli_routes (const UpmRouting *routing, guint *n)
{
  guint i, len = routing->routes ? routing->routes->len : 0;
  UpmFormatRoute *out = g_new0 (UpmFormatRoute, MAX (len, 1));

  for (i = 0; i < len; i++)
    {
      const UpmRoute *rt = &g_array_index (routing->routes, UpmRoute, i);

      out[i] = (UpmFormatRoute){ .layer = rt->layer,
        .gate = upm_cli_gate_name (rt->gate),
        .segment = upm_attr_name (rt->attr),
        .token_begin = rt->token_begin,
        .token_end = rt->token_end,
        .expert = { rt->expert[0], rt->expert[1] },
        .weight = { rt->weight[0], rt->weight[1] } };
    }
  *n = len;
  return out;
}
