// fp32 products of few rows against a weight that stays constant for a whole training step: the
// time loops' h_{t-1} W_hh^T and dgates_t W_hh. oneDNN's sgemm lays its B operand out afresh at
// every call and runs a transposed B at about half speed at these shapes ([16, 512] x [512, 2048]
// with W_hh as stored, one core: 548-698 us against 315-434 us here). Here the weight is packed
// once per training step (held.c keeps the packed copies of held constants) in either layout,
// and each call only streams it.
//
// The kernel: panels of 48 columns (three zmm registers); per panel, blocks of up to 9 rows of A
// each hold 9 x 3 accumulators (27 of the 32 registers) over a 256-deep slice of K, whose part of
// the panel (48 KiB) stays in L1 while every row block reads it. The rows are split as evenly as
// the fewest blocks allow (17 rows as 9 + 8, not 8 + 8 + 1: a block of few rows pays a whole
// pass over the slice for little arithmetic; measured on one core, 17 and 25 rows 9-14% faster),
// as a data-parallel rank whose share of the batch is balanced by speed gets such counts. The
// first row block brings that part in from L2 or L3, and the hardware's L1 prefetcher alone left
// it waiting, so every block asks for each k's three lines eight k ahead (a prefetch never faults,
// past the end included).
// Measured in alternation on one core: 16 rows about 12% faster with it, 32 rows about 6%.
#include "gemm_packed.h"
#include "CKernels.h"

#include <string.h>

enum {
  PANEL = 48,  // columns per panel
  ROWS = 9,    // rows of A per block, at most
  DEPTH = 256, // K per slice
};

long rnn_packed_f32_count(long K, long N) { return K * ((N + PANEL - 1) / PANEL * PANEL); }

void rnn_packed_f32_pack(long K, long N, const float *B, long ldb, int trans_b, float *dst) {
  for (long n0 = 0; n0 < N; n0 += PANEL) {
    float *panel = dst + n0 * K;
    long width = N - n0 < PANEL ? N - n0 : PANEL;
    if (trans_b) {
      rnn_transpose(width, K, B + n0 * ldb, ldb, panel, PANEL, 0);
    } else {
      for (long k = 0; k < K; k++) {
        memcpy(panel + k * PANEL, B + k * ldb + n0, width * sizeof(float));
      }
    }
    if (width < PANEL) {
      for (long k = 0; k < K; k++) {
        memset(panel + k * PANEL + width, 0, (PANEL - width) * sizeof(float));
      }
    }
  }
}

#if defined(__x86_64__)
#include <immintrin.h>

int rnn_packed_f32_available(void) { return __builtin_cpu_supports("avx512f"); }

/// Defines block<R>: C[R, width] (+)= A[R, K] panel[K, 48] for R rows, the accumulators in
/// registers; `mask` holds the columns of each of the three 16-column parts that exist.
#define RNN_PACKED_BLOCK(R)                                                                        \
  __attribute__((target("avx512f"))) static void block##R(                                         \
      long K, const float *restrict A, long lda, const float *restrict panel, int accumulate,      \
      float *restrict C, long ldc, const __mmask16 mask[3]) {                                      \
    __m512 acc[R][3];                                                                              \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {                               \
      for (int j = 0; j < 3; j++)                                                                  \
        acc[r][j] = accumulate ? _mm512_maskz_loadu_ps(mask[j], C + r * ldc + 16 * j)              \
                               : _mm512_setzero_ps();                                              \
    }                                                                                              \
    for (long k = 0; k < K; k++) {                                                                 \
      const float *row = panel + k * PANEL;                                                        \
      _mm_prefetch((const char *)(row + 8 * PANEL), _MM_HINT_T0);                                  \
      _mm_prefetch((const char *)(row + 8 * PANEL + 16), _MM_HINT_T0);                             \
      _mm_prefetch((const char *)(row + 8 * PANEL + 32), _MM_HINT_T0);                             \
      __m512 b0 = _mm512_loadu_ps(row), b1 = _mm512_loadu_ps(row + 16),                              \
             b2 = _mm512_loadu_ps(row + 32);                                                        \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {                             \
        __m512 a = _mm512_set1_ps(A[r * lda + k]);                                                 \
        acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);                                             \
        acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);                                             \
        acc[r][2] = _mm512_fmadd_ps(a, b2, acc[r][2]);                                             \
      }                                                                                            \
    }                                                                                              \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < R; r++) {                               \
      for (int j = 0; j < 3; j++) _mm512_mask_storeu_ps(C + r * ldc + 16 * j, mask[j], acc[r][j]); \
    }                                                                                              \
  }
RNN_PACKED_BLOCK(1)
RNN_PACKED_BLOCK(2)
RNN_PACKED_BLOCK(3)
RNN_PACKED_BLOCK(4)
RNN_PACKED_BLOCK(5)
RNN_PACKED_BLOCK(6)
RNN_PACKED_BLOCK(7)
RNN_PACKED_BLOCK(8)
RNN_PACKED_BLOCK(9)

typedef void (*block_fn)(long, const float *, long, const float *, int, float *, long,
                         const __mmask16[3]);
static const block_fn blocks[ROWS + 1] = {NULL,   block1, block2, block3, block4,
                                          block5, block6, block7, block8, block9};

void rnn_packed_f32_gemm(long M, long N, long K, const float *A, long lda, const float *packed,
                         int accumulate, float *C, long ldc) {
  // A time loop calls this at every step with the same weight, larger than L2 (a 512-wide LSTM's
  // W_hh: 4 MiB against 2 MiB): walking the panels in the other direction at every other call
  // starts each call on the panels the last one left in L2 (measured: 4-7% faster at 16 rows).
  static _Thread_local unsigned calls;
  long panels = (N + PANEL - 1) / PANEL;
  int backwards = calls++ & 1;
  for (long p = 0; p < panels; p++) {
    long n0 = (backwards ? panels - 1 - p : p) * PANEL;
    const float *panel = packed + n0 * K;
    __mmask16 mask[3];
    for (int j = 0; j < 3; j++) {
      long left = N - n0 - 16 * j;
      mask[j] = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    for (long k0 = 0; k0 < K; k0 += DEPTH) {
      long depth = K - k0 < DEPTH ? K - k0 : DEPTH;
      long count = (M + ROWS - 1) / ROWS;
      for (long b = 0, m0 = 0; b < count; b++) {
        long rows = (M - m0 + count - b - 1) / (count - b); // the rest's fair share, rounded up
        blocks[rows](depth, A + m0 * lda + k0, lda, panel + k0 * PANEL, accumulate || k0 > 0,
                     C + m0 * ldc + n0, ldc, mask);
        m0 += rows;
      }
    }
  }
}
#else
// Elsewhere (arm64) blas.c does not use the packed kernel (rnn_packed_f32_available is 0).
int rnn_packed_f32_available(void) { return 0; }

void rnn_packed_f32_gemm(long M, long N, long K, const float *A, long lda, const float *packed,
                         int accumulate, float *C, long ldc) {
  for (long m = 0; m < M; m++) {
    for (long n = 0; n < N; n++) {
      const float *column = packed + n / PANEL * PANEL * K + n % PANEL;
      float sum = accumulate ? C[m * ldc + n] : 0;
      for (long k = 0; k < K; k++) sum += A[m * lda + k] * column[k * PANEL];
      C[m * ldc + n] = sum;
    }
  }
}
#endif
