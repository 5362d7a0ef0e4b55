// The recurrent cells' pointwise work for one time step, forward and backward, as PyTorch defines
// the cells (gate order i,f,g,o for LSTM; r,z,n for GRU). One thread per (row, unit), `B*H` in all.
// The recurrent products come from cuBLAS: for LSTM and the vanilla cell they are already added
// into `gates`; GRU keeps its recurrent part `hidden_gates` apart (its n gate scales it by r).

/// LSTM forward. `gates [B,4H]`: pre-activations without biases in, activations (i,f,g,o) out.
/// `c_prev`, `c`, `h [B,H]`.
extern "C" __global__ void lstm_forward(int B, int H, float *gates, const float *b_ih, const float *b_hh,
                                        const float *c_prev, float *c, float *h) {
  GRID_STRIDE(k, (long)B * H) {
    long b = k / H;
    int j = k % H;
    float *g = gates + b * 4 * H;
    float i = sigmoid(g[j] + b_ih[j] + b_hh[j]);
    float f = sigmoid(g[H + j] + b_ih[H + j] + b_hh[H + j]);
    float n = tanhf(g[2 * H + j] + b_ih[2 * H + j] + b_hh[2 * H + j]);
    float o = sigmoid(g[3 * H + j] + b_ih[3 * H + j] + b_hh[3 * H + j]);
    float cell = f * c_prev[k] + i * n;
    c[k] = cell;
    h[k] = o * tanhf(cell);
    g[j] = i, g[H + j] = f, g[2 * H + j] = n, g[3 * H + j] = o;
  }
}

/// LSTM backward. `gates [B,4H]` activations from the forward; `dh [B,H]` the whole gradient of
/// this step's output; `dc [B,H]` the cell gradient from the step after (in), to the step before
/// (out). Writes the pre-activation gradients `dgates [B,4H]`.
extern "C" __global__ void lstm_backward(int B, int H, const float *gates, const float *c_prev, const float *c,
                                         const float *dh, float *dc, float *dgates) {
  GRID_STRIDE(k, (long)B * H) {
    long b = k / H;
    int j = k % H;
    const float *g = gates + b * 4 * H;
    float i = g[j], f = g[H + j], n = g[2 * H + j], o = g[3 * H + j];
    float tc = tanhf(c[k]);
    float d = dh[k];
    float dcell = dc[k] + d * o * (1.f - tc * tc);
    float *dg = dgates + b * 4 * H;
    dg[j] = dcell * n * i * (1.f - i);
    dg[H + j] = dcell * c_prev[k] * f * (1.f - f);
    dg[2 * H + j] = dcell * i * (1.f - n * n);
    dg[3 * H + j] = d * tc * o * (1.f - o);
    dc[k] = dcell * f;
  }
}

/// GRU forward. `gates [B,3H]`: the input side's pre-activations without bias in, activations
/// (r,z,n) out; `hidden_gates [B,3H]` the recurrent products without bias; `hn [B,H]` (may be
/// null) keeps `W_hn h + b_hn` for the backward.
extern "C" __global__ void gru_forward(int B, int H, float *gates, const float *hidden_gates, const float *b_ih,
                                       const float *b_hh, const float *h_prev, float *h, float *hn) {
  GRID_STRIDE(k, (long)B * H) {
    long b = k / H;
    int j = k % H;
    float *g = gates + b * 3 * H;
    const float *q = hidden_gates + b * 3 * H;
    float r = sigmoid(g[j] + b_ih[j] + q[j] + b_hh[j]);
    float z = sigmoid(g[H + j] + b_ih[H + j] + q[H + j] + b_hh[H + j]);
    float hidden_n = q[2 * H + j] + b_hh[2 * H + j];
    float n = tanhf(g[2 * H + j] + b_ih[2 * H + j] + r * hidden_n);
    h[k] = (1.f - z) * n + z * h_prev[k];
    g[j] = r, g[H + j] = z, g[2 * H + j] = n;
    if (hn) hn[k] = hidden_n;
  }
}

/// GRU backward. Writes the input side's pre-activation gradients `dgates [B,3H]` and the
/// recurrent side's `dhidden [B,3H]` (its n part scaled by r), and adds the direct path `dh*z` to
/// `dh_prev [B,H]` (null at the first step).
extern "C" __global__ void gru_backward(int B, int H, const float *gates, const float *hn, const float *h_prev,
                                        const float *dh, float *dh_prev, float *dgates, float *dhidden) {
  GRID_STRIDE(k, (long)B * H) {
    long b = k / H;
    int j = k % H;
    const float *g = gates + b * 3 * H;
    float r = g[j], z = g[H + j], n = g[2 * H + j];
    float d = dh[k];
    float dn = d * (1.f - z) * (1.f - n * n);
    float dz = d * (h_prev[k] - n) * z * (1.f - z);
    float dr = dn * hn[k] * r * (1.f - r);
    float *dx = dgates + b * 3 * H, *dq = dhidden + b * 3 * H;
    dx[j] = dr, dx[H + j] = dz, dx[2 * H + j] = dn;
    dq[j] = dr, dq[H + j] = dz, dq[2 * H + j] = dn * r;
    if (dh_prev) dh_prev[k] += d * z;
  }
}

/// Vanilla RNN forward: `gates [B,H]` pre-activations (both products, no bias) in, `h` out
/// (`relu` or tanh); `gates` keeps the activation too.
extern "C" __global__ void rnn_forward(int B, int H, float *gates, const float *b_ih, const float *b_hh, float *h,
                                       int relu) {
  GRID_STRIDE(k, (long)B * H) {
    int j = k % H;
    float x = gates[k] + b_ih[j] + b_hh[j];
    float y = relu ? fmaxf(x, 0.f) : tanhf(x);
    gates[k] = y;
    h[k] = y;
  }
}

/// Vanilla RNN backward: `dgates [B,H]` from the activations `gates` and `dh`.
extern "C" __global__ void rnn_backward(int B, int H, const float *gates, const float *dh, float *dgates, int relu) {
  GRID_STRIDE(k, (long)B * H) {
    float y = gates[k];
    dgates[k] = dh[k] * (relu ? (y > 0.f ? 1.f : 0.f) : 1.f - y * y);
  }
}
