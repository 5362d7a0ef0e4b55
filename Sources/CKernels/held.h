// Internal to CKernels: operands held constant (rnn_blas_hold_constant), shared by blas.c (fp32
// products) and gemm_bf16.c (bf16 products): their bf16 copies, and copies packed for our own
// kernels of few rows (gemm_packed.c in fp32, amx.c in bf16), made at first use in a hold.
#ifndef RNN_HELD_H
#define RNN_HELD_H

#include <stdint.h>

/// The layouts a held operand is packed in.
typedef enum {
  RNN_PACKED_F32,       // rnn_packed_f32_pack's panels, from the fp32 values
  RNN_PACKED_AMX_BF16,  // rnn_amx_pack's tiles, from the bf16 copy
} rnn_packed_layout;

/// Products of at most this many rows against a held operand may run on our own kernels.
enum { RNN_HELD_MAX_ROWS = 128 };

/// Whether C = alpha op(A) op(B) + beta C has the form our kernels for held operands compute
/// (gemm_packed.c, amx.c): A as stored with at most RNN_HELD_MAX_ROWS rows, alpha 1, beta 0 or 1.
static inline int rnn_held_product_form(int trans_a, long M, float alpha, float beta) {
  return !trans_a && M <= RNN_HELD_MAX_ROWS && alpha == 1 && (beta == 0 || beta == 1);
}

/// The bf16 copy of X [extent floats] if X lies in a held buffer that has one (bf16 products),
/// else NULL.
const uint16_t *rnn_held_bf16_copy(const float *X, long extent);

/// B [K, N] (trans_b: stored as [N, K]; rows ldb apart) packed in `layout` if it lies in a held
/// buffer (with a bf16 copy, for RNN_PACKED_AMX_BF16), packing it at its first use in the hold;
/// NULL if it lies in none or no slot is free.
const void *rnn_held_packed(rnn_packed_layout layout, long K, long N, const float *B, long ldb,
                            int trans_b);

#endif
