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
#include "held.h"
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

rnn_precision rnn_blas_precision(void) { return bf16.active ? RNN_PRECISION_BF16 : RNN_PRECISION_FP32; }

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
  const uint16_t *copy = rnn_held_bf16_copy(X, (rows - 1) * ld + cols);
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
  if (rnn_held_product_form(trans_a, M, alpha, beta) && rnn_amx_available()) {
    const uint16_t *b = rnn_held_packed(RNN_PACKED_AMX_BF16, K, N, B, ldb, trans_b);
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
