// A character language model on the GPU: whole-sequence products through cuBLAS (each layer's
// input projection, the weight gradients, the decoder), one cuBLAS product and one fused
// pointwise kernel per layer and time step for the recurrence, forward and backward, and the
// loss, norm, clipping and optimizer in kernels. A training step never waits for the host until
// its three result scalars come back; after the first step it replays as one CUDA graph.
#include "cuda_internal.h"

#include <stdlib.h>
#include <string.h>

/// Mirrors `struct StepScalars` in cuda/language_model.cu.
typedef struct {
  float learning_rate, bias1, root2, clip_norm, clip_value, loss_scale;
  uint64_t seed;
  float loss, norm, factor;
  int finite;
} step_scalars;

enum { PARTIALS = 256 };

/// The buffers of `T` steps of `B` streams. Per layer: outputs `h [(T+1),B,H]` (row 0 the
/// state carried in), cells `c` alike (LSTM), gate activations `gates [T,B,G*H]`; while training
/// also GRU's `hn [T,B,H]`, the output gradients `dy [T,B,H]` and dropout's `y`, `mask`.
typedef struct {
  int T, B, training;
  CUdeviceptr inputs, targets, x0, dx0, logits, row_loss, ones, hidden_gates, dgates, dhidden, dc;
  CUdeviceptr loss_partials, norm_partials, scalars;
  CUdeviceptr *h, *c, *gates, *hn, *dy, *y, *mask;
  CUgraphExec graph;
  int graph_failed;
} workspace;

struct rnn_gpu_model {
  rnn_gpu *gpu;
  rnn_gpu_model_shape shape;
  long offsets[4 * 64 + 3];
  int G;
  CUdeviceptr values, gradients, first, second;
  workspace train, score;
};

#define TRY(call) \
  if (call) return 1

static CUdeviceptr param(const rnn_gpu_model *m, CUdeviceptr base, int index) {
  return base + (CUdeviceptr)m->offsets[index] * sizeof(float);
}
enum { W_IH, W_HH, B_IH, B_HH };
#define LAYER(m, base, l, which) param(m, base, 4 * (l) + (which))
#define EMBEDDING(m, base) param(m, base, 4 * (m)->shape.layers)
#define DECODER_W(m, base) param(m, base, 4 * (m)->shape.layers + 1)
#define DECODER_B(m, base) param(m, base, 4 * (m)->shape.layers + 2)

static void free_workspace(rnn_gpu *gpu, workspace *w, int layers) {
  CUdeviceptr *singles[] = {&w->inputs, &w->targets, &w->x0, &w->dx0, &w->logits, &w->row_loss, &w->ones,
                            &w->hidden_gates, &w->dgates, &w->dhidden, &w->dc, &w->loss_partials,
                            &w->norm_partials, &w->scalars};
  for (size_t i = 0; i < sizeof singles / sizeof *singles; i++)
    if (*singles[i]) gpu->cu.cuMemFree(*singles[i]);
  CUdeviceptr **arrays[] = {&w->h, &w->c, &w->gates, &w->hn, &w->dy, &w->y, &w->mask};
  for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++) {
    if (!*arrays[i]) continue;
    for (int l = 0; l < layers; l++)
      if ((*arrays[i])[l]) gpu->cu.cuMemFree((*arrays[i])[l]);
    free(*arrays[i]);
  }
  if (w->graph) gpu->cu.cuGraphExecDestroy(w->graph);
  memset(w, 0, sizeof *w);
}

