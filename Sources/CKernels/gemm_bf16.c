// Matrix products in bf16 for training (`rnn train --precision bf16`): rnn_sgemm's operands are
// rounded to bf16 (nearest even) and multiplied by oneDNN's `dnnl_gemm_bf16bf16f32`, which
// accumulates in fp32 and runs AMX tiles or AVX512-BF16 dot products where the CPU has them.
// The master weights, their gradients (the products' fp32 outputs), the optimizer and the loss
// stay fp32.
//
// Rounding the operands costs a pass over each; the weights, read by a product at every time
// step, are rounded once per training step instead: between rnn_blas_hold_constant and
// rnn_blas_release_constant, an operand inside a held buffer is read from its bf16 copy. On a
// CPU with AMX tiles, a product of few rows (a time loop's step) against a held operand runs on
// our own tile kernel (amx.c) instead, from a copy packed for the tiles once per hold.
#include "CKernels.h"
#include "amx.h"
#include "onednn.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*dnnl_bf16_gemm_fn)(char, char, long, long, long, float, const uint16_t *, long,
                                 const uint16_t *, long, float, float *, long);

static struct {
  pthread_once_t once;
  dnnl_bf16_gemm_fn gemm;  // NULL: bf16 products unavailable
  char description[192];   // the kernel, or why there is none
  int active;              // set by rnn_blas_set_precision (between products, from one thread)
} bf16 = {.once = PTHREAD_ONCE_INIT};

// The buffers held constant (rnn_blas_hold_constant), each with its bf16 copy. Holds may nest
// (the weights for a training step, inside it a layer's re-laid-out W_hh) and come from several
// threads, so the list is locked and a release names its buffer. Past MAX_HELD, a hold is
// ignored (its products round their operands themselves).
enum { MAX_HELD = 8 };
static struct {
  pthread_mutex_t lock;
  int count;
  struct {
    const float *values;
    long count;
    int copied;  // 0 with fp32 products (nothing to read from) or when out of memory
    uint16_t *copy;
    long capacity;
  } buffer[MAX_HELD];
} held = {.lock = PTHREAD_MUTEX_INITIALIZER};

// Operands of held buffers packed for the AMX kernel, made at their first product in a hold and
// dropped with it (the memory kept for the next). Past MAX_PACKED operands (per layer W_hh, read
// transposed forward and plain backward, or a GRU's two halves of its copy forward: 2-3 a layer),
// oneDNN runs them.
enum { MAX_PACKED = 16, AMX_MAX_ROWS = 128 };
static struct {
  int count;
  struct {
    const float *B;  // the operand as passed, with its shape and layout
    long K, N, ldb;
    int trans_b;
    const float *holder;  // the held buffer it lies in
    uint16_t *data;
    long capacity;
  } operand[MAX_PACKED];
} packed;  // under held.lock

static void load(void) {
  void *lib = rnn_open_onednn();
  dnnl_bf16_gemm_fn gemm = lib ? (dnnl_bf16_gemm_fn)dlsym(lib, "dnnl_gemm_bf16bf16f32") : NULL;
  if (!gemm) {
    snprintf(bf16.description, sizeof bf16.description,
             "bf16 products need oneDNN (libdnnl.so.2 or .3 with dnnl_gemm_bf16bf16f32), not found");
    return;
  }
  int (*isa)(void) = (int (*)(void))dlsym(lib, "dnnl_get_effective_cpu_isa");
  int code = isa ? isa() : 0;
  // dnnl_cpu_isa_t: avx512_core_bf16 is 0xe7, avx512_core_amx 0x3e7 (bits of the ones below).
  if ((code & 0xe7) != 0xe7) {
    snprintf(bf16.description, sizeof bf16.description,
             "bf16 products need a CPU with AMX or AVX512-BF16; oneDNN finds %s",
             rnn_onednn_isa_name(code));
    return;
  }
  snprintf(bf16.description, sizeof bf16.description,
           "oneDNN dnnl_gemm_bf16bf16f32 (%s kernels)%s, fp32 accumulation",
           rnn_onednn_isa_name(code),
           rnn_amx_available() ? " and AMX tiles of our own for the time loops' products" : "");
  bf16.gemm = gemm;
}

rnn_precision rnn_blas_set_precision(rnn_precision precision) {
  pthread_once(&bf16.once, load);
  bf16.active = precision == RNN_PRECISION_BF16 && bf16.gemm != NULL;
  return bf16.active ? RNN_PRECISION_BF16 : RNN_PRECISION_FP32;
}

const char *rnn_blas_bf16_kernel(void) {
  pthread_once(&bf16.once, load);
  return bf16.description;
}

int rnn_bf16_products(void) { return bf16.active; }

int rnn_blas_bf16_tiles(void) { return bf16.active && rnn_amx_available(); }

rnn_precision rnn_blas_precision(void) { return bf16.active ? RNN_PRECISION_BF16 : RNN_PRECISION_FP32; }

void rnn_blas_hold_constant(const float *values, long count) {
  pthread_mutex_lock(&held.lock);
  if (held.count < MAX_HELD) {
    int slot = held.count++;
    held.buffer[slot].values = values;
    held.buffer[slot].count = count;
    held.buffer[slot].copied = 0;
    if (bf16.active && count > held.buffer[slot].capacity) {
      uint16_t *copy = realloc(held.buffer[slot].copy, (size_t)count * sizeof *copy);
      if (copy) held.buffer[slot].copy = copy, held.buffer[slot].capacity = count;
    }
    if (bf16.active && count <= held.buffer[slot].capacity) {
      rnn_round_to_bf16(count, values, held.buffer[slot].copy);
      held.buffer[slot].copied = 1;
    }
  }
  pthread_mutex_unlock(&held.lock);
}

