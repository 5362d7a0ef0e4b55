// The character language model's kernels around the cells: embedding lookup and its gradient,
// dropout, softmax cross-entropy, the global gradient norm, the optimizers and the carried state.
// Everything a training step needs, so that a step runs without a host round trip (and can be
// captured into a CUDA graph: kernel arguments never change between steps; what does is read
// from `StepScalars` in device memory).

/// Per-step scalars. The host writes the first group before each step; kernels write the rest.
/// Mirrors `rnn_gpu_step_scalars` in cuda_model.c.
struct StepScalars {
  float learning_rate, bias1, root2;  // Adam's bias corrections: 1 - 0.9^t, sqrt(1 - 0.999^t)
  float clip_norm, clip_value;        // 0: off
  float loss_scale;                   // the gradient of the summed loss: weight / (T*B)
  u64 seed;                           // this step's dropout masks
  float loss, norm, factor;           // mean loss, gradient norm, clipping factor
  int finite;                         // loss and gradients finite: the update happens
};

#define PARTIALS 256

/// `out [rows,E]` = the rows of `table [V,E]` that `tokens [rows]` name.
extern "C" __global__ void embedding_gather(long rows, int E, const int *tokens, const float *table, float *out) {
  GRID_STRIDE(k, rows * E) out[k] = table[(long)tokens[k / E] * E + k % E];
}

/// `table_grad [V,E]` += each row of `grad [rows,E]` at its token's row.
extern "C" __global__ void embedding_scatter(long rows, int E, const int *tokens, const float *grad,
                                             float *table_grad) {
  GRID_STRIDE(k, rows * E) atomicAdd(table_grad + (long)tokens[k / E] * E + k % E, grad[k]);
}

