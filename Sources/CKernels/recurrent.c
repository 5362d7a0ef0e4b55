// Fused pointwise work of one recurrent time step, forward and backward.
//
// The matrix products (x W_ih^T for the whole sequence, h W_hh^T per step) happen in the
// caller through rnn_sgemm; these kernels do everything between two products in one pass over
// memory. Forward keeps the activated gates, so backward needs no transcendental functions.
#include "CKernels.h"
#include "activations.h"

RNN_KERNEL void rnn_lstm_forward_step(long B, long H, float *gates, const float *c_prev, float *c,
                                      float *tanh_c, float *h) {
  for (long b = 0; b < B; b++) {
    float *restrict gi = gates + b * 4 * H, *restrict gf = gi + H, *restrict gg = gf + H,
                    *restrict go = gg + H;
    const float *restrict cp = c_prev + b * H;
    float *restrict cn = c + b * H, *restrict tc = tanh_c + b * H, *restrict hn = h + b * H;
    RNN_VECTORIZE
    for (long j = 0; j < H; j++) {
      float i = rnn_sigmoidf(gi[j]), f = rnn_sigmoidf(gf[j]), g = rnn_tanhf(gg[j]),
            o = rnn_sigmoidf(go[j]);
      float cell = f * cp[j] + i * g;
      float t = rnn_tanhf(cell);
      gi[j] = i, gf[j] = f, gg[j] = g, go[j] = o;
      cn[j] = cell, tc[j] = t, hn[j] = o * t;
    }
  }
}

RNN_KERNEL void rnn_lstm_backward_step(long B, long H, const float *gates, const float *c_prev,
                                       const float *tanh_c, const float *dy, const float *dh_next,
                                       float *dc, float *dgates) {
  for (long b = 0; b < B; b++) {
    const float *restrict gi = gates + b * 4 * H, *restrict gf = gi + H, *restrict gg = gf + H,
                          *restrict go = gg + H;
    const float *restrict cp = c_prev + b * H, *restrict tc = tanh_c + b * H;
    const float *restrict y = dy + b * H, *restrict hn = dh_next + b * H;
    float *restrict dcell = dc + b * H;
    float *restrict di = dgates + b * 4 * H, *restrict df = di + H, *restrict dg = df + H,
                    *restrict dO = dg + H;
    RNN_VECTORIZE
    for (long j = 0; j < H; j++) {
      float i = gi[j], f = gf[j], g = gg[j], o = go[j], t = tc[j];
      float dh = y[j] + hn[j];
      float dct = dcell[j] + dh * o * (1.0f - t * t);
      di[j] = dct * g * i * (1.0f - i);
      df[j] = dct * cp[j] * f * (1.0f - f);
      dg[j] = dct * i * (1.0f - g * g);
      dO[j] = dh * t * o * (1.0f - o);
      dcell[j] = dct * f;
    }
  }
}

RNN_KERNEL void rnn_gru_forward_step(long B, long H, long u, long w, const float *xg, const float *hg,
                                     const float *bhh, const float *h_prev, float *gates, float *hn,
                                     float *h) {
  const float *restrict br = bhh + u, *restrict bz = br + H, *restrict bn = bz + H;
  for (long b = 0; b < B; b++) {
    // xg and gates may be one buffer (the training loop keeps the gates in the projections):
    // each element is read before the same element is written, so neither is `restrict`.
    const float *xr = xg + b * 3 * H + u, *xz = xr + H, *xn = xz + H;
    const float *restrict hr = hg + b * 3 * w, *restrict hz = hr + w, *restrict hnn = hz + w;
    const float *restrict hp = h_prev + b * H + u;
    float *gr = gates + b * 3 * H + u, *gz = gr + H, *gn = gz + H;
    float *restrict keep = hn + b * H + u, *restrict out = h + b * H + u;
    RNN_VECTORIZE
    for (long j = 0; j < w; j++) {
      float hidden_n = hnn[j] + bn[j];
      float r = rnn_sigmoidf(xr[j] + hr[j] + br[j]);
      float z = rnn_sigmoidf(xz[j] + hz[j] + bz[j]);
      float n = rnn_tanhf(xn[j] + r * hidden_n);
      gr[j] = r, gz[j] = z, gn[j] = n, keep[j] = hidden_n;
      out[j] = (1.0f - z) * n + z * hp[j];
    }
  }
}