/// Forgets the packed operands of the held buffer `holder`, keeping their memory.
static void drop_packed(const float *holder) {
  int kept = 0;
  for (int i = 0; i < packed.count; i++) {
    if (packed.operand[i].holder == holder) continue;
    uint16_t *data = packed.operand[kept].data;  // swap, so that no buffer is lost
    long capacity = packed.operand[kept].capacity;
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
    break;
  }
  pthread_mutex_unlock(&held.lock);
}

/// The held buffer with a bf16 copy in which X [extent floats] lies, or -1. Under held.lock.
static int holder_of(const float *X, long extent) {
  for (int i = 0; i < held.count; i++) {
    const float *values = held.buffer[i].values;
    if (held.buffer[i].copied && X >= values && X + extent <= values + held.buffer[i].count)
      return i;
  }
  return -1;
}

/// The bf16 copy of X [extent floats] if X lies in a held buffer, else NULL.
static const uint16_t *held_copy(const float *X, long extent) {
  pthread_mutex_lock(&held.lock);
  int i = holder_of(X, extent);
  const uint16_t *copy = i < 0 ? NULL : held.buffer[i].copy + (X - held.buffer[i].values);
  pthread_mutex_unlock(&held.lock);
  return copy;
}

/// B [K, N] (trans_b: [N, K]; rows ldb apart) packed for the AMX kernel if it lies in a held
/// buffer, packing it at its first use in the hold; NULL if it lies in none or no slot is free.
static const uint16_t *held_packed(long K, long N, const float *B, long ldb, int trans_b) {
  const uint16_t *result = NULL;
  pthread_mutex_lock(&held.lock);
  for (int i = 0; i < packed.count && !result; i++) {
    if (packed.operand[i].B == B && packed.operand[i].K == K && packed.operand[i].N == N &&
        packed.operand[i].ldb == ldb && packed.operand[i].trans_b == trans_b)
      result = packed.operand[i].data;
  }
  int holder = result ? -1 : holder_of(B, trans_b ? (N - 1) * ldb + K : (K - 1) * ldb + N);
  if (holder >= 0 && packed.count < MAX_PACKED) {
    int slot = packed.count;
    long need = rnn_amx_packed_count(K, N);
    if (need > packed.operand[slot].capacity) {
      uint16_t *data = realloc(packed.operand[slot].data, (size_t)need * sizeof(uint16_t));
      if (data) packed.operand[slot].data = data, packed.operand[slot].capacity = need;
    }
    if (need <= packed.operand[slot].capacity) {
      const uint16_t *copy = held.buffer[holder].copy + (B - held.buffer[holder].values);
      rnn_amx_pack(K, N, copy, ldb, trans_b, packed.operand[slot].data);
      packed.operand[slot].B = B, packed.operand[slot].K = K, packed.operand[slot].N = N;
      packed.operand[slot].ldb = ldb, packed.operand[slot].trans_b = trans_b;
      packed.operand[slot].holder = held.buffer[holder].values;
      packed.count++;
      result = packed.operand[slot].data;
    }
  }
  pthread_mutex_unlock(&held.lock);
  return result;
}

// Each thread's buffers for the operands it rounds (grown as needed, kept for the next product).
static _Thread_local struct {
  uint16_t *data;
  size_t capacity;
} scratch[2];

/// X [rows, cols] (rows `ld` floats apart, as stored) in bf16: the held copy if X lies in the
/// held buffer (same layout), else rounded into scratch[which] with rows `cols` apart (*ld_out).
static const uint16_t *operand(int which, long rows, long cols, const float *X, long ld,
                               long *ld_out) {
  *ld_out = ld;
  const uint16_t *copy = held_copy(X, (rows - 1) * ld + cols);
  if (copy) return copy;
  size_t need = (size_t)(rows * cols);
  if (need > scratch[which].capacity) {
    free(scratch[which].data);
    scratch[which].data = malloc(need * sizeof(uint16_t));
    if (!scratch[which].data) abort();  // as the built-in sgemm does when it cannot pack
    scratch[which].capacity = need;
  }
  uint16_t *out = scratch[which].data;
  if (ld == cols) rnn_round_to_bf16(rows * cols, X, out);
  else for (long r = 0; r < rows; r++) rnn_round_to_bf16(cols, X + r * ld, out + r * cols);
  *ld_out = cols;
  return out;
}

void rnn_gemm_bf16(int trans_a, int trans_b, long M, long N, long K, float alpha, const float *A,
                   long lda, const float *B, long ldb, float beta, float *C, long ldc) {
  if (!trans_a && alpha == 1 && (beta == 0 || beta == 1) && M <= AMX_MAX_ROWS &&
      rnn_amx_available()) {
    const uint16_t *b = held_packed(K, N, B, ldb, trans_b);
    if (b) {
      rnn_amx_gemm(M, N, K, A, lda, b, beta == 1, C, ldc);
      return;
    }
  }
  long lda16, ldb16;
  const uint16_t *a = trans_a ? operand(0, K, M, A, lda, &lda16) : operand(0, M, K, A, lda, &lda16);
  const uint16_t *b = trans_b ? operand(1, N, K, B, ldb, &ldb16) : operand(1, K, N, B, ldb, &ldb16);
  rnn_hold_signals();  // oneDNN's kernels must not run a signal handler (see blas.c)
  bf16.gemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, a, lda16, b, ldb16, beta, C,
            ldc);
  rnn_release_signals();
}