/// Makes `w` hold `T` steps of `B` streams (reallocating, with a zero state, if it held others).
static int prepare(rnn_gpu_model *m, workspace *w, int T, int B, int training, char *error, size_t size) {
  if (w->T == T && w->B == B && w->training == training) return 0;
  rnn_gpu *gpu = m->gpu;
  int L = m->shape.layers, H = m->shape.hidden, E = m->shape.embedding, V = m->shape.vocabulary, G = m->G;
  free_workspace(gpu, w, L);
  w->T = T, w->B = B, w->training = training;
  size_t rows = (size_t)T * B, f = sizeof(float);
  int lstm = m->shape.cell == 0, gru = m->shape.cell == 1, dropout = training && m->shape.dropout > 0;
#define ALLOC(field, bytes) \
  if (!((field) = rnn_cuda_alloc(gpu, (bytes), error, size))) return 1
  ALLOC(w->inputs, rows * sizeof(int32_t));
  ALLOC(w->targets, rows * sizeof(int32_t));
  ALLOC(w->x0, rows * E * f);
  ALLOC(w->logits, rows * V * f);
  ALLOC(w->row_loss, rows * f);
  ALLOC(w->scalars, sizeof(step_scalars));
  if (gru) ALLOC(w->hidden_gates, (size_t)B * G * H * f);
  if (training) {
    ALLOC(w->dx0, rows * E * f);
    ALLOC(w->ones, rows * f);
    ALLOC(w->dgates, rows * G * H * f);
    if (gru) ALLOC(w->dhidden, rows * G * H * f);
    ALLOC(w->dc, (size_t)B * H * f);
    ALLOC(w->loss_partials, PARTIALS * sizeof(double));
    ALLOC(w->norm_partials, PARTIALS * sizeof(double));
    float *ones = malloc(rows * f);
    for (size_t i = 0; i < rows; i++) ones[i] = 1;
    int failed = rnn_cuda_copy_in(gpu, w->ones, ones, rows * f, error, size);
    free(ones);
    TRY(failed);
  }
  CUdeviceptr **arrays[] = {&w->h, &w->c, &w->gates, &w->hn, &w->dy, &w->y, &w->mask};
  for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++) *arrays[i] = calloc((size_t)L, sizeof(CUdeviceptr));
  for (int l = 0; l < L; l++) {
    ALLOC(w->h[l], (rows + B) * H * f);
    if (lstm) ALLOC(w->c[l], (rows + B) * H * f);
    ALLOC(w->gates[l], rows * G * H * f);
    if (training && gru) ALLOC(w->hn[l], rows * H * f);
    if (training) ALLOC(w->dy[l], rows * H * f);
    if (dropout) {
      ALLOC(w->y[l], rows * H * f);
      ALLOC(w->mask[l], rows * H * f);
    }
  }
#undef ALLOC
  return 0;
}

rnn_gpu_model *rnn_gpu_model_create(rnn_gpu *gpu, const rnn_gpu_model_shape *shape, char *error, size_t size) {
  if (shape->layers < 1 || shape->layers > 64) {
    rnn_cuda_fail(error, size, "%d layers: the GPU path takes 1 to 64", shape->layers);
    return NULL;
  }
  rnn_gpu_model *m = calloc(1, sizeof *m);
  m->gpu = gpu;
  m->shape = *shape;
  memcpy(m->offsets, shape->offsets, (size_t)(4 * shape->layers + 3) * sizeof(long));
  m->shape.offsets = m->offsets;
  m->G = rnn_cuda_gates(shape->cell);
  size_t bytes = (size_t)shape->count * sizeof(float);
  int buffers = shape->optimizer == 0 ? 2 : 1;
  if (!(m->values = rnn_cuda_alloc(gpu, bytes, error, size)) || !(m->gradients = rnn_cuda_alloc(gpu, bytes, error, size)) ||
      !(m->first = rnn_cuda_alloc(gpu, bytes, error, size)) ||
      (buffers == 2 && !(m->second = rnn_cuda_alloc(gpu, bytes, error, size)))) {
    rnn_gpu_model_destroy(m);
    return NULL;
  }
  return m;
}

void rnn_gpu_model_destroy(rnn_gpu_model *m) {
  if (!m) return;
  rnn_gpu *gpu = m->gpu;
  free_workspace(gpu, &m->train, m->shape.layers);
  free_workspace(gpu, &m->score, m->shape.layers);
  CUdeviceptr buffers[] = {m->values, m->gradients, m->first, m->second};
  for (int i = 0; i < 4; i++)
    if (buffers[i]) gpu->cu.cuMemFree(buffers[i]);
  free(m);
}

int rnn_gpu_model_set_parameters(rnn_gpu_model *m, const float *values, char *error, size_t size) {
  return rnn_cuda_copy_in(m->gpu, m->values, values, (size_t)m->shape.count * sizeof(float), error, size);
}

