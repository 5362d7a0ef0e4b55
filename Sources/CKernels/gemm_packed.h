// Internal to CKernels: fp32 products of few rows against a weight packed once per hold
// (gemm_packed.c), used by blas.c for the products of training's time loops.
#ifndef RNN_GEMM_PACKED_H
#define RNN_GEMM_PACKED_H

/// Whether this CPU runs the packed fp32 kernel (AVX-512).
int rnn_packed_f32_available(void);

/// The floats of B [K, N] packed by rnn_packed_f32_pack: N rounded up to 48.
long rnn_packed_f32_count(long K, long N);

/// Packs B [K, N] (trans_b: stored as [N, K]; rows `ldb` floats apart) into panels of 48
/// columns, each panel [K, 48] contiguous (k-major); the padding columns are zero.
void rnn_packed_f32_pack(long K, long N, const float *B, long ldb, int trans_b, float *dst);

/// C [M, N] (rows `ldc` apart) = A B, or C += A B with `accumulate`: A [M, K] (rows `lda`
/// apart), B packed by rnn_packed_f32_pack. Meant for small M (a time loop's rows): each panel
/// streams through once and serves every block of up to 9 rows of A; within a row each output is
/// one fp32 sum over k in order, whatever M is (so a row's result does not depend on the batch it
/// is in).
void rnn_packed_f32_gemm(long M, long N, long K, const float *A, long lda, const float *packed,
                         int accumulate, float *C, long ldc);

#endif
