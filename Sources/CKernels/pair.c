// A persistent helper thread for fine-grained parallel regions of a few microseconds (batch-1
// sampling: one region of a few stages per character). The helper spins on an atomic counter for
// a while before it sleeps, so handing it work costs a fraction of a microsecond, where a thread
// pool that wakes sleeping threads costs several. Part 1 of a stage goes to whichever thread
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

// Stages are numbered by one counter across regions: stage q is `opened` by the caller, its part 1
// `claimed` by one of the two threads, and `done` when the helper has run it.
static struct {
  pthread_once_t once;
  pthread_mutex_t caller;  // one region at a time
  pthread_mutex_t lock;    // with `wake`, for the helper's sleep
  pthread_cond_t wake;
  atomic_int sleeping;
  _Atomic unsigned long opened, claimed, done;
  rnn_stage_fn task;
  void *context;
  int stage;  // the open stage's index in its region
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
  rnn_hold_signals();  // for good: signals go to the program's other threads, never to oneDNN here
  unsigned long seen = 0;
  for (;;) {
    // Spin about 100 microseconds for the next stage, then sleep until one is opened.
    unsigned long q;
    for (int spins = 0; (q = atomic_load_explicit(&pair.opened, memory_order_acquire)) == seen;
         spins++) {
      if (spins < 20000) {
        RNN_PAUSE();
        continue;
      }
      pthread_mutex_lock(&pair.lock);
      atomic_store(&pair.sleeping, 1);
      while ((q = atomic_load(&pair.opened)) == seen) pthread_cond_wait(&pair.wake, &pair.lock);
      atomic_store(&pair.sleeping, 0);
      pthread_mutex_unlock(&pair.lock);
      break;
    }
    seen = q;
    // The caller does not leave stage q before it is done, so what it published stays valid once
    // the claim succeeds; if the caller claimed it (or has moved on), skip it.
    unsigned long unclaimed = q - 1;
    if (atomic_compare_exchange_strong_explicit(&pair.claimed, &unclaimed, q, memory_order_acq_rel,
                                                memory_order_relaxed)) {
      pair.task(pair.context, pair.stage, 1);
      atomic_store_explicit(&pair.done, q, memory_order_release);
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

void rnn_run_pair_stages(rnn_stage_fn task, void *context, int stages) {
  if (in_region) {
    for (int s = 0; s < stages; s++) {
      task(context, s, 0);
      task(context, s, 1);
    }
    return;
  }
  in_region = 1;
  pthread_once(&pair.once, start_helper);
  pthread_mutex_lock(&pair.caller);
  pair.task = task;
  pair.context = context;
  for (int s = 0; s < stages; s++) {
    pair.stage = s;
    unsigned long q = atomic_load_explicit(&pair.opened, memory_order_relaxed) + 1;
    atomic_store(&pair.opened, q);
    // Sequentially consistent with the helper's `sleeping` store and `opened` load: either it
    // sees this stage before it sleeps, or this sees it asleep and wakes it.
    if (atomic_load(&pair.sleeping)) {
      pthread_mutex_lock(&pair.lock);
      pthread_cond_signal(&pair.wake);
      pthread_mutex_unlock(&pair.lock);
    }
    task(context, s, 0);
    unsigned long unclaimed = q - 1;
    if (atomic_compare_exchange_strong_explicit(&pair.claimed, &unclaimed, q, memory_order_acq_rel,
                                                memory_order_relaxed)) {
      task(context, s, 1);  // the helper has not started it: do it here
    } else {
      while (atomic_load_explicit(&pair.done, memory_order_acquire) != q) RNN_PAUSE();
    }
  }
  pthread_mutex_unlock(&pair.caller);
  in_region = 0;
}