int rnn_gpu_model_get_parameters(rnn_gpu_model *m, float *values, char *error, size_t size) {
  return rnn_cuda_copy_out(m->gpu, values, m->values, (size_t)m->shape.count * sizeof(float), error, size);
}

int rnn_gpu_model_set_optimizer(rnn_gpu_model *m, const float *first, const float *second, char *error, size_t size) {
  size_t bytes = (size_t)m->shape.count * sizeof(float);
  TRY(rnn_cuda_copy_in(m->gpu, m->first, first, bytes, error, size));
  return m->second ? rnn_cuda_copy_in(m->gpu, m->second, second, bytes, error, size) : 0;
}

int rnn_gpu_model_get_optimizer(rnn_gpu_model *m, float *first, float *second, char *error, size_t size) {
  size_t bytes = (size_t)m->shape.count * sizeof(float);
  TRY(rnn_cuda_copy_out(m->gpu, first, m->first, bytes, error, size));
  return m->second ? rnn_cuda_copy_out(m->gpu, second, m->second, bytes, error, size) : 0;
}

int rnn_gpu_model_set_state(rnn_gpu_model *m, int T, int B, const float *h, const float *c, char *error, size_t size) {
  TRY(prepare(m, &m->train, T, B, 1, error, size));
  size_t bytes = (size_t)B * m->shape.hidden * sizeof(float);
  for (int l = 0; l < m->shape.layers; l++) {
    TRY(rnn_cuda_copy_in(m->gpu, m->train.h[l], h ? h + l * bytes / sizeof(float) : NULL, bytes, error, size));
    if (m->train.c[l]) TRY(rnn_cuda_copy_in(m->gpu, m->train.c[l], c ? c + l * bytes / sizeof(float) : NULL, bytes, error, size));
  }
  return 0;
}

int rnn_gpu_model_get_state(rnn_gpu_model *m, float *h, float *c, char *error, size_t size) {
  size_t bytes = (size_t)m->train.B * m->shape.hidden * sizeof(float);
  for (int l = 0; l < m->shape.layers && m->train.h; l++) {
    TRY(rnn_cuda_copy_out(m->gpu, h + l * bytes / sizeof(float), m->train.h[l], bytes, error, size));
    if (c && m->train.c[l]) TRY(rnn_cuda_copy_out(m->gpu, c + l * bytes / sizeof(float), m->train.c[l], bytes, error, size));
  }
  return 0;
}

#define LAUNCH(k, blocks, threads, ...)                                           \
  do {                                                                           \
    void *args_[] = {__VA_ARGS__};                                               \
    TRY(rnn_cuda_launch(gpu, (k), (blocks), (threads), args_, error, size));     \
  } while (0)

/// The input of layer `l`: the embedded tokens, or the layer below's outputs (after dropout).
static CUdeviceptr layer_input(const rnn_gpu_model *m, const workspace *w, int l) {
  if (l == 0) return w->x0;
  if (w->training && m->shape.dropout > 0) return w->y[l - 1];
  return w->h[l - 1] + (CUdeviceptr)w->B * m->shape.hidden * sizeof(float);
}

