// The CUDA backend's building blocks: kernel launches, cuBLAS products in row-major terms, and
// device memory.
#include "cuda_internal.h"

int rnn_cuda_launch(rnn_gpu *gpu, int k, long blocks, int threads, void **args, char *error, size_t size) {
  CUresult result = gpu->cu.cuLaunchKernel(gpu->kernels[k], (unsigned)blocks, 1, 1, (unsigned)threads, 1, 1, 0,
                                           gpu->stream, args, NULL);
  return rnn_cuda_check(gpu, result, "a kernel launch", error, size);
}

long rnn_cuda_blocks(const rnn_gpu *gpu, long n) {
  long blocks = (n + 255) / 256, most = 8L * gpu->multiprocessors;
  return blocks < 1 ? 1 : (blocks > most ? most : blocks);
}

int rnn_cuda_gemm(rnn_gpu *gpu, int ta, int tb, int M, int N, int K, float alpha, CUdeviceptr A, int lda,
                  CUdeviceptr B, int ldb, float beta, CUdeviceptr C, int ldc, char *error, size_t size) {
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
  int status = gpu->blas.cublasSgemm(gpu->cublas, tb, ta, N, M, K, &alpha, (const float *)B, ldb, (const float *)A,
                                     lda, &beta, (float *)C, ldc);
  if (status == 0) return 0;
  return rnn_cuda_fail(error, size, "cublasSgemm failed (status %d) for %dx%dx%d", status, M, N, K);
}

int rnn_cuda_column_sums(rnn_gpu *gpu, int M, int N, CUdeviceptr A, CUdeviceptr ones, float beta, CUdeviceptr y,
                         char *error, size_t size) {
  float one = 1;
  // Row-major A [M,N] is column-major [N,M] with leading dimension N: y = A_cm * ones.
  int status = gpu->blas.cublasSgemv(gpu->cublas, 0, N, M, &one, (const float *)A, N, (const float *)ones, 1,
                                     &beta, (float *)y, 1);
  if (status == 0) return 0;
  return rnn_cuda_fail(error, size, "cublasSgemv failed (status %d)", status);
}

CUdeviceptr rnn_cuda_alloc(rnn_gpu *gpu, size_t bytes, char *error, size_t size) {
  CUdeviceptr pointer = 0;
  char what[96];
  snprintf(what, sizeof what, "allocating %.1f MiB of GPU memory", (double)bytes / 1048576);
  if (rnn_cuda_check(gpu, gpu->cu.cuMemAlloc(&pointer, bytes ? bytes : 4), what, error, size)) return 0;
  if (rnn_cuda_check(gpu, gpu->cu.cuMemsetD8Async(pointer, 0, bytes ? bytes : 4, gpu->stream), "cuMemsetD8", error,
                     size)) {
    gpu->cu.cuMemFree(pointer);
    return 0;
  }
  return pointer;
}

void rnn_cuda_math(rnn_gpu *gpu, int tf32) { gpu->blas.cublasSetMathMode(gpu->cublas, tf32 ? 3 : 0); }

int rnn_cuda_copy_in(rnn_gpu *gpu, CUdeviceptr to, const void *from, size_t bytes, char *error, size_t size) {
  CUresult result = from ? gpu->cu.cuMemcpyHtoDAsync(to, from, bytes, gpu->stream)
                         : gpu->cu.cuMemsetD8Async(to, 0, bytes, gpu->stream);
  if (result == 0) result = gpu->cu.cuStreamSynchronize(gpu->stream);
  return rnn_cuda_check(gpu, result, "copying to the GPU", error, size);
}

int rnn_cuda_copy_out(rnn_gpu *gpu, void *to, CUdeviceptr from, size_t bytes, char *error, size_t size) {
  CUresult result = gpu->cu.cuMemcpyDtoHAsync(to, from, bytes, gpu->stream);
  if (result == 0) result = gpu->cu.cuStreamSynchronize(gpu->stream);
  return rnn_cuda_check(gpu, result, "copying from the GPU", error, size);
}

int rnn_cuda_gates(int cell) { return cell == 0 ? 4 : (cell == 1 ? 3 : 1); }