RNN_KERNEL void rnn_gru_backward_step(long B, long H, const float *gates, const float *hn,
                                      const float *h_prev, const float *dy, const float *dh_next,
                                      float *dxg, float *dhg, float *dh_prev) {
  for (long b = 0; b < B; b++) {
    const float *restrict gr = gates + b * 3 * H, *restrict gz = gr + H, *restrict gn = gz + H;
    const float *restrict keep = hn + b * H, *restrict hp = h_prev + b * H;
    const float *restrict y = dy + b * H, *restrict next = dh_next + b * H;
    float *restrict dxr = dxg + b * 3 * H, *restrict dxz = dxr + H, *restrict dxn = dxz + H;
    float *restrict dhr = dhg + b * 3 * H, *restrict dhz = dhr + H, *restrict dhn = dhz + H;
    float *restrict dprev = dh_prev + b * H;
    RNN_VECTORIZE
    for (long j = 0; j < H; j++) {
      float r = gr[j], z = gz[j], n = gn[j];
      float dh = y[j] + next[j];
      float dnp = dh * (1.0f - z) * (1.0f - n * n);
      float drp = dnp * keep[j] * r * (1.0f - r);
      float dzp = dh * (hp[j] - n) * z * (1.0f - z);
      dxr[j] = drp, dxz[j] = dzp, dxn[j] = dnp;
      dhr[j] = drp, dhz[j] = dzp, dhn[j] = dnp * r;
      dprev[j] = dh * z;
    }
  }
}

RNN_KERNEL void rnn_simple_forward_step(long B, long H, const float *pre, float *h, int relu) {
  const float *restrict x = pre;
  float *restrict y = h;
  long n = B * H;
  if (relu)
    RNN_VECTORIZE
    for (long k = 0; k < n; k++) y[k] = x[k] > 0.0f ? x[k] : 0.0f;
  else
    RNN_VECTORIZE
    for (long k = 0; k < n; k++) y[k] = rnn_tanhf(x[k]);
}

RNN_KERNEL void rnn_simple_backward_step(long B, long H, const float *h, const float *dy,
                                         const float *dh_next, float *dpre, int relu) {
  const float *restrict y = h, *restrict g = dy, *restrict next = dh_next;
  float *restrict d = dpre;
  long n = B * H;
  if (relu)
    RNN_VECTORIZE
    for (long k = 0; k < n; k++) d[k] = y[k] > 0.0f ? g[k] + next[k] : 0.0f;
  else
    RNN_VECTORIZE
    for (long k = 0; k < n; k++) d[k] = (g[k] + next[k]) * (1.0f - y[k] * y[k]);
}

RNN_KERNEL void rnn_mingru_forward_step(long B, long H, float *gates, const float *h_prev,
                                        float *h) {
  for (long b = 0; b < B; b++) {
    float *restrict gz = gates + b * 2 * H, *restrict gh = gz + H;
    const float *restrict hp = h_prev + b * H;
    float *restrict out = h + b * H;
    RNN_VECTORIZE
    for (long j = 0; j < H; j++) {
      float z = rnn_sigmoidf(gz[j]);
      gz[j] = z;
      out[j] = (1.0f - z) * hp[j] + z * gh[j];
    }
  }
}

RNN_KERNEL void rnn_mingru_backward_step(long B, long H, const float *gates, const float *h_prev,
                                         const float *dy, float *dh, float *dgates) {
  for (long b = 0; b < B; b++) {
    const float *restrict gz = gates + b * 2 * H, *restrict gh = gz + H;
    const float *restrict hp = h_prev + b * H, *restrict y = dy + b * H;
    float *restrict d = dh + b * H;
    float *restrict dz = dgates + b * 2 * H, *restrict dcand = dz + H;
    RNN_VECTORIZE
    for (long j = 0; j < H; j++) {
      float z = gz[j], g = y[j] + d[j];
      dz[j] = g * (gh[j] - hp[j]) * z * (1.0f - z);
      dcand[j] = g * z;
      d[j] = g * (1.0f - z);
    }
  }
}