/// Forward over `T` steps (`T` <= w->T) from each layer's row 0 of `h`/`c`, to `row_loss`; while
/// training, with dropout and the loss's gradient in place of the logits.
static int forward(rnn_gpu_model *m, workspace *w, int T, char *error, size_t size) {
  rnn_gpu *gpu = m->gpu;
  int L = m->shape.layers, H = m->shape.hidden, E = m->shape.embedding, V = m->shape.vocabulary, G = m->G, B = w->B;
  int cell = m->shape.cell, relu = cell == 3, training = w->training;
  long rows = (long)T * B, BH = (long)B * H, n;
  size_t f = sizeof(float);
  float p = m->shape.dropout;
  CUdeviceptr table = EMBEDDING(m, m->values);
  n = rows * E;
  LAUNCH(K_EMBEDDING_GATHER, rnn_cuda_blocks(gpu, n), 256, &rows, &E, &w->inputs, &table, &w->x0);
  for (int l = 0; l < L; l++) {
    int D = l == 0 ? E : H;
    CUdeviceptr input = layer_input(m, w, l), w_ih = LAYER(m, m->values, l, W_IH), w_hh = LAYER(m, m->values, l, W_HH);
    CUdeviceptr b_ih = LAYER(m, m->values, l, B_IH), b_hh = LAYER(m, m->values, l, B_HH);
    TRY(rnn_cuda_gemm(gpu, 0, 1, (int)rows, G * H, D, 1, input, D, w_ih, D, 0, w->gates[l], G * H, error, size));
    long blocks = rnn_cuda_blocks(gpu, BH);
    for (int t = 0; t < T; t++) {
      CUdeviceptr h_prev = w->h[l] + t * BH * f, h = h_prev + BH * f, gates = w->gates[l] + t * BH * G * f;
      if (cell == 1) {
        TRY(rnn_cuda_gemm(gpu, 0, 1, B, G * H, H, 1, h_prev, H, w_hh, H, 0, w->hidden_gates, G * H, error, size));
        CUdeviceptr hn = training ? w->hn[l] + t * BH * f : 0;
        LAUNCH(K_GRU_FORWARD, blocks, 256, &B, &H, &gates, &w->hidden_gates, &b_ih, &b_hh, &h_prev, &h, &hn);
      } else {
        TRY(rnn_cuda_gemm(gpu, 0, 1, B, G * H, H, 1, h_prev, H, w_hh, H, 1, gates, G * H, error, size));
        if (cell == 0) {
          CUdeviceptr c_prev = w->c[l] + t * BH * f, c = c_prev + BH * f;
          LAUNCH(K_LSTM_FORWARD, blocks, 256, &B, &H, &gates, &b_ih, &b_hh, &c_prev, &c, &h);
        } else {
          LAUNCH(K_RNN_FORWARD, blocks, 256, &B, &H, &gates, &b_ih, &b_hh, &h, &relu);
        }
      }
    }
    if (training && p > 0) {
      CUdeviceptr out = w->h[l] + BH * f;
      long offset = l * rows * H;
      n = rows * H;
      LAUNCH(K_DROPOUT_FORWARD, rnn_cuda_blocks(gpu, n), 256, &n, &out, &w->y[l], &w->mask[l], &w->scalars, &offset, &p);
    }
  }
  CUdeviceptr top = layer_input(m, w, L);
  TRY(rnn_cuda_gemm(gpu, 0, 1, (int)rows, V, H, 1, top, H, DECODER_W(m, m->values), H, 0, w->logits, V, error, size));
  CUdeviceptr bias = DECODER_B(m, m->values);
  long blocks = rows < 65535 ? rows : 65535;
  LAUNCH(K_SOFTMAX_CROSS_ENTROPY, blocks, 128, &rows, &V, &w->logits, &bias, &w->targets, &w->row_loss, &w->scalars,
         &training);
  return 0;
}

