// Row broadcasts and reductions, softmax cross-entropy, norms and dropout masks.
#include "CKernels.h"
#include "activations.h"

#include <math.h>

RNN_KERNEL void rnn_fill_rows(long N, long M, float *dst, const float *a, const float *b) {
  for (long n = 0; n < N; n++) {
    float *restrict row = dst + n * M;
    const float *restrict x = a;
    if (b) {
      const float *restrict y = b;
      RNN_VECTORIZE
      for (long j = 0; j < M; j++) row[j] = x[j] + y[j];
    } else {
      RNN_VECTORIZE
      for (long j = 0; j < M; j++) row[j] = x[j];
    }
  }
}

RNN_KERNEL void rnn_add_column_sums(long N, long M, const float *x, long ldx, float *sums) {
  float *restrict s = sums;
  for (long n = 0; n < N; n++) {
    const float *restrict row = x + n * ldx;
    RNN_VECTORIZE
    for (long j = 0; j < M; j++) s[j] += row[j];
  }
}

RNN_KERNEL void rnn_add(long n, float *dst, const float *src) {
  float *restrict d = dst;
  const float *restrict s = src;
  RNN_VECTORIZE
  for (long i = 0; i < n; i++) d[i] += s[i];
}

RNN_KERNEL void rnn_multiply(long n, float *dst, const float *src) {
  float *restrict d = dst;
  const float *restrict s = src;
  RNN_VECTORIZE
  for (long i = 0; i < n; i++) d[i] *= s[i];
}

RNN_KERNEL void rnn_scale(long n, float *x, float s) {
  RNN_VECTORIZE
  for (long i = 0; i < n; i++) x[i] *= s;
}

RNN_KERNEL void rnn_clamp(long n, float *x, float limit) {
  RNN_VECTORIZE
  for (long i = 0; i < n; i++) x[i] = x[i] > limit ? limit : (x[i] < -limit ? -limit : x[i]);
}

enum { LANES = 16 };  // independent partial sums: one 512-bit register, or two or four narrower

RNN_KERNEL double rnn_sum_squares(long n, const float *x) {
  // Blocks of 1024 summed in float in LANES partial sums (a compiler may not reorder one float
  // sum into SIMD lanes itself), blocks accumulated in double.
  double total = 0;
  for (long start = 0; start < n; start += 1024) {
    long end = start + 1024 < n ? start + 1024 : n;
    float lanes[LANES] = {0};
    long i = start;
    for (; i + LANES <= end; i += LANES) {
      for (int j = 0; j < LANES; j++) lanes[j] += x[i + j] * x[i + j];
    }
    float block = 0;
    for (; i < end; i++) block += x[i] * x[i];
    for (int j = 0; j < LANES; j++) block += lanes[j];
    total += block;
  }
  return total;
}

RNN_KERNEL int rnn_all_finite(long n, const float *x) {
  // x - x is 0 for finite values and NaN for infinities and NaN.
  float lanes[LANES] = {0};
  long i = 0;
  for (; i + LANES <= n; i += LANES) {
    for (int j = 0; j < LANES; j++) lanes[j] += x[i + j] - x[i + j];
  }
  float tail = 0;
  for (; i < n; i++) tail += x[i] - x[i];
  int finite = tail == 0.0f;
  for (int j = 0; j < LANES; j++) finite &= lanes[j] == 0.0f;
  return finite;
}

RNN_KERNEL static float row_max(long V, const float *x) {
  float m = x[0];
  for (long j = 1; j < V; j++) m = x[j] > m ? x[j] : m;
  return m;
}

/// out[j] = exp((x[j] - shift) * s); returns the sum (out may alias x).
RNN_KERNEL static float exp_row(long V, const float *x, float shift, float s, float *out) {
  float sum = 0;
  RNN_VECTORIZE
  for (long j = 0; j < V; j++) {
    float e = rnn_expf((x[j] - shift) * s);
    out[j] = e;
    sum += e;
  }
  return sum;
}

double rnn_softmax_cross_entropy(long N, long V, const float *logits, const int32_t *targets,
                                 float scale, float *dlogits) {
  double total = 0;
  for (long n = 0; n < N; n++) {
    const float *x = logits + n * V;
    float *d = dlogits ? dlogits + n * V : 0;
    int32_t t = targets[n];
    if (t < 0 || t >= V) {
      if (d) for (long j = 0; j < V; j++) d[j] = 0;
      continue;
    }
    float m = row_max(V, x);
    float xt = x[t];
    float sum;
    if (d) {
      sum = exp_row(V, x, m, 1.0f, d);
      rnn_scale(V, d, scale / sum);
      d[t] -= scale;
    } else {
      sum = 0;
      for (long j = 0; j < V; j++) sum += expf(x[j] - m);
    }
    total += (double)m + log((double)sum) - (double)xt;
  }
  return total;
}

void rnn_softmax(long V, const float *logits, float temperature, float *probs) {
  float s = 1.0f / temperature;
  float sum = exp_row(V, logits, row_max(V, logits), s, probs);
  rnn_scale(V, probs, 1.0f / sum);
}

// Whether p[a] ranks before p[b]: larger first, the lower index first among equals.
static inline int ranks_before(const float *p, int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); }

void rnn_keep_top_k(long V, float *p, long k, int32_t *order) {
  if (k >= V) return;
  for (long i = 0; i < V; i++) order[i] = (int32_t)i;
  // Quickselect: afterwards order[0..k) holds the k first in rank, in some order.
  long low = 0, high = V - 1;
  while (low < high) {
    int32_t pivot = order[(low + high) / 2];
    long i = low, j = high;
    while (i <= j) {
      while (ranks_before(p, order[i], pivot)) i++;
      while (ranks_before(p, pivot, order[j])) j--;
      if (i <= j) {
        int32_t t = order[i];
        order[i++] = order[j];
        order[j--] = t;
      }
    }
    if (k - 1 <= j) high = j;
    else if (k - 1 >= i) low = i;
    else break;
  }
  for (long i = k; i < V; i++) p[order[i]] = 0;
}

static inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

void rnn_dropout_mask(long outer, long rows, long first, long count, long width, float *mask,
                      float p, uint32_t s[4]) {
  float keep = 1.0f / (1.0f - p);
  for (long o = 0; o < outer; o++) {
    for (long r = 0; r < rows; r++) {
      float *row = r >= first && r < first + count ? mask + (o * count + r - first) * width : NULL;
      for (long i = 0; i < width; i++) {
        uint32_t result = s[0] + s[3];
        uint32_t t = s[1] << 9;
        s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 11);
        float u = (float)(result >> 8) * 0x1.0p-24f;
        if (row) row[i] = u < p ? 0.0f : keep;
      }
    }
  }
}
