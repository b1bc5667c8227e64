/* upm-batcher.h: the per-model batcher (upm-batcher.c). Contexts that
 * share one model submit work (a clip to encode, a caption decode step);
 * the batcher gathers the jobs of one kind that are ready and runs them
 * together in the thread of one submitter (the leader), so that their
 * linear layers run as one GEMM over the rows of all jobs. Uses the model
 * (its cache slot) and GLib only: what a batch computes is the run
 * function's business (the encoder's, the caption decoder's).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_BATCHER_H
#define UPM_BATCHER_H

#include "upm-model.h"

G_BEGIN_DECLS

typedef struct _UpmBatcher UpmBatcher;
typedef struct _UpmBatchJob UpmBatchJob;

/* Runs @n jobs of one kind and key together (n >= 1), in the thread of
 * one of their submitters, with no lock held; sets each job's ok (and
 * error). */
typedef void (*UpmBatchRun) (UpmBatchJob **jobs, guint n);

/* The most jobs one batch takes (bounds the rows of the batch's GEMMs and
 * its scratch). */
#define UPM_BATCH_MAX_JOBS 32u
/* ... and the most rows (the sum of the jobs' rows; a batch takes one job
 * at least): measured on the bundled model (D 96, 145-token clips), the
 * clips' rows past ~600 no longer fit the 1 MiB L2 of a core with their
 * FFN activations, and a batch of 13 clips cost 24% more CPU per clip
 * than the clips one by one, while 4 clips cost the same. */
#define UPM_BATCH_MAX_ROWS 640u

struct _UpmBatchJob
{
  /* Set by the submitter: jobs batch together only when both match. */
  UpmBatchRun run;
  gpointer key;
  gpointer data;
  guint rows; /* the rows the job adds to the batch's GEMMs */
  /* Set by the run function. */
  gboolean ok;
  GError *error;
  /* The batcher's: the submitter waits on its job's own condition, so
   * that a batch wakes the threads of its jobs and the next leader only. */
  gint64 deadline;
  gboolean taken, done;
  GCond cond;
};

/* What a submitter (a context) is a member of: the kinds and keys it has
 * submitted jobs of. The batcher runs a batch at once when every member of
 * its kind and key has submitted. Zero-initialised. */
#define UPM_BATCH_MAX_KINDS 4u

typedef struct
{
  UpmBatchRun run[UPM_BATCH_MAX_KINDS];
  gpointer key[UPM_BATCH_MAX_KINDS];
  guint n;
} UpmBatchMember;

/* The model's batcher (built on first use, freed with the model). */
UpmBatcher *upm_batcher_get (UpmModel *model);

/* Leave every kind @member joined (a context stopping batching or freed):
 * wakes the waiting submitters, so that a stream stopping never keeps the
 * others waiting. */
void upm_batcher_leave (UpmBatcher *batcher, UpmBatchMember *member);

/* Submit @job and return once it has run (job->ok, job->error set): in
 * this thread as the leader of a batch, when the oldest pending job of
 * its kind has waited @wait_us or every member of its kind has submitted
 * (a lone member runs at once), or in another submitter's thread. The
 * submitter joins the job's kind on its first job of that kind. Waits are
 * bounded: by @wait_us, then by the run of the batch that took the job. */
void upm_batcher_submit (UpmBatcher *batcher, UpmBatchMember *member,
    UpmBatchJob *job, gint64 wait_us);

/* Counters (tests and benchmarks): batches run and jobs they took. */
void upm_batcher_stats (UpmBatcher *batcher, guint64 *batches, guint64 *jobs);

G_END_DECLS
#endif /* UPM_BATCHER_H */