/// Backward from the loss's gradient in `logits` to every parameter's gradient.
static int backward(rnn_gpu_model *m, workspace *w, char *error, size_t size) {
  rnn_gpu *gpu = m->gpu;
  int L = m->shape.layers, H = m->shape.hidden, E = m->shape.embedding, V = m->shape.vocabulary, G = m->G, B = w->B;
  int T = w->T, cell = m->shape.cell, relu = cell == 3;
  long rows = (long)T * B, BH = (long)B * H, n;
  size_t f = sizeof(float);
  CUdeviceptr top = layer_input(m, w, L);
  TRY(rnn_cuda_gemm(gpu, 1, 0, V, H, (int)rows, 1, w->logits, V, top, H, 0, DECODER_W(m, m->gradients), H, error, size));
  TRY(rnn_cuda_column_sums(gpu, (int)rows, V, w->logits, w->ones, 0, DECODER_B(m, m->gradients), error, size));
  TRY(rnn_cuda_gemm(gpu, 0, 0, (int)rows, H, V, 1, w->logits, V, DECODER_W(m, m->values), H, 0, w->dy[L - 1], H, error,
                    size));
  for (int l = L - 1; l >= 0; l--) {
    int D = l == 0 ? E : H;
    CUdeviceptr w_ih = LAYER(m, m->values, l, W_IH), w_hh = LAYER(m, m->values, l, W_HH);
    CUdeviceptr recurrent = cell == 1 ? w->dhidden : w->dgates;  // what multiplies W_hh
    if (m->shape.dropout > 0) {
      n = rows * H;
      LAUNCH(K_MULTIPLY_IN_PLACE, rnn_cuda_blocks(gpu, n), 256, &n, &w->dy[l], &w->mask[l]);
    }
    TRY(rnn_cuda_check(gpu, gpu->cu.cuMemsetD8Async(w->dc, 0, BH * f, gpu->stream), "cuMemsetD8", error, size));
    long blocks = rnn_cuda_blocks(gpu, BH);
    for (int t = T - 1; t >= 0; t--) {
      CUdeviceptr dh = w->dy[l] + t * BH * f, gates = w->gates[l] + t * BH * G * f, dgates = w->dgates + t * BH * G * f;
      if (t < T - 1)
        TRY(rnn_cuda_gemm(gpu, 0, 0, B, H, G * H, 1, recurrent + (t + 1) * BH * G * f, G * H, w_hh, H, 1, dh, H, error,
                          size));
      if (cell == 0) {
        CUdeviceptr c_prev = w->c[l] + t * BH * f, c = c_prev + BH * f;
        LAUNCH(K_LSTM_BACKWARD, blocks, 256, &B, &H, &gates, &c_prev, &c, &dh, &w->dc, &dgates);
      } else if (cell == 1) {
        CUdeviceptr hn = w->hn[l] + t * BH * f, h_prev = w->h[l] + t * BH * f;
        CUdeviceptr dh_prev = t > 0 ? dh - BH * f : 0, dhidden = w->dhidden + t * BH * G * f;
        LAUNCH(K_GRU_BACKWARD, blocks, 256, &B, &H, &gates, &hn, &h_prev, &dh, &dh_prev, &dgates, &dhidden);
      } else {
        LAUNCH(K_RNN_BACKWARD, blocks, 256, &B, &H, &gates, &dh, &dgates, &relu);
      }
    }
    CUdeviceptr input = layer_input(m, w, l);
    TRY(rnn_cuda_gemm(gpu, 1, 0, G * H, D, (int)rows, 1, w->dgates, G * H, input, D, 0, LAYER(m, m->gradients, l, W_IH),
                      D, error, size));
    TRY(rnn_cuda_gemm(gpu, 1, 0, G * H, H, (int)rows, 1, recurrent, G * H, w->h[l], H, 0,
                      LAYER(m, m->gradients, l, W_HH), H, error, size));
    TRY(rnn_cuda_column_sums(gpu, (int)rows, G * H, w->dgates, w->ones, 0, LAYER(m, m->gradients, l, B_IH), error, size));
    TRY(rnn_cuda_column_sums(gpu, (int)rows, G * H, recurrent, w->ones, 0, LAYER(m, m->gradients, l, B_HH), error, size));
    CUdeviceptr below = l > 0 ? w->dy[l - 1] : w->dx0;
    TRY(rnn_cuda_gemm(gpu, 0, 0, (int)rows, D, G * H, 1, w->dgates, G * H, w_ih, D, 0, below, D, error, size));
  }
  CUdeviceptr table = EMBEDDING(m, m->gradients);
  TRY(rnn_cuda_check(gpu, gpu->cu.cuMemsetD8Async(table, 0, (size_t)V * E * f, gpu->stream), "cuMemsetD8", error, size));
  n = rows * E;
  LAUNCH(K_EMBEDDING_SCATTER, rnn_cuda_blocks(gpu, n), 256, &rows, &E, &w->inputs, &w->dx0, &table);
  return 0;
}

