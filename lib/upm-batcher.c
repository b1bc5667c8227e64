/* upm-batcher.c: the per-model batcher. Submitters of one model append
 * their jobs to one pending list; one of them (the leader) takes the
 * pending jobs of one kind and key and runs them together while the
 * others wait on the batcher's condition. Only one batch of a kind and key
 * runs at a time: what arrives meanwhile gathers into the next batch.
 *
 * Every wait is bounded: a submitter whose job is not taken waits until
 * the oldest pending job of its kind reaches its deadline (then runs it
 * itself), a submitter whose job was taken waits for the batch's run to
 * end (the leader always marks its jobs done).
 *
 * Uses: the model (its cache slot) and GLib.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-batcher.h"

/* A job taken by another batch is re-checked at least this often (the
 * run's end broadcasts; this only bounds each wait). */
#define RECHECK_US (100 * G_TIME_SPAN_MILLISECOND)

struct _UpmBatcher
{
  GMutex lock;
  GCond cond;
  GPtrArray *pending; /* UpmBatchJob *, in submission order */
  GPtrArray *running; /* the first job of each batch being run */
  guint n_members;
  guint64 n_batches, n_jobs;
};

static gpointer
batcher_new (UpmModel *model)
{
  UpmBatcher *b = g_new0 (UpmBatcher, 1);

  (void)model;
  g_mutex_init (&b->lock);
  g_cond_init (&b->cond);
  b->pending = g_ptr_array_new ();
  b->running = g_ptr_array_new ();
  return b;
}

static void
batcher_free (gpointer data)
{
  UpmBatcher *b = data;

  g_ptr_array_free (b->pending, TRUE);
  g_ptr_array_free (b->running, TRUE);
  g_cond_clear (&b->cond);
  g_mutex_clear (&b->lock);
  g_free (b);
}

UpmBatcher *
upm_batcher_get (UpmModel *model)
{
  UpmBatcher *b;

  g_mutex_lock (&model->lock);
  b = upm_model_cache_locked (
      model, UPM_MODEL_CACHE_BATCHER, batcher_new, batcher_free);
  g_mutex_unlock (&model->lock);
  return b;
}

void
upm_batcher_join (UpmBatcher *b)
{
  g_mutex_lock (&b->lock);
  b->n_members++;
  g_cond_broadcast (&b->cond);
  g_mutex_unlock (&b->lock);
}

void
upm_batcher_leave (UpmBatcher *b)
{
  g_mutex_lock (&b->lock);
  if (b->n_members > 0)
    b->n_members--;
  g_cond_broadcast (&b->cond);
  g_mutex_unlock (&b->lock);
}

static gboolean
same_batch (const UpmBatchJob *a, const UpmBatchJob *b)
{
  return a->run == b->run && a->key == b->key;
}

static gboolean
batch_running_locked (UpmBatcher *b, const UpmBatchJob *job)
{
  for (guint i = 0; i < b->running->len; i++)
    if (same_batch (g_ptr_array_index (b->running, i), job))
      return TRUE;
  return FALSE;
}

/* The oldest pending job of @job's kind and key, and their count. */
static UpmBatchJob *
oldest_pending_locked (UpmBatcher *b, const UpmBatchJob *job, guint *count)
{
  UpmBatchJob *oldest = NULL;

  *count = 0;
  for (guint i = 0; i < b->pending->len; i++)
    {
      UpmBatchJob *p = g_ptr_array_index (b->pending, i);
      if (!same_batch (p, job))
        continue;
      if (!oldest)
        oldest = p;
      (*count)++;
    }
  return oldest;
}

/* Take (up to UPM_BATCH_MAX_JOBS of) the pending jobs like @job, oldest
 * first, and run them with the lock released. */
static void
lead_batch_locked (UpmBatcher *b, UpmBatchJob *job)
{
  UpmBatchJob *jobs[UPM_BATCH_MAX_JOBS];
  guint n = 0;

  for (guint i = 0; i < b->pending->len && n < UPM_BATCH_MAX_JOBS;)
    {
      UpmBatchJob *p = g_ptr_array_index (b->pending, i);
      if (same_batch (p, job))
        {
          p->taken = TRUE;
          jobs[n++] = p;
          g_ptr_array_remove_index (b->pending, i);
        }
      else
        i++;
    }
  if (n == 0) /* never: @job itself is pending */
    return;
  g_ptr_array_add (b->running, jobs[0]);
  g_mutex_unlock (&b->lock);
  jobs[0]->run (jobs, n);
  g_mutex_lock (&b->lock);
  g_ptr_array_remove_fast (b->running, jobs[0]);
  for (guint i = 0; i < n; i++)
    jobs[i]->done = TRUE;
  b->n_batches++;
  b->n_jobs += n;
  g_cond_broadcast (&b->cond);
}

void
upm_batcher_submit (UpmBatcher *b, UpmBatchJob *job, gint64 wait_us)
{
  g_mutex_lock (&b->lock);
  job->ok = FALSE;
  job->error = NULL;
  job->taken = job->done = FALSE;
  job->deadline = g_get_monotonic_time () + MAX (wait_us, 0);
  g_ptr_array_add (b->pending, job);
  g_cond_broadcast (&b->cond);
  while (!job->done)
    {
      guint count;
      UpmBatchJob *oldest;

      if (job->taken || batch_running_locked (b, job))
        {
          g_cond_wait_until (
              &b->cond, &b->lock, g_get_monotonic_time () + RECHECK_US);
          continue;
        }
      oldest = oldest_pending_locked (b, job, &count);
      if (count >= MAX (b->n_members, 1) || count >= UPM_BATCH_MAX_JOBS
          || g_get_monotonic_time () >= oldest->deadline)
        lead_batch_locked (b, job);
      else
        g_cond_wait_until (&b->cond, &b->lock, oldest->deadline);
    }
  g_mutex_unlock (&b->lock);
}

void
upm_batcher_stats (UpmBatcher *b, guint64 *batches, guint64 *jobs)
{
  g_mutex_lock (&b->lock);
  if (batches)
    *batches = b->n_batches;
  if (jobs)
    *jobs = b->n_jobs;
  g_mutex_unlock (&b->lock);
}
