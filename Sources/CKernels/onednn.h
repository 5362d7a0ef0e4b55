// Internal to CKernels: the oneDNN library, shared by blas.c (sgemm) and gemm_bf16.c.
#ifndef RNN_ONEDNN_H
#define RNN_ONEDNN_H

/// oneDNN's library handle (libdnnl.so.3, .2 or .so, the first with `dnnl_sgemm`), loaded with
/// OMP_NUM_THREADS=1 (the callers split work over threads themselves); NULL if none loads.
void *rnn_open_onednn(void);

/// The name of one of oneDNN's `dnnl_cpu_isa_t` codes, e.g. "avx512_core_amx".
const char *rnn_onednn_isa_name(int isa);

/// Whether rnn_sgemm's products run in bf16 (rnn_blas_set_precision).
int rnn_bf16_products(void);

/// rnn_sgemm in bf16: the operands rounded to bf16 (held constants read from their copy), the
/// products accumulated in fp32 by oneDNN's dnnl_gemm_bf16bf16f32.
void rnn_gemm_bf16(int trans_a, int trans_b, long M, long N, long K, float alpha, const float *A,
                   long lda, const float *B, long ldb, float beta, float *C, long ldc);

#endif
