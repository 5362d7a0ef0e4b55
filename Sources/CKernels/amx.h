// Internal to CKernels: bf16 products on AMX tiles (amx.c), used by gemm_bf16.c for the
// products of training's time loops.
#ifndef RNN_AMX_H
#define RNN_AMX_H

#include <stdint.h>

/// Whether this CPU has AMX-BF16 tiles and Linux lent them to this process (asked once).
int rnn_amx_available(void);

/// The bf16 elements of B [K, N] packed by rnn_amx_pack: K rounded up to 32, N up to 64.
long rnn_amx_packed_count(long K, long N);

/// Packs B [K, N] (bf16; trans_b: stored as [N, K]; rows `ldb` elements apart) into AMX tiles
/// in the order rnn_amx_gemm reads them: groups of 64 columns, in each the 32-deep slices of K,
/// in each the group's four tiles of 16 columns, each tile 16 rows of 32 bf16 holding the pairs
/// (k, k+1) of its columns side by side (AMX's "VNNI" layout). The padding is zero.
void rnn_amx_pack(long K, long N, const uint16_t *B, long ldb, int trans_b, uint16_t *dst);

/// C [M, N] (rows `ldc` apart) = A B, or C += A B with `accumulate`: A [M, K] fp32 (rows `lda`
/// apart), rounded to bf16 nearest even; B packed by rnn_amx_pack; products accumulated in fp32
/// by AMX tiles. Meant for small M (the time loops' 16 to 128 rows): the packed B streams through
/// once, with prefetches, each group of its columns serving every 16-row block of A.
void rnn_amx_gemm(long M, long N, long K, const float *A, long lda, const uint16_t *packed,
                  int accumulate, float *C, long ldc);

#endif
