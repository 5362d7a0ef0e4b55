// Operands held constant between rnn_blas_hold_constant and rnn_blas_release_constant: training
// holds the weights for a whole step, in which the time loops multiply by each W_hh at every
// step. With bf16 products a held buffer is rounded to bf16 once; and an operand in a held
// buffer is packed once, at its first product in the hold, for the kernels of few rows that
// stream it (gemm_packed.c in fp32, amx.c on AMX tiles in bf16).
#include "held.h"

#include "CKernels.h"
#include "amx.h"
#include "gemm_packed.h"
#include "onednn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

// The buffers held constant, each with its bf16 copy. Holds may nest (the weights for a training
// step, inside it a layer's re-laid-out W_hh) and come from several threads, so the list is
// locked and a release names its buffer. Past MAX_HELD, a hold is ignored (its products round or
// lay out their operands themselves).
enum { MAX_HELD = 8 };
static struct {
  pthread_mutex_t lock;
  int count;
  struct {
    const float *values;
    long count;
    int copied;  // whether `copy` holds the values in bf16 (bf16 products, memory allowing)
    uint16_t *copy;
    long capacity;
  } buffer[MAX_HELD];
} held = {.lock = PTHREAD_MUTEX_INITIALIZER};

// What tells packed operands apart: the layout, and B as a product passes it (shape and layout).
typedef struct {
  rnn_packed_layout layout;
  const float *B;
  long K, N, ldb;
  int trans_b;
} operand_key;

static int same_operand(const operand_key *a, const operand_key *b) {
  return a->layout == b->layout && a->B == b->B && a->K == b->K && a->N == b->N &&
         a->ldb == b->ldb && a->trans_b == b->trans_b;
}

// Operands of held buffers packed for a kernel, made at their first product in a hold and
// dropped with it (the memory kept for the next). Past MAX_PACKED operands (per layer W_hh, read
// transposed forward and plain backward, or a GRU's two halves of its copy forward: 2-3 a layer,
// so from 22 layers on), the products run without.
enum { MAX_PACKED = 64 };
static struct {
  int count;
  struct {
    operand_key key;
    const float *holder;  // the held buffer it lies in
    void *data;
    size_t capacity;  // bytes
  } operand[MAX_PACKED];
} packed;  // under held.lock

// Counts the releases: a packed operand found in a thread's cache under the same count is still
// there. The time loops' threads look their weight up at every step; the cache spares them the
// lock, which two threads asking at once would make wait for each other.
static _Atomic unsigned long releases;

// held.count, for the products that look for a held operand when none is held (no lock).
static _Atomic int holding;

enum { CACHED = 8 };
static _Thread_local struct {
  unsigned long releases;
  int next;  // the entry to replace next
  struct {
    operand_key key;
    const void *data;  // NULL: empty
  } entry[CACHED];
} cache;

void rnn_blas_hold_constant(const float *values, long count) {
  pthread_mutex_lock(&held.lock);
  if (held.count < MAX_HELD) {
    int slot = held.count++;
    int bf16 = rnn_bf16_products();
    held.buffer[slot].values = values;
    held.buffer[slot].count = count;
    held.buffer[slot].copied = 0;
    if (bf16 && count > held.buffer[slot].capacity) {
      uint16_t *copy = realloc(held.buffer[slot].copy, (size_t)count * sizeof *copy);
      if (copy) held.buffer[slot].copy = copy, held.buffer[slot].capacity = count;
    }
    if (bf16 && count <= held.buffer[slot].capacity) {
      rnn_round_to_bf16(count, values, held.buffer[slot].copy);
      held.buffer[slot].copied = 1;
    }
    atomic_store_explicit(&holding, held.count, memory_order_relaxed);
  }
  pthread_mutex_unlock(&held.lock);
}

/// Forgets the packed operands of the held buffer `holder`, keeping their memory.
static void drop_packed(const float *holder) {
  int kept = 0;
  for (int i = 0; i < packed.count; i++) {
    if (packed.operand[i].holder == holder) continue;
    void *data = packed.operand[kept].data;  // swap, so that no buffer is lost
    size_t capacity = packed.operand[kept].capacity;
    packed.operand[kept] = packed.operand[i];
    packed.operand[i].data = data;
    packed.operand[i].capacity = capacity;
    kept++;
  }
  packed.count = kept;
}

void rnn_blas_release_constant(const float *values) {
  pthread_mutex_lock(&held.lock);
  for (int i = held.count - 1; i >= 0; i--) {
    if (held.buffer[i].values != values) continue;
    // Close the gap, keeping each slot's copy buffer for reuse.
    uint16_t *copy = held.buffer[i].copy;
    long capacity = held.buffer[i].capacity;
    for (int j = i; j + 1 < held.count; j++) held.buffer[j] = held.buffer[j + 1];
    held.count--;
    held.buffer[held.count].copy = copy;
    held.buffer[held.count].capacity = capacity;
    drop_packed(values);
    atomic_fetch_add_explicit(&releases, 1, memory_order_release);
    atomic_store_explicit(&holding, held.count, memory_order_relaxed);
    break;
  }
  pthread_mutex_unlock(&held.lock);
}