/// The loss, norm, clipping, update and carried state, after `backward`.
static int update(rnn_gpu_model *m, workspace *w, int clip_value, char *error, size_t size) {
  rnn_gpu *gpu = m->gpu;
  long rows = (long)w->T * w->B, count = m->shape.count, BH = (long)w->B * m->shape.hidden;
  int zero = 0, one = 1, keep = 0;
  LAUNCH(K_PARTIAL_SUMS, PARTIALS, 256, &rows, &w->row_loss, &zero, &w->loss_partials);
  LAUNCH(K_PARTIAL_SUMS, PARTIALS, 256, &count, &m->gradients, &one, &w->norm_partials);
  LAUNCH(K_FINISH_STEP, 1, PARTIALS, &w->loss_partials, &w->norm_partials, &rows, &keep, &w->scalars);
  long blocks = rnn_cuda_blocks(gpu, count);
  if (clip_value) {
    keep = 1;
    LAUNCH(K_CLAMP_GRADIENTS, blocks, 256, &count, &m->gradients, &w->scalars);
    LAUNCH(K_PARTIAL_SUMS, PARTIALS, 256, &count, &m->gradients, &one, &w->norm_partials);
    LAUNCH(K_FINISH_STEP, 1, PARTIALS, &w->loss_partials, &w->norm_partials, &rows, &keep, &w->scalars);
  }
  switch (m->shape.optimizer) {
  case 0: LAUNCH(K_ADAM_UPDATE, blocks, 256, &count, &m->values, &m->gradients, &m->first, &m->second, &w->scalars); break;
  case 1: LAUNCH(K_RMSPROP_UPDATE, blocks, 256, &count, &m->values, &m->gradients, &m->first, &w->scalars); break;
  default: LAUNCH(K_SGD_UPDATE, blocks, 256, &count, &m->values, &m->gradients, &m->first, &w->scalars); break;
  }
  size_t f = sizeof(float);
  for (int l = 0; l < m->shape.layers; l++) {
    CUdeviceptr h_last = w->h[l] + w->T * BH * f;
    LAUNCH(K_CARRY_STATE, rnn_cuda_blocks(gpu, BH), 256, &BH, &w->h[l], &h_last, &w->scalars);
    if (w->c[l]) {
      CUdeviceptr c_last = w->c[l] + w->T * BH * f;
      LAUNCH(K_CARRY_STATE, rnn_cuda_blocks(gpu, BH), 256, &BH, &w->c[l], &c_last, &w->scalars);
    }
  }
  return 0;
}

static int enqueue_step(rnn_gpu_model *m, int clip_value, char *error, size_t size) {
  TRY(forward(m, &m->train, m->train.T, error, size));
  TRY(backward(m, &m->train, error, size));
  return update(m, &m->train, clip_value, error, size);
}

int rnn_gpu_model_train_step(rnn_gpu_model *m, const int32_t *inputs, const int32_t *targets,
                             const rnn_gpu_step_settings *settings, rnn_gpu_step_result *result, char *error,
                             size_t size) {
  rnn_gpu *gpu = m->gpu;
  workspace *w = &m->train;
  if (!w->T) return rnn_cuda_fail(error, size, "training on the GPU before its state was set");
  size_t tokens = (size_t)w->T * w->B * sizeof(int32_t);
  step_scalars scalars = {settings->learning_rate, settings->bias1, settings->root2, settings->clip_norm,
                          settings->clip_value, 1.f / (float)((long)w->T * w->B), settings->seed, 0, 0, 0, 0};
  CUresult status = gpu->cu.cuMemcpyHtoDAsync(w->inputs, inputs, tokens, gpu->stream);
  if (status == 0) status = gpu->cu.cuMemcpyHtoDAsync(w->targets, targets, tokens, gpu->stream);
  if (status == 0) status = gpu->cu.cuMemcpyHtoDAsync(w->scalars, &scalars, sizeof scalars, gpu->stream);
  TRY(rnn_cuda_check(gpu, status, "copying a batch to the GPU", error, size));
  rnn_cuda_math(gpu, gpu->tf32);
  int clip_value = settings->clip_value > 0;
  const char *graphs = getenv("RNN_CUDA_GRAPHS");
  int use_graph = !(graphs && graphs[0] == '0') && !w->graph_failed;
  if (use_graph && !w->graph) {
    // Capture once; a capture that fails (an old driver, say) falls back to plain launches.
    CUgraph graph = NULL;
    char ignored[256];
    int failed = gpu->cu.cuStreamBeginCapture(gpu->stream, 2 /* relaxed */) != 0;
    failed = failed || enqueue_step(m, clip_value, ignored, sizeof ignored);
    CUresult ended = gpu->cu.cuStreamEndCapture(gpu->stream, &graph);
    failed = failed || ended != 0 || gpu->cu.cuGraphInstantiateWithFlags(&w->graph, graph, 0) != 0;
    if (graph) gpu->cu.cuGraphDestroy(graph);
    if (failed) w->graph = NULL, w->graph_failed = 1, use_graph = 0;
  }
  if (use_graph) {
    TRY(rnn_cuda_check(gpu, gpu->cu.cuGraphLaunch(w->graph, gpu->stream), "cuGraphLaunch", error, size));
  } else {
    TRY(enqueue_step(m, clip_value, error, size));
  }
  TRY(rnn_cuda_copy_out(gpu, &scalars, w->scalars, sizeof scalars, error, size));
  result->loss = scalars.loss;
  result->norm = scalars.norm;
  result->finite = scalars.finite;
  return 0;
}

