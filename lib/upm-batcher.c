/* upm-batcher.c: the per-model batcher. Submitters of one model append
 * their jobs to one pending list; the submitter of the oldest pending job
 * of a kind and key leads: it takes the pending jobs of that kind and key
 * and runs them together while their submitters wait, each on its job's
 * own condition (a broadcast to all would wake every stream at every
 * step). Only one batch of a kind and key runs at a time: what arrives
 * meanwhile gathers into the next batch.
 *
 * Every wait is bounded: the oldest pending job's submitter waits until
 * its deadline at most (then leads), the others until they are taken or
 * become the oldest (the batch that takes the jobs before them wakes
 * them), a taken job's submitter until the batch's run ends (the leader
 * always marks its jobs done). Waits also time out every RECHECK_US, which
 * only bounds each sleep.
 *
 * Uses: the model (its cache slot) and GLib.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-batcher.h"

/* Each sleep of a submitter is at most this long (every state change
 * signals the threads concerned; this only bounds each wait). */
#define RECHECK_US (100 * G_TIME_SPAN_MILLISECOND)

struct _UpmBatcher
{
  GMutex lock;
  GPtrArray *pending; /* UpmBatchJob *, in submission order */
  GPtrArray *running; /* the first job of each batch being run */
  GArray *kinds;      /* Kind: members per kind and key */
  guint64 n_batches, n_jobs;
};

typedef struct
{
  UpmBatchRun run;
  gpointer key;
  guint members;
} Kind;

static gpointer
batcher_new (UpmModel *model)
{
  UpmBatcher *b = g_new0 (UpmBatcher, 1);

  (void)model;
  g_mutex_init (&b->lock);
  b->pending = g_ptr_array_new ();
  b->running = g_ptr_array_new ();
  b->kinds = g_array_new (FALSE, FALSE, sizeof (Kind));
  return b;
}

static void
batcher_free (gpointer data)
{
  UpmBatcher *b = data;

  g_ptr_array_free (b->pending, TRUE);
  g_ptr_array_free (b->running, TRUE);
  g_array_free (b->kinds, TRUE);
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

static Kind *
kind_locked (UpmBatcher *b, UpmBatchRun run, gpointer key)
{
  for (guint i = 0; i < b->kinds->len; i++)
    {
      Kind *k = &g_array_index (b->kinds, Kind, i);
      if (k->run == run && k->key == key)
        return k;
    }
  g_array_append_val (b->kinds, ((Kind){ run, key, 0 }));
  return &g_array_index (b->kinds, Kind, b->kinds->len - 1);
}

/* @member joins @job's kind unless it is one already (or has joined as
 * many kinds as it records: then it is not counted, and batches of that
 * kind run on their deadline, not on a full count). */
static void
join_locked (UpmBatcher *b, UpmBatchMember *member, const UpmBatchJob *job)
{
  for (guint i = 0; i < member->n; i++)
    if (member->run[i] == job->run && member->key[i] == job->key)
      return;
  if (member->n >= UPM_BATCH_MAX_KINDS)
    return;
  member->run[member->n] = job->run;
  member->key[member->n++] = job->key;
  kind_locked (b, job->run, job->key)->members++;
}

void
upm_batcher_leave (UpmBatcher *b, UpmBatchMember *member)
{
  g_mutex_lock (&b->lock);
  for (guint i = 0; i < member->n; i++)
    {
      Kind *k = kind_locked (b, member->run[i], member->key[i]);
      if (k->members > 0)
        k->members--;
    }
  member->n = 0;
  /* Fewer members: the pending submitters re-check (rare: a stream
   * stopping). */
  for (guint i = 0; i < b->pending->len; i++)
    g_cond_signal (&((UpmBatchJob *)g_ptr_array_index (b->pending, i))->cond);
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

/* The oldest pending job of @job's kind and key, their count and rows
 * (rows may be NULL). */
static UpmBatchJob *
oldest_pending_locked (
    UpmBatcher *b, const UpmBatchJob *job, guint *count, guint *rows)
{
  UpmBatchJob *oldest = NULL;
  guint r = 0;

  *count = 0;
  for (guint i = 0; i < b->pending->len; i++)
    {
      UpmBatchJob *p = g_ptr_array_index (b->pending, i);
      if (!same_batch (p, job))
        continue;
      if (!oldest)
        oldest = p;
      (*count)++;
      r += p->rows;
    }
  if (rows)
    *rows = r;
  return oldest;
}

/* Wake the submitter of the oldest pending job like @job (the next
 * leader), if any. */
static void
wake_next_leader_locked (UpmBatcher *b, const UpmBatchJob *job)
{
  guint count;
  UpmBatchJob *oldest = oldest_pending_locked (b, job, &count, NULL);

  if (oldest)
    g_cond_signal (&oldest->cond);
}

/* Take (up to UPM_BATCH_MAX_JOBS of) the pending jobs like @job, oldest
 * first, and run them with the lock released. */
static void
lead_batch_locked (UpmBatcher *b, UpmBatchJob *job)
{
  UpmBatchJob *jobs[UPM_BATCH_MAX_JOBS];
  guint n = 0, rows = 0;

  for (guint i = 0; i < b->pending->len && n < UPM_BATCH_MAX_JOBS;)
    {
      UpmBatchJob *p = g_ptr_array_index (b->pending, i);
      if (same_batch (p, job) && n > 0 && rows + p->rows > UPM_BATCH_MAX_ROWS)
        break;
      if (same_batch (p, job))
        {
          rows += p->rows;
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
  b->n_batches++;
  b->n_jobs += n;
  for (guint i = 0; i < n; i++)
    {
      jobs[i]->done = TRUE;
      g_cond_signal (&jobs[i]->cond);
    }
  wake_next_leader_locked (b, job);
}

/* With the lock held: lead a batch, or sleep until something concerning
 * @job may have changed (bounded). */
static void
submit_step_locked (UpmBatcher *b, UpmBatchJob *job)
{
  const gint64 now = g_get_monotonic_time ();
  guint count, rows;
  UpmBatchJob *oldest;

  if (job->taken || batch_running_locked (b, job))
    {
      g_cond_wait_until (&job->cond, &b->lock, now + RECHECK_US);
      return;
    }
  oldest = oldest_pending_locked (b, job, &count, &rows);
  if (oldest != job)
    {
      /* The oldest's submitter leads; this one is taken by its batch or
       * becomes the oldest (then it is woken). */
      g_cond_wait_until (&job->cond, &b->lock, now + RECHECK_US);
      return;
    }
  if (count >= MAX (kind_locked (b, job->run, job->key)->members, 1)
      || count >= UPM_BATCH_MAX_JOBS || rows >= UPM_BATCH_MAX_ROWS
      || now >= job->deadline)
    lead_batch_locked (b, job);
  else
    g_cond_wait_until (
        &job->cond, &b->lock, MIN (job->deadline, now + RECHECK_US));
}

void
upm_batcher_submit (
    UpmBatcher *b, UpmBatchMember *member, UpmBatchJob *job, gint64 wait_us)
{
  g_cond_init (&job->cond);
  g_mutex_lock (&b->lock);
  join_locked (b, member, job);
  job->ok = FALSE;
  job->error = NULL;
  job->taken = job->done = FALSE;
  job->deadline = g_get_monotonic_time () + MAX (wait_us, 0);
  g_ptr_array_add (b->pending, job);
  /* The leader-to-be re-checks the count of pending jobs. */
  wake_next_leader_locked (b, job);
  while (!job->done)
    submit_step_locked (b, job);
  g_mutex_unlock (&b->lock);
  g_cond_clear (&job->cond);
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
