/* upm-cli.h: what upm-run and upm-eval share: their common options, exit
 * codes and messages, the model, progress on stderr and the output file.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_CLI_H
#define UPM_CLI_H

#include "upm.h"
#include "upm-format.h"

#include <stdio.h>

G_BEGIN_DECLS

#define UPM_CLI_EXIT_RUNTIME 1
#define UPM_CLI_EXIT_USAGE 2
#define UPM_CLI_DEFAULT_TOP_K 5

/* The options both tools have. */
typedef struct
{
  char *model, *output, *progress, *precision;
  int threads, top_k, beam_size, max_length;
  UpmPrecision
      precision_value; /* --precision parsed (upm_cli_parse_precision) */
} UpmCliOptions;

/* GOptionEntry initialisers of those options, for each tool's table (the
 * help of some differs from tool to tool). */
#define UPM_CLI_OPTION_MODEL(o)                                                \
  {                                                                            \
    "model", 'm', 0, G_OPTION_ARG_FILENAME, &(o)->model,                       \
        "Model file (.upm; default: the bundled model, $UPM_DEFAULT_MODEL "    \
        "if set)",                                                             \
        "FILE"                                                                 \
  }
#define UPM_CLI_OPTION_OUTPUT(o, help)                                         \
  {                                                                            \
    "output", 'o', 0, G_OPTION_ARG_FILENAME, &(o)->output, help, "FILE"        \
  }
#define UPM_CLI_OPTION_INT(name, short_name, field, help)                      \
  {                                                                            \
    name, short_name, 0, G_OPTION_ARG_INT, &(field), help, "N"                 \
  }
#define UPM_CLI_OPTION_PROGRESS(o)                                             \
  {                                                                            \
    "progress", 0, 0, G_OPTION_ARG_STRING, &(o)->progress,                     \
        "auto (default: when stderr is a terminal), always or never", "WHEN"   \
  }
#define UPM_CLI_OPTION_PRECISION(o)                                            \
  {                                                                            \
    "precision", 0, 0, G_OPTION_ARG_STRING, &(o)->precision,                   \
        "Engine precision: auto (default: $UPM_PRECISION, else the "           \
        "library's choice for this CPU), fp32, bf16, ... (upm-inspect --cpu)", \
        "NAME"                                                                 \
  }
#define UPM_CLI_OPTION_THREADS(o)                                              \
  UPM_CLI_OPTION_INT (                                                         \
      "threads", 'j', (o)->threads, "Threads (default 0: all cores)")

/* Parses @argv with @entries; @summary and @description for --help. */
gboolean upm_cli_parse (const GOptionEntry *entries, const char *summary,
    const char *description, int *argc, char ***argv, GError **error);

/* Sets a usage error (exit status 2) and returns FALSE. */
gboolean upm_cli_usage (GError **error, const char *format, ...)
    G_GNUC_PRINTF (2, 3);

/* --progress: auto (when stderr is a terminal), always or never. */
gboolean upm_cli_parse_progress (
    const char *when, gboolean *show, GError **error);

/* --precision (NULL: auto) into o->precision_value; a usage error naming
 * the precisions the library knows otherwise. */
gboolean upm_cli_parse_precision (UpmCliOptions *o, GError **error);

/* --top-k, or the default, at most @n. */
guint upm_cli_top_k (const UpmCliOptions *o, guint n);

void upm_cli_options_clear (UpmCliOptions *o);

/* "PROG: MESSAGE" and a pointer to --help; returns the usage exit status. */
int upm_cli_report_usage (const char *prog, GError **error);
/* "PROG: MESSAGE" on a line of its own (after a progress line). */
void upm_cli_report_error (
    const char *prog, gboolean show_progress, GError **error);

/* Loads @path (errors name the file) and makes a context for it in
 * @precision (the model's default too). */
gboolean upm_cli_load_model (const char *path, UpmPrecision precision,
    UpmModel **model, UpmContext **ctx, GError **error);

/* The precision @ctx runs in ("fp32", "bf16", ...), for the results. */
const char *upm_cli_precision_used (UpmContext *ctx);

/* Floats of one preprocessed frame (all its patches). */
gsize upm_cli_frame_floats (const UpmHParams *hp);

/* -------------------------------------------------- output and progress */

typedef struct
{
  FILE *out;
  gboolean show_progress;
  gint64 t_start;
} UpmCliOutput;

/* @path, or stdout for NULL and "-". */
gboolean upm_cli_open_output (
    UpmCliOutput *o, const char *path, GError **error);
void upm_cli_close_output (UpmCliOutput *o);
/* Writes @s (clearing the progress line on a terminal) and flushes. */
gboolean upm_cli_write (UpmCliOutput *o, const GString *s, GError **error);

/* The vocabulary features of @model (captioning), with progress. */
gboolean upm_cli_vocab_features (
    UpmModel *model, UpmCliOutput *o, GError **error);
/* "clip 3/10  2.50 clips/s  ETA 0:02", or without total and ETA when
 * @total <= 0; since o->t_start. */
void upm_cli_progress_clips (UpmCliOutput *o, guint done, gint64 total);
/* Ends the progress line. */
void upm_cli_progress_end (UpmCliOutput *o);

/* ------------------------------------------------------------ routing */

const char *upm_cli_gate_name (UpmGateKind gate);
/* The routes of @routing as formatter records; free with g_free. */
UpmFormatRoute *upm_cli_routes (const UpmRouting *routing, guint *n);

G_END_DECLS
#endif /* UPM_CLI_H */
