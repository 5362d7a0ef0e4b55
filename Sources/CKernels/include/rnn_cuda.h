// The CUDA backend's C interface: a GPU found and loaded at run time (the driver, NVRTC and cuBLAS
// through dlopen; nothing CUDA at build time), a character language model's training and
// scoring on it, and batch-1 generation in one persistent kernel. Kernels are the CUDA C files in
// Sources/CKernels/cuda, compiled by NVRTC for the GPU present and cached.
//
// Every function that can fail returns 0 on success and otherwise writes one line naming the
// problem into `error` (`error_size` bytes) and returns nonzero.
#ifndef RNN_CUDA_H
#define RNN_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An opened GPU: its context, stream, cuBLAS handle and compiled kernels. One per process.
typedef struct rnn_gpu rnn_gpu;

/// Opens the first GPU, loading the libraries and compiling (or loading cached) kernels. `folder`
/// (may be null) is searched first for the libraries, before the system library path and the
/// Python environments' `nvidia/*/lib` folders. The first successful call's GPU is returned
/// to every later call.
rnn_gpu *rnn_gpu_open(const char *folder, char *error, size_t error_size);

/// "NVIDIA H200 (sm_90, 132 multiprocessors), CUDA 13.0, cuBLAS 13.1".
const char *rnn_gpu_description(const rnn_gpu *gpu);

/// Compiles every kernel through NVRTC for `arch` (e.g. "sm_90") without a GPU or driver (the
/// tests' check). On success writes the size of the compiled code to `bytes`.
int rnn_gpu_compile_kernels(const char *folder, const char *arch, size_t *bytes, char *error, size_t error_size);

/// Whether matrix products in training may use TF32 tensor cores (as PyTorch's cuDNN RNNs do by
/// default; the default unless the environment has RNN_CUDA_TF32=0). Scoring and sampling always
/// compute in full float32.
void rnn_gpu_set_tf32(rnn_gpu *gpu, int allowed);

/// A character language model on the GPU (`Embedding -> L x cell -> Linear`): its flat
/// parameters, gradients and optimizer buffers, laid out as on the host.
typedef struct rnn_gpu_model rnn_gpu_model;

/// Where each tensor starts in the flat parameters (floats): per layer `w_ih, w_hh, b_ih, b_hh`,
/// then `embedding.weight, decoder.weight, decoder.bias` (`4L+3` offsets).
typedef struct {
  int cell;  ///< 0 lstm, 1 gru, 2 rnn_tanh, 3 rnn_relu
  int layers, hidden, embedding, vocabulary;
  float dropout;
  int optimizer;  ///< 0 adam, 1 rmsprop, 2 sgd
  long count;     ///< parameters
  const long *offsets;
} rnn_gpu_model_shape;

rnn_gpu_model *rnn_gpu_model_create(rnn_gpu *gpu, const rnn_gpu_model_shape *shape, char *error, size_t error_size);
void rnn_gpu_model_destroy(rnn_gpu_model *model);

/// Parameters `[count]` and optimizer buffers (`[count]` each, the optimizer's number: Adam 2,
/// others 1; null to zero them) from and to the host.
int rnn_gpu_model_set_parameters(rnn_gpu_model *model, const float *values, char *error, size_t error_size);
int rnn_gpu_model_get_parameters(rnn_gpu_model *model, float *values, char *error, size_t error_size);
int rnn_gpu_model_set_optimizer(rnn_gpu_model *model, const float *first, const float *second, char *error,
                                size_t error_size);
int rnn_gpu_model_get_optimizer(rnn_gpu_model *model, float *first, float *second, char *error, size_t error_size);

/// The state carried between training batches, `[L,B,H]` for `h` and (LSTM) `c`; null sets zeros.
int rnn_gpu_model_set_state(rnn_gpu_model *model, int time, int batch, const float *h, const float *c, char *error,
                            size_t error_size);
int rnn_gpu_model_get_state(rnn_gpu_model *model, float *h, float *c, char *error, size_t error_size);

/// What changes from one training step to the next.
typedef struct {
  float learning_rate;
  float bias1, root2;  ///< Adam: 1 - 0.9^t and sqrt(1 - 0.999^t) for update t
  float clip_norm, clip_value;
  uint64_t seed;       ///< dropout masks
} rnn_gpu_step_settings;

typedef struct {
  float loss;      ///< mean over the batch, nats per character
  float norm;      ///< gradient norm before clipping
  int finite;      ///< 0: loss or gradients not finite; nothing was changed
} rnn_gpu_step_result;

/// One training step on `inputs`, `targets` `[T,B]` (time-major) from the carried state: forward,
/// backward, clipping and the optimizer update, all on the GPU (a CUDA graph after the first step
/// unless RNN_CUDA_GRAPHS=0), and the state carried into the next. `T` and `B` are fixed by the
/// first step (or `set_state`).
int rnn_gpu_model_train_step(rnn_gpu_model *model, const int32_t *inputs, const int32_t *targets,
                             const rnn_gpu_step_settings *settings, rnn_gpu_step_result *result, char *error,
                             size_t error_size);

/// Scoring: `begin` zeroes the state of `batch` streams; each `chunk` runs `steps` (any number)
/// without dropout from the carried state and adds the summed loss to `*nats`.
int rnn_gpu_model_score_begin(rnn_gpu_model *model, int batch, char *error, size_t error_size);
int rnn_gpu_model_score_chunk(rnn_gpu_model *model, int steps, const int32_t *inputs, const int32_t *targets,
                              double *nats, char *error, size_t error_size);

/// Batch-1 generation (see cuda/sampler.cu) from host parameters laid out as in `shape`.
typedef struct rnn_gpu_sampler rnn_gpu_sampler;

rnn_gpu_sampler *rnn_gpu_sampler_create(rnn_gpu *gpu, const rnn_gpu_model_shape *shape, const float *values,
                                        char *error, size_t error_size);
void rnn_gpu_sampler_destroy(rnn_gpu_sampler *sampler);

/// Runs `count` steps: feeding `forced [count]` when given, else sampling each id from the
/// current logits (`argmax`, or at `temperature` among the `top_k` largest, 0 for all) into
/// `out [count]`, with draws from `seed`.
int rnn_gpu_sampler_run(rnn_gpu_sampler *sampler, int count, const int32_t *forced, int32_t *out, float temperature,
                        int top_k, int argmax, uint64_t seed, char *error, size_t error_size);

/// The logits `[V]` for the next character, and the state `[L,H]` (h, and c for LSTM; c may be null).
int rnn_gpu_sampler_logits(rnn_gpu_sampler *sampler, float *logits, char *error, size_t error_size);
int rnn_gpu_sampler_state(rnn_gpu_sampler *sampler, float *h, float *c, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
