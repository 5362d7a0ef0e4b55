// Batch-1 generation in one persistent kernel: many characters per launch, the weights read once
// into shared memory (when they fit across the grid) or from L2, and the sampling on the GPU; only
// the sampled ids leave it. Launched cooperatively (every block resident), one block per
// multiprocessor at most; blocks meet at a grid barrier after each layer and after the decoder,
// `L+1` barriers per character.
//
// Block b owns the units j = b, b + gridDim.x, ... of every layer: it computes their gate rows
// (both products), then their cell update, keeping LSTM cells in `c`. Hidden states live in `h`
// twice per layer (`[L,2,H]`, by the parity of the step) so that a step reads the previous state
// while others write the new one.

/// Mirrors `rnn_gpu_sampler_args` in cuda_sampler.c.
struct SamplerArgs {
  int cell;  // 0 lstm, 1 gru, 2 rnn_tanh, 3 rnn_relu
  int layers, hidden, embedding, vocab;
  const float *const *weights;  // per layer w_ih, w_hh, b_ih, b_hh; then embedding, decoder weight and bias
  float *h;                     // [L,2,H]
  float *c;                     // [L,H]
  float *logits;                // [V] for the character after the last one fed
  const int *forced;            // [count]: feed these (a prime) instead of sampling; or null
  int *out;                     // [count]: the sampled ids
  unsigned *barrier;            // [2]: arrivals, generation
  int count, parity;            // steps to run; steps run before, modulo 2
  float temperature;
  int top_k, argmax;            // top_k 0: all
  u64 seed;
  int cache_weights;            // rows held in shared memory
};

__device__ __forceinline__ int gates_of(int cell) { return cell == 0 ? 4 : (cell == 1 ? 3 : 1); }

__device__ void grid_barrier(unsigned *barrier) {
  __syncthreads();
  if (threadIdx.x == 0) {
    volatile unsigned *generation = barrier + 1;
    unsigned seen = *generation;
    __threadfence();
    if (atomicAdd(barrier, 1u) == gridDim.x - 1) {
      atomicExch(barrier, 0u);
      __threadfence();
      atomicAdd(barrier + 1, 1u);
    } else {
      while (*generation == seen) __nanosleep(32);
    }
    __threadfence();
  }
  __syncthreads();
}