/// The held buffer in which X [extent floats] lies (with a bf16 copy if `copied`), or -1. Under
/// held.lock.
static int holder_of(const float *X, long extent, int copied) {
  for (int i = 0; i < held.count; i++) {
    const float *values = held.buffer[i].values;
    if ((held.buffer[i].copied || !copied) && X >= values && X + extent <= values + held.buffer[i].count)
      return i;
  }
  return -1;
}

int rnn_blas_packs_held(const float *B, long count, long rows) {
  if (rows > RNN_HELD_MAX_ROWS) return 0;
  int bf16 = rnn_bf16_products();
  if (!(bf16 ? rnn_amx_available() : rnn_packed_f32_available())) return 0;
  pthread_mutex_lock(&held.lock);
  int found = holder_of(B, count, bf16) >= 0;  // the tiles are packed from the bf16 copy
  pthread_mutex_unlock(&held.lock);
  return found;
}

const uint16_t *rnn_held_bf16_copy(const float *X, long extent) {
  pthread_mutex_lock(&held.lock);
  int i = holder_of(X, extent, 1);
  const uint16_t *copy = i < 0 ? NULL : held.buffer[i].copy + (X - held.buffer[i].values);
  pthread_mutex_unlock(&held.lock);
  return copy;
}

/// Dates this thread's cache by the release count `now`, emptying it if a release came since its
/// entries were made; returns whether it was still current.
static int keep_cache_current(unsigned long now) {
  if (cache.releases == now) return 1;
  for (int i = 0; i < CACHED; i++) cache.entry[i].data = NULL;
  cache.releases = now;
  return 0;
}

/// The operand `key` packed, from this thread's cache, or NULL.
static const void *cached(const operand_key *key) {
  if (!keep_cache_current(atomic_load_explicit(&releases, memory_order_acquire))) return NULL;
  for (int i = 0; i < CACHED; i++) {
    if (cache.entry[i].data && same_operand(&cache.entry[i].key, key)) return cache.entry[i].data;
  }
  return NULL;
}

const void *rnn_held_packed(rnn_packed_layout layout, long K, long N, const float *B, long ldb,
                            int trans_b) {
  if (!atomic_load_explicit(&holding, memory_order_relaxed)) return NULL;
  operand_key key = {layout, B, K, N, ldb, trans_b};
  const void *result = cached(&key);
  if (result) return result;
  pthread_mutex_lock(&held.lock);
  for (int i = 0; i < packed.count && !result; i++) {
    if (same_operand(&packed.operand[i].key, &key)) result = packed.operand[i].data;
  }
  int bf16 = layout == RNN_PACKED_AMX_BF16;
  int holder = result ? -1 : holder_of(B, trans_b ? (N - 1) * ldb + K : (K - 1) * ldb + N, bf16);
  if (holder >= 0 && packed.count < MAX_PACKED) {
    int slot = packed.count;
    size_t need = bf16 ? (size_t)rnn_amx_packed_count(K, N) * sizeof(uint16_t)
                       : (size_t)rnn_packed_f32_count(K, N) * sizeof(float);
    if (need > packed.operand[slot].capacity) {
      // In huge pages (memory.c): the time loops stream these copies at every step, and with 4
      // KiB pages the product of 16 rows waited on page walks (measured: 7-12% faster at 16 and
      // 17 rows, 8% at 32, one core). A copy is packed afresh, so nothing needs to be kept.
      void *data = rnn_allocate_streamed((long)((need + sizeof(float) - 1) / sizeof(float)));
      if (data) {
        rnn_free_streamed(packed.operand[slot].data);
        packed.operand[slot].data = data, packed.operand[slot].capacity = need;
      }
    }
    if (need <= packed.operand[slot].capacity) {
      if (bf16) {
        const uint16_t *copy = held.buffer[holder].copy + (B - held.buffer[holder].values);
        rnn_amx_pack(K, N, copy, ldb, trans_b, packed.operand[slot].data);
      } else {
        rnn_packed_f32_pack(K, N, B, ldb, trans_b, packed.operand[slot].data);
      }
      packed.operand[slot].key = key;
      packed.operand[slot].holder = held.buffer[holder].values;
      packed.count++;
      result = packed.operand[slot].data;
    }
  }
  if (result) {
    // Under the lock no release runs: the count read now dates the entry (and if it moved since
    // this thread's other entries were checked, they go).
    keep_cache_current(atomic_load_explicit(&releases, memory_order_relaxed));
    int i = cache.next;
    cache.next = (i + 1) % CACHED;
    cache.entry[i].key = key;
    cache.entry[i].data = result;
  }
  pthread_mutex_unlock(&held.lock);
  return result;
}
