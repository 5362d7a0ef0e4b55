// Work that the ranks on one machine share through memory (an MPI-3 shared-memory window): a
// product that each rank makes once a step, cut into blocks that whichever rank is free claims.
//
// A synchronous step ends when the slowest rank is done; the others wait for it at the sum of the
// gradients. Here, when a rank reaches the shared product (the bottom layer's weight gradient,
// SharedWeightGradient.swift), it copies its operands into its area of the window and publishes
// the product as a task of `blocks` blocks. Then it claims blocks, its own task's first, then the
// other ranks' in rank order (waiting for those that have not published yet), until every block of
// the round is claimed. A rank that finishes its own work early so computes part of the slower
// ranks' products instead of waiting for them. A block is computed the same way whoever claims it,
// into its owner's gradients (in rnn_mpi_node_sum's window), so the result does not depend on who
// did the work; the sum that follows (its barrier) is where the owner may read them.
//
// Waiting: a short spin, then the futex of the awaited rank's round, so that ranks that share a
// core (more ranks than cores) sleep instead of taking it from the rank they wait for.
#include "CKernels.h"
#include "mpi_internal.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum {
  SLOT_BYTES = 128,  // a rank's slot, then its area (64-byte aligned)
  SPINS = 4096,      // polls before sleeping on the futex
};

/// A rank's task of the current round, written by the rank and read by every rank on its machine.
typedef struct {
  _Atomic int round;  // the last round it published (its futex)
  _Atomic long next;  // the next block of its task to claim
  long blocks;        // its task's blocks
  long words[RNN_SHARE_WORDS];
} slot;

_Static_assert(sizeof(slot) <= SLOT_BYTES, "a slot must fit its bytes");

static struct {
  slot **slots;   // each local rank's slot, in the window
  float **areas;  // each local rank's area
} shared;

static rnn_mpi_node_ranks *const node = &rnn_mpi_node;

float *rnn_mpi_share_setup(long floats) {
  if (!node->segment || shared.slots || floats <= 0) return NULL;
  // As for the gradients' window: every rank must have its lists, or no rank goes on.
  slot **slots = malloc((size_t)node->size * sizeof *slots);
  float **areas = malloc((size_t)node->size * sizeof *areas);
  long bytes = SLOT_BYTES + floats * (long)sizeof(float);
  if (!rnn_mpi_node_window(bytes, slots && areas, 0, (void **)slots)) {
    free(slots);
    free(areas);
    return NULL;
  }
  for (int r = 0; r < node->size; r++) areas[r] = (float *)((char *)slots[r] + SLOT_BYTES);
  shared.slots = slots;
  shared.areas = areas;
  return areas[node->rank];
}

float *rnn_mpi_share_area(int rank) { return shared.areas[rank]; }

float *rnn_mpi_share_gradients(int rank) { return node->segment[rank]; }

int rnn_mpi_share_rank(void) { return node->rank; }

/// Tells the core that this thread is spinning.
static void pause_spin(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

static long futex(_Atomic int *word, int operation, int value, const struct timespec *timeout) {
  return syscall(SYS_futex, (int *)word, operation, value, timeout, NULL, 0);
}

void rnn_mpi_share_publish(int round, long blocks, const long *words) {
  slot *own = shared.slots[node->rank];
  memcpy(own->words, words, sizeof own->words);
  own->blocks = blocks;
  atomic_store_explicit(&own->next, 0, memory_order_relaxed);
  atomic_store_explicit(&own->round, round, memory_order_release);  // after the area and the task
  futex(&own->round, FUTEX_WAKE, INT_MAX, NULL);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/// Returns once `s` has published `round`.
static void await_round(slot *s, int round) {
  for (int spin = 0; spin < SPINS; spin++) {
    if (atomic_load_explicit(&s->round, memory_order_acquire) == round) return;
    pause_spin();
  }
  const struct timespec millisecond = {0, 1000000};
  for (int seen; (seen = atomic_load_explicit(&s->round, memory_order_acquire)) != round;) {
    futex(&s->round, FUTEX_WAIT, seen, &millisecond);  // returns at once if it has changed
  }
}

int rnn_mpi_share_claim(int round, int *owner, long *block, long *words, double *idle) {
  for (;;) {
    int unpublished = -1;
    for (int k = 0; k < node->size; k++) {
      int r = (node->rank + k) % node->size;
      slot *s = shared.slots[r];
      if (atomic_load_explicit(&s->round, memory_order_acquire) != round) {
        if (unpublished < 0) unpublished = r;
        continue;
      }
      if (atomic_load_explicit(&s->next, memory_order_relaxed) >= s->blocks) continue;
      long b = atomic_fetch_add_explicit(&s->next, 1, memory_order_relaxed);
      if (b < s->blocks) {
        *owner = r;
        *block = b;
        memcpy(words, s->words, sizeof s->words);
        return 1;
      }
    }
    if (unpublished < 0) return 0;
    double start = now();
    await_round(shared.slots[unpublished], round);
    *idle += now() - start;
  }
}
