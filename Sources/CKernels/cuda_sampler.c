// Batch-1 generation on the GPU: the host side of cuda/sampler.cu's persistent kernel.
#include "cuda_internal.h"

#include <stdlib.h>

/// Mirrors `struct SamplerArgs` in cuda/sampler.cu.
typedef struct {
  int cell, layers, hidden, embedding, vocab;
  CUdeviceptr weights, h, c, logits, forced, out, barrier;
  int count, parity;
  float temperature;
  int top_k, argmax;
  uint64_t seed;
  int cache_weights;
} sampler_args;

struct rnn_gpu_sampler {
  rnn_gpu *gpu;
  rnn_gpu_model_shape shape;
  CUdeviceptr values, weights, h, c, logits, forced, out, barrier;
  int capacity, steps, blocks, threads, cache;
  size_t shared;
};

enum { THREADS = 256, CHUNK = 4096 };

rnn_gpu_sampler *rnn_gpu_sampler_create(rnn_gpu *gpu, const rnn_gpu_model_shape *shape, const float *values,
                                        char *error, size_t size) {
  rnn_gpu_sampler *s = calloc(1, sizeof *s);
  s->gpu = gpu;
  s->shape = *shape;
  s->shape.offsets = NULL;
  int L = shape->layers, H = shape->hidden, E = shape->embedding, V = shape->vocabulary;
  int G = rnn_cuda_gates(shape->cell);
  size_t f = sizeof(float);
  s->capacity = CHUNK;
#define ALLOC(field, bytes) \
  if (!((field) = rnn_cuda_alloc(gpu, (bytes), error, size))) goto fail
  ALLOC(s->values, (size_t)shape->count * f);
  ALLOC(s->weights, (size_t)(4 * L + 3) * sizeof(CUdeviceptr));
  ALLOC(s->h, (size_t)L * 2 * H * f);
  ALLOC(s->c, (size_t)L * H * f);
  ALLOC(s->logits, (size_t)V * f);
  ALLOC(s->forced, CHUNK * sizeof(int32_t));
  ALLOC(s->out, CHUNK * sizeof(int32_t));
  ALLOC(s->barrier, 2 * sizeof(unsigned));
#undef ALLOC
  CUdeviceptr *pointers = malloc((size_t)(4 * L + 3) * sizeof(CUdeviceptr));
  for (int i = 0; i < 4 * L + 3; i++) pointers[i] = s->values + (CUdeviceptr)shape->offsets[i] * f;
  int failed = rnn_cuda_copy_in(gpu, s->values, values, (size_t)shape->count * f, error, size) ||
               rnn_cuda_copy_in(gpu, s->weights, pointers, (size_t)(4 * L + 3) * sizeof(CUdeviceptr), error, size);
  free(pointers);
  if (failed) goto fail;

  // One block per multiprocessor (at most one per unit); the gate rows in shared memory when each
  // block's share of them fits.
  s->threads = THREADS;
  s->blocks = gpu->multiprocessors < H ? gpu->multiprocessors : H;
  int units = (H + s->blocks - 1) / s->blocks, width = E > H ? E : H;
  size_t vectors = (size_t)(width + H + 2 * G * units + 32 + THREADS) * f, rows = 0;
  for (int l = 0; l < L; l++) rows += (size_t)units * G * ((l == 0 ? E : H) + H) * f;
  s->cache = vectors + rows + 1024 <= (size_t)gpu->shared_optin;  // room for static shared memory
  s->shared = vectors + (s->cache ? rows : 0);
  CUfunction kernel = gpu->kernels[K_SAMPLE_PERSISTENT];
  if (rnn_cuda_check(gpu, gpu->cu.cuFuncSetAttribute(kernel, 8 /* max dynamic shared memory */, (int)s->shared),
                     "raising the sampler's shared memory", error, size))
    goto fail;
  int resident = 0;
  if (rnn_cuda_check(gpu, gpu->cu.cuOccupancyMaxActiveBlocksPerMultiprocessor(&resident, kernel, THREADS, s->shared),
                     "cuOccupancyMaxActiveBlocksPerMultiprocessor", error, size))
    goto fail;
  if (resident < 1) {
    rnn_cuda_fail(error, size, "the sampler's kernel does not fit on a multiprocessor (%zu bytes of shared memory)",
                  s->shared);
    goto fail;
  }
  return s;
fail:
  rnn_gpu_sampler_destroy(s);
  return NULL;
}

void rnn_gpu_sampler_destroy(rnn_gpu_sampler *s) {
  if (!s) return;
  CUdeviceptr buffers[] = {s->values, s->weights, s->h, s->c, s->logits, s->forced, s->out, s->barrier};
  for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++)
    if (buffers[i]) s->gpu->cu.cuMemFree(buffers[i]);
  free(s);
}

int rnn_gpu_sampler_run(rnn_gpu_sampler *s, int count, const int32_t *forced, int32_t *out, float temperature,
                        int top_k, int argmax, uint64_t seed, char *error, size_t size) {
  rnn_gpu *gpu = s->gpu;
  for (int done = 0; done < count;) {
    int n = count - done < CHUNK ? count - done : CHUNK;
    if (forced) {
      CUresult status = gpu->cu.cuMemcpyHtoDAsync(s->forced, forced + done, (size_t)n * sizeof(int32_t), gpu->stream);
      if (rnn_cuda_check(gpu, status, "copying a prime to the GPU", error, size)) return 1;
    }
    sampler_args a = {s->shape.cell, s->shape.layers, s->shape.hidden, s->shape.embedding, s->shape.vocabulary,
                      s->weights, s->h, s->c, s->logits, forced ? s->forced : 0, s->out, s->barrier,
                      n, s->steps & 1, temperature, top_k, argmax, seed + (uint64_t)done, s->cache};
    void *args[] = {&a};
    CUresult status = gpu->cu.cuLaunchCooperativeKernel(gpu->kernels[K_SAMPLE_PERSISTENT], (unsigned)s->blocks, 1, 1,
                                                        (unsigned)s->threads, 1, 1, (unsigned)s->shared, gpu->stream,
                                                        args);
    if (rnn_cuda_check(gpu, status, "launching the sampler", error, size)) return 1;
    if (!forced) {
      status = gpu->cu.cuMemcpyDtoHAsync(out + done, s->out, (size_t)n * sizeof(int32_t), gpu->stream);
      if (rnn_cuda_check(gpu, status, "copying samples back", error, size)) return 1;
    }
    if (rnn_cuda_check(gpu, gpu->cu.cuStreamSynchronize(gpu->stream), "sampling", error, size)) return 1;
    s->steps += n;
    done += n;
  }
  return 0;
}

int rnn_gpu_sampler_logits(rnn_gpu_sampler *s, float *logits, char *error, size_t size) {
  return rnn_cuda_copy_out(s->gpu, logits, s->logits, (size_t)s->shape.vocabulary * sizeof(float), error, size);
}

int rnn_gpu_sampler_state(rnn_gpu_sampler *s, float *h, float *c, char *error, size_t size) {
  int H = s->shape.hidden;
  size_t bytes = (size_t)H * sizeof(float);
  for (int l = 0; l < s->shape.layers; l++) {
    CUdeviceptr current = s->h + (size_t)(2 * l + (s->steps & 1)) * bytes;
    if (rnn_cuda_copy_out(s->gpu, h + (size_t)l * H, current, bytes, error, size)) return 1;
    if (c && s->shape.cell == 0 && rnn_cuda_copy_out(s->gpu, c + (size_t)l * H, s->c + (size_t)l * bytes, bytes, error, size))
      return 1;
  }
  return 0;
}