int rnn_gpu_model_score_begin(rnn_gpu_model *m, int batch, char *error, size_t size) {
  workspace *w = &m->score;
  if (w->B != batch) TRY(prepare(m, w, 256, batch, 0, error, size));
  size_t bytes = (size_t)batch * m->shape.hidden * sizeof(float);
  for (int l = 0; l < m->shape.layers; l++) {
    TRY(rnn_cuda_copy_in(m->gpu, w->h[l], NULL, bytes, error, size));
    if (w->c[l]) TRY(rnn_cuda_copy_in(m->gpu, w->c[l], NULL, bytes, error, size));
  }
  return 0;
}

int rnn_gpu_model_score_chunk(rnn_gpu_model *m, int steps, const int32_t *inputs, const int32_t *targets,
                              double *nats, char *error, size_t size) {
  rnn_gpu *gpu = m->gpu;
  workspace *w = &m->score;
  if (!w->B) return rnn_cuda_fail(error, size, "scoring on the GPU before score_begin");
  int B = w->B, L = m->shape.layers;
  if (steps > w->T) {
    // A longer chunk: a larger workspace, with the carried state moved over.
    size_t bytes = (size_t)B * m->shape.hidden * sizeof(float);
    float *saved = malloc(2 * L * bytes);
    for (int l = 0; l < L; l++) {
      TRY(rnn_cuda_copy_out(gpu, (char *)saved + 2 * l * bytes, w->h[l], bytes, error, size));
      if (w->c[l]) TRY(rnn_cuda_copy_out(gpu, (char *)saved + (2 * l + 1) * bytes, w->c[l], bytes, error, size));
    }
    w->B = 0;
    int failed = prepare(m, w, steps, B, 0, error, size);
    for (int l = 0; l < L && !failed; l++) {
      failed = rnn_cuda_copy_in(gpu, w->h[l], (char *)saved + 2 * l * bytes, bytes, error, size);
      if (!failed && w->c[l]) failed = rnn_cuda_copy_in(gpu, w->c[l], (char *)saved + (2 * l + 1) * bytes, bytes, error, size);
    }
    free(saved);
    TRY(failed);
  }
  size_t rows = (size_t)steps * B, BH = (size_t)B * m->shape.hidden * sizeof(float);
  CUresult status = gpu->cu.cuMemcpyHtoDAsync(w->inputs, inputs, rows * sizeof(int32_t), gpu->stream);
  if (status == 0) status = gpu->cu.cuMemcpyHtoDAsync(w->targets, targets, rows * sizeof(int32_t), gpu->stream);
  TRY(rnn_cuda_check(gpu, status, "copying text to the GPU", error, size));
  rnn_cuda_math(gpu, 0);
  TRY(forward(m, w, steps, error, size));
  float *losses = malloc(rows * sizeof(float));
  int failed = rnn_cuda_copy_out(gpu, losses, w->row_loss, rows * sizeof(float), error, size);
  double total = 0;
  for (size_t i = 0; i < rows; i++) total += losses[i];
  free(losses);
  TRY(failed);
  *nats += total;
  for (int l = 0; l < L; l++) {
    status = gpu->cu.cuMemcpyDtoDAsync(w->h[l], w->h[l] + steps * BH, BH, gpu->stream);
    if (status == 0 && w->c[l]) status = gpu->cu.cuMemcpyDtoDAsync(w->c[l], w->c[l] + steps * BH, BH, gpu->stream);
    TRY(rnn_cuda_check(gpu, status, "carrying the state", error, size));
  }
  return 0;
}