/// `y = x * mask` with a fresh mask: kept with probability `1-p` and scaled by `1/(1-p)`
/// (`nn.Dropout`). Draws come from the step's seed at `offset + i`.
extern "C" __global__ void dropout_forward(long n, const float *x, float *y, float *mask, const struct StepScalars *s,
                                           long offset, float p) {
  float keep = 1.f / (1.f - p);
  u64 seed = s->seed;
  GRID_STRIDE(i, n) {
    float m = uniform01(seed, offset + i) >= p ? keep : 0.f;
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

/// `x *= mask`, elementwise.
extern "C" __global__ void multiply_in_place(long n, float *x, const float *mask) {
  GRID_STRIDE(i, n) x[i] *= mask[i];
}

/// One block per row of `logits [rows,V]` (without the bias `bias [V]`): the row's loss
/// `logsumexp - logit[target]` into `row_loss [rows]`, and with `gradient`, the gradient of
/// `loss_scale *` summed loss in place of the logits.
extern "C" __global__ void softmax_cross_entropy(long rows, int V, float *logits, const float *bias, const int *targets,
                                                 float *row_loss, const struct StepScalars *s, int gradient) {
  __shared__ float scratch[32];
  for (long row = blockIdx.x; row < rows; row += gridDim.x) {
    float *l = logits + row * V;
    float m = NEG_INF;
    for (int v = threadIdx.x; v < V; v += blockDim.x) m = fmaxf(m, l[v] + bias[v]);
    m = block_max(m, scratch);
    float sum = 0.f;
    for (int v = threadIdx.x; v < V; v += blockDim.x) sum += expf(l[v] + bias[v] - m);
    sum = block_sum(sum, scratch);
    float lse = m + logf(sum);
    int target = targets[row];
    if (threadIdx.x == 0) row_loss[row] = lse - (l[target] + bias[target]);
    __syncthreads();
    if (gradient) {
      float scale = s->loss_scale;
      for (int v = threadIdx.x; v < V; v += blockDim.x)
        l[v] = (expf(l[v] + bias[v] - lse) - (v == target ? 1.f : 0.f)) * scale;
    }
    __syncthreads();
  }
}

/// `partials [PARTIALS]`: block sums of `x [n]` (of its squares with `squares`), in a fixed
/// order, so the total does not depend on timing. Launched with PARTIALS blocks.
extern "C" __global__ void partial_sums(long n, const float *x, int squares, double *partials) {
  __shared__ double scratch[32];
  double acc = 0.0;
  GRID_STRIDE(i, n) {
    double v = x[i];
    acc += squares ? v * v : v;
  }
  acc = block_reduce(acc, scratch, 0.0, Add());
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

/// One block: the step's mean loss (from `loss_partials`, the summed row losses over `rows`),
/// the gradient norm, whether both are finite and the clipping factor (as
/// `clip_grad_norm_`: `clip / (norm + 1e-6)`, at most 1).
/// With `keep`, a step already found not finite stays so (the second pass after clamping).
extern "C" __global__ void finish_step(const double *loss_partials, const double *norm_partials, long rows, int keep,
                                       struct StepScalars *s) {
  __shared__ double scratch[32];
  double loss = block_reduce(threadIdx.x < PARTIALS ? loss_partials[threadIdx.x] : 0.0, scratch, 0.0, Add());
  double squares = block_reduce(threadIdx.x < PARTIALS ? norm_partials[threadIdx.x] : 0.0, scratch, 0.0, Add());
  if (threadIdx.x == 0) {
    float mean = (float)(loss / (double)rows);
    float norm = (float)sqrt(squares);
    s->loss = mean;
    s->norm = norm;
    int finite = isfinite(mean) && isfinite(norm);
    s->finite = keep ? s->finite && finite : finite;
    float factor = s->clip_norm > 0.f ? s->clip_norm / (norm + 1e-6f) : 1.f;
    s->factor = factor < 1.f ? factor : 1.f;
  }
}

/// `x` clamped to `[-limit, limit]` (`clip_grad_value_`), where the step is finite.
extern "C" __global__ void clamp_gradients(long n, float *x, const struct StepScalars *s) {
  float limit = s->clip_value;
  if (limit <= 0.f || !s->finite) return;
  GRID_STRIDE(i, n) x[i] = fminf(fmaxf(x[i], -limit), limit);
}

/// Adam (betas 0.9, 0.999, eps 1e-8), as `rnn_adam_step` on the CPU, on clipped gradients.
extern "C" __global__ void adam_update(long n, float *p, const float *g, float *m, float *v,
                                       const struct StepScalars *s) {
  if (!s->finite) return;
  float step = s->learning_rate / s->bias1, root2 = s->root2, factor = s->factor;
  GRID_STRIDE(i, n) {
    float gi = factor < 1.f ? g[i] * factor : g[i];
    float mi = 0.9f * m[i] + 0.1f * gi;
    float vi = 0.999f * v[i] + 0.001f * gi * gi;
    m[i] = mi, v[i] = vi;
    p[i] -= step * mi / (sqrtf(vi) / root2 + 1e-8f);
  }
}

/// RMSprop as char-rnn uses it (alpha 0.95, eps 1e-8).
extern "C" __global__ void rmsprop_update(long n, float *p, const float *g, float *v, const struct StepScalars *s) {
  if (!s->finite) return;
  float lr = s->learning_rate, factor = s->factor;
  GRID_STRIDE(i, n) {
    float gi = factor < 1.f ? g[i] * factor : g[i];
    float vi = 0.95f * v[i] + 0.05f * gi * gi;
    v[i] = vi;
    p[i] -= lr * gi / (sqrtf(vi) + 1e-8f);
  }
}

/// SGD with momentum 0.9.
extern "C" __global__ void sgd_update(long n, float *p, const float *g, float *buffer, const struct StepScalars *s) {
  if (!s->finite) return;
  float lr = s->learning_rate, factor = s->factor;
  GRID_STRIDE(i, n) {
    float gi = factor < 1.f ? g[i] * factor : g[i];
    float b = 0.9f * buffer[i] + gi;
    buffer[i] = b;
    p[i] -= lr * b;
  }
}

/// `dst = src` where the step is finite (the state carried into the next batch).
extern "C" __global__ void carry_state(long n, float *dst, const float *src, const struct StepScalars *s) {
  if (!s->finite) return;
  GRID_STRIDE(i, n) dst[i] = src[i];
}