/// The order-preserving unsigned key of a float (larger float, larger key).
__device__ __forceinline__ unsigned order_key(float f) {
  unsigned u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/// Chooses the next id from `logits [V]` as the CPU sampler does (`Sampler.choose`): the largest
/// (lowest id among ties) with `argmax`; else a draw `u` from the softmax at `temperature`,
/// restricted to the `top_k` largest. Every block computes the same id from the same data.
__device__ int choose(const float *logits, int V, float temperature, int top_k, int argmax, float u, float *scratch,
                      float *partials) {
  __shared__ int chosen;
  if (argmax) {
    float best = NEG_INF;
    int index = V;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
      float l = __ldcg(logits + v);
      if (l > best) best = l, index = v;
    }
    float m = block_max(best, scratch);
    int candidate = best == m ? index : V;
    for (int o = 16; o > 0; o >>= 1) candidate = min(candidate, __shfl_xor_sync(0xffffffffu, candidate, o));
    __syncthreads();
    if ((threadIdx.x & 31) == 0) partials[threadIdx.x >> 5] = __int_as_float(candidate);
    __syncthreads();
    if (threadIdx.x == 0) {
      int lowest = V;
      for (int w = 0; w < (int)(blockDim.x >> 5); w++) lowest = min(lowest, __float_as_int(partials[w]));
      chosen = lowest < V ? lowest : 0;
    }
    __syncthreads();
    return chosen;
  }
  float inverse = 1.f / temperature;
  float m = NEG_INF;
  for (int v = threadIdx.x; v < V; v += blockDim.x) m = fmaxf(m, __ldcg(logits + v) * inverse);
  m = block_max(m, scratch);
  unsigned threshold = 0;
  if (top_k > 0 && top_k < V) {
    for (int bit = 31; bit >= 0; bit--) {
      unsigned candidate = threshold | (1u << bit);
      int mine = 0;
      for (int v = threadIdx.x; v < V; v += blockDim.x) mine += order_key(__ldcg(logits + v) * inverse) >= candidate;
      if ((unsigned)(block_sum((float)mine, scratch) + 0.5f) >= (unsigned)top_k) threshold = candidate;
    }
  }
  // Contiguous chunks per thread, so that the draw's position is found from partial sums: warp 0
  // scans them (8 per lane, then across lanes) and the lane whose range holds the draw walks it.
  int chunk = (V + blockDim.x - 1) / blockDim.x;
  int begin = threadIdx.x * chunk, end = min(V, begin + chunk);
  float mine = 0.f;
  for (int v = begin; v < end; v++) {
    float l = __ldcg(logits + v) * inverse;
    if (order_key(l) >= threshold) mine += expf(l - m);
  }
  partials[threadIdx.x] = mine;
  float target = u * block_sum(mine, scratch);  // block_sum's barriers publish the partials
  if (threadIdx.x == 0) chosen = -1;
  __syncthreads();
  if (threadIdx.x < 32) {
    int lane = threadIdx.x, per = blockDim.x >> 5;
    float own = 0.f;
    for (int q = 0; q < per; q++) own += partials[lane * per + q];
    float inclusive = own;
    for (int o = 1; o < 32; o <<= 1) {
      float y = __shfl_up_sync(0xffffffffu, inclusive, o);
      if (lane >= o) inclusive += y;
    }
    unsigned past = __ballot_sync(0xffffffffu, inclusive > target);
    if (past && lane == __ffs(past) - 1) {
      float left = target - (inclusive - own);
      int pick = -1;
      for (int q = 0; q < per && pick < 0; q++) {
        int t = lane * per + q;
        if (left >= partials[t]) {
          left -= partials[t];
          continue;
        }
        for (int v = t * chunk; v < min(V, (t + 1) * chunk); v++) {
          float l = __ldcg(logits + v) * inverse;
          float p = order_key(l) >= threshold ? expf(l - m) : 0.f;
          if (p > 0.f && (left -= p) < 0.f) {
            pick = v;
            break;
          }
        }
      }
      chosen = pick;
    }
  }
  __syncthreads();
  if (threadIdx.x == 0 && chosen < 0) {
    // Rounding left the draw past the end: the last id with any probability, as on the CPU.
    for (int v = V - 1; v >= 0 && chosen < 0; v--) {
      float l = __ldcg(logits + v) * inverse;
      if (order_key(l) >= threshold && expf(l - m) > 0.f) chosen = v;
    }
    if (chosen < 0) chosen = 0;
  }
  __syncthreads();
  return chosen;
}

/// One layer's update for the units this block owns: `x [D]` and `h_prev [H]` are in shared
/// memory; writes the new hidden state to `h_next` and LSTM cells to `c`.
__device__ void layer_step(const struct SamplerArgs &a, int l, int D, const float *const *w, const float *cached,
                           const float *x, const float *h_prev, float *h_next, float *c, float *dots) {
  int G = gates_of(a.cell), H = a.hidden;
  int units = blockIdx.x < H ? (H - 1 - blockIdx.x) / gridDim.x + 1 : 0;
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  const float *w_ih = w[4 * l], *w_hh = w[4 * l + 1], *b_ih = w[4 * l + 2], *b_hh = w[4 * l + 3];
  for (int r = warp; r < units * G; r += warps) {
    int k = r / G, gate = r % G;
    long row = (long)gate * H + blockIdx.x + (long)k * gridDim.x;
    const float *wi = cached ? cached + (long)r * (D + H) : w_ih + row * D;
    const float *wh = cached ? wi + D : w_hh + row * H;
    float xs = 0.f, hs = 0.f;
    for (int i = lane; i < D; i += 32) xs += wi[i] * x[i];
    for (int i = lane; i < H; i += 32) hs += wh[i] * h_prev[i];
    xs = warp_sum(xs), hs = warp_sum(hs);
    if (lane == 0) dots[2 * r] = xs + b_ih[row], dots[2 * r + 1] = hs + b_hh[row];
  }
  __syncthreads();
  for (int k = threadIdx.x; k < units; k += blockDim.x) {
    int j = blockIdx.x + k * gridDim.x;
    const float *d = dots + 2 * k * G;
    float y;
    if (a.cell == 0) {
      float i = sigmoid(d[0] + d[1]), f = sigmoid(d[2] + d[3]), n = tanhf(d[4] + d[5]), o = sigmoid(d[6] + d[7]);
      float cell = f * c[l * H + j] + i * n;
      c[l * H + j] = cell;
      y = o * tanhf(cell);
    } else if (a.cell == 1) {
      float r = sigmoid(d[0] + d[1]), z = sigmoid(d[2] + d[3]), n = tanhf(d[4] + r * d[5]);
      y = (1.f - z) * n + z * h_prev[j];
    } else {
      float s = d[0] + d[1];
      y = a.cell == 3 ? fmaxf(s, 0.f) : tanhf(s);
    }
    h_next[j] = y;
  }
}

