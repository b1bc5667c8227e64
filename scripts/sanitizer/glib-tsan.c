/* glib-tsan.c: GLib's locks as ThreadSanitizer sees them (preloaded after
 * the TSan runtime by scripts/sanitize.sh thread).
 *
 * On Linux, GMutex and GCond are atomics and futex calls inside
 * libglib-2.0.so, which is not instrumented and calls no pthread function
 * that TSan intercepts: TSan sees no ordering between one thread's unlock
 * and the next thread's lock. Data built by one thread under a GMutex and
 * read by another that took the same GMutex (the model's merged expert
 * weights, the vocabulary features, the plugin's model cache) then looks
 * unsynchronised - reported when the reader is one of our pool workers,
 * whose stack has no GLib/GStreamer frame for tsan.supp to match.
 *
 * These wrappers call the real functions and add exactly the edges a mutex
 * provides: release at unlock (and before a condition wait gives the mutex
 * up), acquire at lock (after a successful trylock, after a condition wait
 * takes it back). They add no suppression and no ordering that the real
 * lock does not give. Calls from our code and other libraries reach them
 * through the PLT; calls inside libglib itself do not. GRecMutex (a pad's
 * stream lock: an element's state change takes it to wait for its
 * streaming thread) is a pthread mutex inside libglib, whose pthread calls
 * TSan ignores (called_from_lib in tsan.supp): wrapped the same way, the
 * real call with TSan's view of synchronisation off (GLib's tail call to
 * pthread_mutex_lock escapes called_from_lib, and TSan, which did not see
 * the mutex made recursive, would call a recursive lock a double lock).
 * GAsyncQueue (GstHarness hands a pushed buffer to the test's thread
 * through one) locks its GMutex inside libglib: a push releases the queue,
 * a pop that returns an item acquires it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <glib.h>
#include <sanitizer/tsan_interface.h>
#include <stdio.h>
#include <stdlib.h>

/* The real function, looked up on first use (libglib may be dlopen()ed
 * after this library is loaded, as by PyGObject). */
#define REAL(name)                                                             \
  static __typeof__ (name) *real_##name;                                       \
  static __typeof__ (name) *get_##name (void)                                  \
  {                                                                            \
    __typeof__ (name) *f = __atomic_load_n (&real_##name, __ATOMIC_ACQUIRE);   \
    if (!f)                                                                    \
      {                                                                        \
        f = (__typeof__ (name) *)dlsym (RTLD_NEXT, #name);                     \
        if (!f)                                                                \
          {                                                                    \
            fprintf (stderr, "glib-tsan: no %s after this library\n", #name);  \
            abort ();                                                          \
          }                                                                    \
        __atomic_store_n (&real_##name, f, __ATOMIC_RELEASE);                  \
      }                                                                        \
    return f;                                                                  \
  }

/* Exported by the TSan runtime (its dynamic annotations). */
void AnnotateIgnoreSyncBegin (const char *file, int line);
void AnnotateIgnoreSyncEnd (const char *file, int line);

REAL (g_mutex_lock)
REAL (g_mutex_trylock)
REAL (g_mutex_unlock)
REAL (g_cond_wait)
REAL (g_cond_wait_until)
REAL (g_async_queue_push)
REAL (g_async_queue_pop)
REAL (g_async_queue_try_pop)
REAL (g_async_queue_timeout_pop)
REAL (g_rec_mutex_lock)
REAL (g_rec_mutex_trylock)
REAL (g_rec_mutex_unlock)

/* Returns GOT, after an acquire of OBJ when it is set: the edge of a trylock
 * that took the mutex or of a pop that returned an item. */
static gboolean
acquired_if (void *obj, gboolean got)
{
  if (got)
    __tsan_acquire (obj);
  return got;
}

void
g_mutex_lock (GMutex *mutex)
{
  get_g_mutex_lock () (mutex);
  __tsan_acquire (mutex);
}

gboolean
g_mutex_trylock (GMutex *mutex)
{
  return acquired_if (mutex, get_g_mutex_trylock () (mutex));
}

void
g_mutex_unlock (GMutex *mutex)
{
  __tsan_release (mutex);
  get_g_mutex_unlock () (mutex);
}

void
g_cond_wait (GCond *cond, GMutex *mutex)
{
  __tsan_release (mutex);
  get_g_cond_wait () (cond, mutex);
  __tsan_acquire (mutex);
}

gboolean
g_cond_wait_until (GCond *cond, GMutex *mutex, gint64 end_time)
{
  gboolean signalled;

  __tsan_release (mutex);
  signalled = get_g_cond_wait_until () (cond, mutex, end_time);
  __tsan_acquire (mutex);
  return signalled;
}

void
g_rec_mutex_lock (GRecMutex *mutex)
{
  AnnotateIgnoreSyncBegin (__FILE__, __LINE__);
  get_g_rec_mutex_lock () (mutex);
  AnnotateIgnoreSyncEnd (__FILE__, __LINE__);
  __tsan_acquire (mutex);
}

gboolean
g_rec_mutex_trylock (GRecMutex *mutex)
{
  gboolean locked;

  AnnotateIgnoreSyncBegin (__FILE__, __LINE__);
  locked = get_g_rec_mutex_trylock () (mutex);
  AnnotateIgnoreSyncEnd (__FILE__, __LINE__);
  return acquired_if (mutex, locked);
}

void
g_rec_mutex_unlock (GRecMutex *mutex)
{
  __tsan_release (mutex);
  AnnotateIgnoreSyncBegin (__FILE__, __LINE__);
  get_g_rec_mutex_unlock () (mutex);
  AnnotateIgnoreSyncEnd (__FILE__, __LINE__);
}

void
g_async_queue_push (GAsyncQueue *queue, gpointer data)
{
  __tsan_release (queue);
  get_g_async_queue_push () (queue, data);
}

gpointer
g_async_queue_pop (GAsyncQueue *queue)
{
  gpointer data = get_g_async_queue_pop () (queue);
  __tsan_acquire (queue);
  return data;
}

gpointer
g_async_queue_try_pop (GAsyncQueue *queue)
{
  gpointer data = get_g_async_queue_try_pop () (queue);

  acquired_if (queue, data != NULL);
  return data;
}

gpointer
g_async_queue_timeout_pop (GAsyncQueue *queue, guint64 timeout)
{
  gpointer data = get_g_async_queue_timeout_pop () (queue, timeout);

  acquired_if (queue, data != NULL);
  return data;
}
