// A persistent helper thread for fine-grained parallel regions of a few microseconds (batch-1
// sampling: one region per layer per character). The helper spins on an atomic counter for a
// while before it sleeps, so handing it work costs a fraction of a microsecond, where a thread
// pool that wakes sleeping threads costs several. Part 1 of a region goes to whichever thread
// claims it first: when the helper is not running (the machine is busy, or it is asleep), the
// caller runs both parts itself instead of waiting for it.
#include "CKernels.h"

#include <pthread.h>
#include <stdatomic.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define RNN_PAUSE() _mm_pause()
#else
#define RNN_PAUSE() ((void)0)
#endif

static struct {
  pthread_once_t once;
  pthread_mutex_t caller;  // one region at a time
  pthread_mutex_t lock;    // guards `sleeping` with the condition variable
  pthread_cond_t wake;
  int sleeping;
  _Atomic unsigned long posted, claimed, done;
  rnn_task_fn task;
  void *context;
} pair = {
    .once = PTHREAD_ONCE_INIT,
    .caller = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

// Set on the threads running a region (and on the helper), so that a region started inside one
// runs inline instead of waiting for itself.
static _Thread_local int in_region;

static void *helper(void *unused) {
  (void)unused;
  in_region = 1;
  unsigned long seen = 0;
  for (;;) {
    // Spin about 100 microseconds for the next region, then sleep until one is posted.
    for (int spins = 0; atomic_load_explicit(&pair.posted, memory_order_acquire) == seen; spins++) {
      if (spins < 20000) {
        RNN_PAUSE();
        continue;
      }
      pthread_mutex_lock(&pair.lock);
      pair.sleeping = 1;
      while (atomic_load_explicit(&pair.posted, memory_order_acquire) == seen)
        pthread_cond_wait(&pair.wake, &pair.lock);
      pair.sleeping = 0;
      pthread_mutex_unlock(&pair.lock);
    }
    seen++;
    unsigned long unclaimed = seen - 1;
    if (atomic_compare_exchange_strong_explicit(&pair.claimed, &unclaimed, seen, memory_order_acq_rel,
                                                memory_order_relaxed)) {
      pair.task(pair.context, 1);
      atomic_store_explicit(&pair.done, seen, memory_order_release);
    }
  }
  return 0;
}

static void start_helper(void) {
  pthread_t thread;
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_create(&thread, &attributes, helper, 0);
  pthread_attr_destroy(&attributes);
}

void rnn_run_pair(rnn_task_fn task, void *context) {
  if (in_region) {
    task(context, 0);
    task(context, 1);
    return;
  }
  in_region = 1;
  pthread_once(&pair.once, start_helper);
  pthread_mutex_lock(&pair.caller);
  pair.task = task;
  pair.context = context;
  unsigned long ticket = atomic_load_explicit(&pair.posted, memory_order_relaxed) + 1;
  atomic_store_explicit(&pair.posted, ticket, memory_order_release);
  pthread_mutex_lock(&pair.lock);
  if (pair.sleeping) pthread_cond_signal(&pair.wake);
  pthread_mutex_unlock(&pair.lock);
  task(context, 0);
  unsigned long unclaimed = ticket - 1;
  if (atomic_compare_exchange_strong_explicit(&pair.claimed, &unclaimed, ticket, memory_order_acq_rel,
                                              memory_order_relaxed)) {
    task(context, 1);  // the helper has not started it: do it here
  } else {
    while (atomic_load_explicit(&pair.done, memory_order_acquire) != ticket) RNN_PAUSE();
  }
  pthread_mutex_unlock(&pair.caller);
  in_region = 0;
}
