// The CUDA backend's internals shared by cuda_loader.c, cuda_model.c and cuda_sampler.c: the
// driver, NVRTC and cuBLAS entry points we use (declared here, loaded by dlsym; no CUDA headers at
// build time) and the opened GPU.
#ifndef RNN_CUDA_INTERNAL_H
#define RNN_CUDA_INTERNAL_H

#include "include/rnn_cuda.h"

#include <stdarg.h>
#include <stdio.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef void *CUcontext, *CUmodule, *CUfunction, *CUstream, *CUgraph, *CUgraphExec;

/// The driver API calls used (loaded by the exported, versioned names in cuda_loader.c's
/// `driver_symbols`, in this order).
typedef struct {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int *);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(int *, int);
  CUresult (*cuDeviceGetName)(char *, int, int);
  CUresult (*cuDeviceGetAttribute)(int *, int, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, int);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuOccupancyMaxActiveBlocksPerMultiprocessor)(int *, CUfunction, int, size_t);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void **, void **);
  CUresult (*cuLaunchCooperativeKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                        unsigned, CUstream, void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  CUresult (*cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamBeginCapture)(CUstream, int);
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph *);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph, unsigned long long);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphDestroy)(CUgraph);
  CUresult (*cuGraphExecDestroy)(CUgraphExec);
} rnn_cuda_driver;

typedef struct {
  int (*cublasCreate)(void **);
  int (*cublasGetVersion)(void *, int *);
  int (*cublasSetStream)(void *, CUstream);
  int (*cublasSetMathMode)(void *, int);
  int (*cublasSetWorkspace)(void *, void *, size_t);
  int (*cublasSgemm)(void *, int, int, int, int, int, const float *, const float *, int, const float *, int,
                     const float *, float *, int);
  int (*cublasSgemv)(void *, int, int, int, const float *, const float *, int, const float *, int, const float *,
                     float *, int);
} rnn_cublas;

/// The kernels of cuda/*.cu, by index.
enum {
  K_LSTM_FORWARD, K_LSTM_BACKWARD, K_GRU_FORWARD, K_GRU_BACKWARD, K_RNN_FORWARD, K_RNN_BACKWARD,
  K_EMBEDDING_GATHER, K_EMBEDDING_SCATTER, K_DROPOUT_FORWARD, K_MULTIPLY_IN_PLACE, K_SOFTMAX_CROSS_ENTROPY,
  K_PARTIAL_SUMS, K_FINISH_STEP, K_CLAMP_GRADIENTS, K_ADAM_UPDATE, K_RMSPROP_UPDATE, K_SGD_UPDATE, K_CARRY_STATE,
  K_SAMPLE_PERSISTENT, K_COUNT
};

struct rnn_gpu {
  rnn_cuda_driver cu;
  rnn_cublas blas;
  int device, multiprocessors, major, minor, shared_optin;
  CUcontext context;
  CUstream stream;
  void *cublas;
  int tf32;
  CUdeviceptr workspace;  // cuBLAS's
  CUfunction kernels[K_COUNT];
  char description[256];
};

/// Writes "what: message" into `error` and returns 1.
int rnn_cuda_fail(char *error, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));

/// Checks a driver call: on failure writes "`what` failed: <driver's message>" and returns 1.
int rnn_cuda_check(const rnn_gpu *gpu, CUresult result, const char *what, char *error, size_t size);

/// Launches kernel `k` on the GPU's stream over `blocks x threads` with `args`.
int rnn_cuda_launch(rnn_gpu *gpu, int k, long blocks, int threads, void **args, char *error, size_t size);

/// Blocks for an elementwise launch over `n` items of 256 threads (capped: kernels grid-stride).
long rnn_cuda_blocks(const rnn_gpu *gpu, long n);

/// `C [M,N] = alpha * op(A) op(B) + beta * C`, row-major, `op` transposing where `ta`/`tb`.
int rnn_cuda_gemm(rnn_gpu *gpu, int ta, int tb, int M, int N, int K, float alpha, CUdeviceptr A, int lda,
                  CUdeviceptr B, int ldb, float beta, CUdeviceptr C, int ldc, char *error, size_t size);

/// `y [N] = beta * y + the column sums of A [M,N]` (row-major); `ones` holds at least M ones.
int rnn_cuda_column_sums(rnn_gpu *gpu, int M, int N, CUdeviceptr A, CUdeviceptr ones, float beta, CUdeviceptr y,
                         char *error, size_t size);

/// cuBLAS's products in full float32, or with TF32 tensor cores where `tf32`.
void rnn_cuda_math(rnn_gpu *gpu, int tf32);

/// Copies `bytes` to the GPU (`from` null: zeroes them) and waits for the copy.
int rnn_cuda_copy_in(rnn_gpu *gpu, CUdeviceptr to, const void *from, size_t bytes, char *error, size_t size);

/// Copies `bytes` from the GPU once the work before it has run.
int rnn_cuda_copy_out(rnn_gpu *gpu, void *to, CUdeviceptr from, size_t bytes, char *error, size_t size);

/// The gate blocks of a cell (0 lstm, 1 gru, 2 and 3 the vanilla cells): 4, 3 or 1.
int rnn_cuda_gates(int cell);

/// Device memory of `bytes`, zeroed; 0 on failure (with `error` written).
CUdeviceptr rnn_cuda_alloc(rnn_gpu *gpu, size_t bytes, char *error, size_t size);

#endif