extern "C" __global__ void __launch_bounds__(256, 1) sample_persistent(struct SamplerArgs a) {
  extern __shared__ float shared[];
  int L = a.layers, H = a.hidden, E = a.embedding, V = a.vocab, G = gates_of(a.cell);
  int width = E > H ? E : H;
  int units = blockIdx.x < H ? (H - 1 - blockIdx.x) / gridDim.x + 1 : 0;
  // Shared memory: x [width], h [H], dots [2*G*units], scratch [32], partials [blockDim], rows.
  float *x = shared, *hv = x + width, *dots = hv + H, *scratch = dots + 2 * G * units;
  float *partials = scratch + 32, *rows = partials + blockDim.x;
  if (a.cache_weights) {
    float *dst = rows;
    for (int l = 0; l < L; l++) {
      int D = l == 0 ? E : H;
      for (int r = 0; r < units * G; r++) {
        long row = (long)(r % G) * H + blockIdx.x + (long)(r / G) * gridDim.x;
        for (int i = threadIdx.x; i < D; i += blockDim.x) dst[i] = a.weights[4 * l][row * D + i];
        for (int i = threadIdx.x; i < H; i += blockDim.x) dst[D + i] = a.weights[4 * l + 1][row * H + i];
        dst += D + H;
      }
    }
    __syncthreads();
  }
  const float *embedding = a.weights[4 * L], *decoder = a.weights[4 * L + 1], *decoder_bias = a.weights[4 * L + 2];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int s = 0; s < a.count; s++) {
    int parity = (a.parity + s) & 1;
    int token = a.forced ? a.forced[s]
                         : choose(a.logits, V, a.temperature, a.top_k, a.argmax, uniform01(a.seed, s), scratch, partials);
    if (!a.forced && blockIdx.x == 0 && threadIdx.x == 0) a.out[s] = token;
    const float *cached = a.cache_weights ? rows : 0;
    for (int l = 0; l < L; l++) {
      int D = l == 0 ? E : H;
      const float *input = l == 0 ? embedding + (long)token * E : a.h + (2 * (l - 1) + (parity ^ 1)) * H;
      const float *h_prev = a.h + (2 * l + parity) * H;
      __syncthreads();
      for (int i = threadIdx.x; i < D; i += blockDim.x) x[i] = l == 0 ? input[i] : __ldcg(input + i);
      for (int i = threadIdx.x; i < H; i += blockDim.x) hv[i] = __ldcg(h_prev + i);
      __syncthreads();
      layer_step(a, l, D, a.weights, cached, x, hv, a.h + (2 * l + (parity ^ 1)) * H, a.c, dots);
      if (cached) cached += (long)units * G * (D + H);
      grid_barrier(a.barrier);
    }
    const float *top = a.h + (2 * (L - 1) + (parity ^ 1)) * H;
    for (int i = threadIdx.x; i < H; i += blockDim.x) x[i] = __ldcg(top + i);
    __syncthreads();
    for (int v = blockIdx.x * warps + warp; v < V; v += gridDim.x * warps) {
      float acc = 0.f;
      for (int i = lane; i < H; i += 32) acc += decoder[(long)v * H + i] * x[i];
      acc = warp_sum(acc);
      if (lane == 0) a.logits[v] = acc + decoder_bias[v];
    }
    grid_barrier(a.barrier);
  }
}
