// Batch-1 matrix-vector products with the weights stored in bf16 or int8: a half or a quarter
// of fp32's bytes, for sampling, whose speed is the speed at which the weights stream from cache.
// The layouts are described at rnn_packed in CKernels.h.
//
// bf16: |w - bf16(w)| <= 2^-8 |w| (8 significant bits). Where the CPU has AVX512-BF16, the input
// is rounded to bf16 too, per call, and one `vdpbf16ps` multiplies 2 inputs by 16 columns' pairs
// of weights, accumulating in fp32 (the products of two bf16 are exact in fp32): half the
// instructions of fp32's FMAs for the same weights. (The input split into two bf16 parts, to keep
// its precision, measured 1.5-1.7x slower than the widening below.) Elsewhere each weight is
// widened to fp32 (a shift or a mask of the 32-bit word that holds two) and multiplied by the fp32
// input: 2 vector instructions per 16 weights besides the FMA.
// int8: the input is quantised per call (symmetric, scale max|x| / 127, stored with an offset of
// 128 as unsigned bytes) and the products summed in 32-bit integers, 64 per VNNI instruction
// (`vpdpbusd`, unsigned x signed bytes); the offset is taken out with each column's weight sum:
//   sum_k (xq_k + 128) q_kj - 128 sum_j = sum_k xq_k q_kj.
// Rounding: |w - scale q| <= scale / 2 per weight, |x - sx xq| <= sx / 2 per input.
#include "CKernels.h"
#include "activations.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

long rnn_packed_rows(rnn_precision precision, long K) {
  switch (precision) {
  case RNN_PRECISION_BF16: return (K + 1) / 2 * 2;
  case RNN_PRECISION_INT8: return (K + 3) / 4 * 4;
  default: return K;
  }
}

long rnn_packed_scratch_bytes(rnn_precision precision, long K) {
  switch (precision) {
  case RNN_PRECISION_BF16: return rnn_packed_rows(precision, K) * 2;  // the input in bf16
  case RNN_PRECISION_INT8: return rnn_packed_rows(precision, K);      // the input in int8
  default: return 0;
  }
}

long rnn_precision_bytes(rnn_precision precision) {
  switch (precision) {
  case RNN_PRECISION_BF16: return 2;
  case RNN_PRECISION_INT8: return 1;
  default: return 4;
  }
}

float rnn_round_bf16(float x) { return rnn_bf16_value(rnn_bf16_bits(x)); }

RNN_KERNEL void rnn_round_to_bf16(long n, const float *restrict x, uint16_t *restrict bits) {
  RNN_VECTORIZE
  for (long i = 0; i < n; i++) bits[i] = rnn_bf16_bits(x[i]);
}

// MARK: - Packing

static void pack_bf16(long K, long n, const float *src, long lds, uint16_t *dst) {
  long rows = rnn_packed_rows(RNN_PRECISION_BF16, K);
  for (long p = 0; p < n;) {
    long width = rnn_panel_width(n, p), real = n - p < width ? n - p : width;
    uint16_t *panel = dst + rows * p;
    for (long k = 0; k < rows; k++)
      for (long j = 0; j < width; j++)
        panel[(k / 2) * 2 * width + 2 * j + k % 2] = k < K && j < real ? rnn_bf16_bits(src[k * lds + p + j]) : 0;
    p += width;
  }
}

static void pack_int8(long K, long n, const float *src, long lds, int8_t *dst, float *scale,
                      int32_t *sum) {
  long rows = rnn_packed_rows(RNN_PRECISION_INT8, K);
  for (long p = 0; p < n;) {
    long width = rnn_panel_width(n, p);
    int8_t *panel = dst + rows * p;
    memset(panel, 0, (size_t)(rows * width));
    for (long j = 0; j < width; j++) {
      long column = p + j;
      float largest = 0;
      if (column < n)
        for (long k = 0; k < K; k++) largest = fmaxf(largest, fabsf(src[k * lds + column]));
      float s = largest / 127.0f;
      int32_t total = 0;
      for (long k = 0; column < n && s > 0 && k < K; k++) {
        float q = rintf(src[k * lds + column] / s);
        q = q > 127.0f ? 127.0f : (q < -127.0f ? -127.0f : q);
        panel[(k / 4) * 4 * width + 4 * j + k % 4] = (int8_t)q;
        total += (int32_t)q;
      }
      scale[column] = s;
      sum[column] = total;
    }
    p += width;
  }
}

void rnn_pack_part(const rnn_packed *w, long first, long n, const float *src, long lds) {
  long rows = rnn_packed_rows(w->precision, w->K);
  switch (w->precision) {
  case RNN_PRECISION_BF16:
    pack_bf16(w->K, n, src, lds, (uint16_t *)w->panels + rows * first);
    break;
  case RNN_PRECISION_INT8:
    pack_int8(w->K, n, src, lds, (int8_t *)w->panels + rows * first, w->scale + first,
              w->sum + first);
    break;
  default:
    rnn_pack_panels(w->K, n, src, lds, (float *)w->panels + rows * first);
    break;
  }
}

static int portable_only;

void rnn_packed_portable_only(int on) { portable_only = on; }

enum extension { VNNI, BF16_DOT };

/// 1 if this CPU runs the kernel of `extension` (AVX512-VNNI's int8 or AVX512-BF16's bf16 products,
/// each with AVX512-BW), and tests have not asked for the portable kernels.
static int use(enum extension extension) {
#if defined(__x86_64__) && defined(__clang__)
  static int known[2] = {-1, -1};  // a benign race: every thread computes the same values
  if (known[extension] < 0) {
    __builtin_cpu_init();
    known[extension] = __builtin_cpu_supports("avx512bw") &&
                       (extension == VNNI ? __builtin_cpu_supports("avx512vnni")
                                          : __builtin_cpu_supports("avx512bf16"));
  }
  return known[extension] && !portable_only;
#else
  return 0;
#endif
}

// MARK: - bf16 products

/// A 32-bit word of the pair layout holds W[k, j] in its low half and W[k + 1, j] in its high
/// half; these widen each to fp32.
static inline float low_bf16(uint32_t word) { return rnn_bf16_value((uint16_t)word); }
static inline float high_bf16(uint32_t word) {
  uint32_t bits = word & 0xffff0000u;
  float x;
  memcpy(&x, &bits, sizeof x);
  return x;
}

/// Defines bf16_panel<W>: y[0..W) += x[K] * panel[K, W] in fp32, each bf16 weight widened (a
/// shift or a mask of the word holding two).
#define RNN_BF16_PANEL(W)                                                                          \
  RNN_KERNEL static void bf16_panel##W(long K, const float *restrict x,                            \
                                       const uint32_t *restrict panel, float *restrict y) {        \
    float acc[W];                                                                                  \
    for (int j = 0; j < W; j++) acc[j] = y[j];                                                     \
    for (long p = 0; p < K / 2; p++) {                                                             \
      const uint32_t *restrict row = panel + p * W;                                                \
      float x0 = x[2 * p], x1 = x[2 * p + 1];                                                      \
      RNN_VECTORIZE                                                                                \
      for (int j = 0; j < W; j++) acc[j] += x0 * low_bf16(row[j]) + x1 * high_bf16(row[j]);       \
    }                                                                                              \
    if (K % 2) {                                                                                   \
      const uint32_t *restrict row = panel + K / 2 * W;                                            \
      float x0 = x[K - 1];                                                                         \
      for (int j = 0; j < W; j++) acc[j] += x0 * low_bf16(row[j]);                                 \
    }                                                                                              \
    for (int j = 0; j < W; j++) y[j] = acc[j];                                                     \
  }
RNN_BF16_PANEL(128)
RNN_BF16_PANEL(64)
RNN_BF16_PANEL(48)
RNN_BF16_PANEL(32)
RNN_BF16_PANEL(16)

#if defined(__x86_64__) && defined(__clang__)
#define RNN_HAVE_BF16_DOT_KERNEL 1
/// Defines bf16_dot<W>: y[0..W) += x * panel with AVX512-BF16, x given as its pairs in bf16 (the
/// pair layout's words): one `vdpbf16ps` adds 2 inputs times 16 columns' weights.
#define RNN_BF16_DOT_PANEL(W)                                                                      \
  __attribute__((target("avx512f,avx512bf16"))) static void bf16_dot##W(                          \
      long pairs, const uint32_t *x, const uint32_t *panel, float *y) {                            \
    __m512 a[W / 16];                                                                              \
    for (int v = 0; v < W / 16; v++) a[v] = _mm512_loadu_ps(y + 16 * v);                           \
    for (long p = 0; p < pairs; p++) {                                                             \
      __m512bh xx = (__m512bh)_mm512_set1_epi32((int32_t)x[p]);                                    \
      const uint32_t *row = panel + p * W;                                                         \
      for (int v = 0; v < W / 16; v++)                                                             \
        a[v] = _mm512_dpbf16_ps(a[v], (__m512bh)_mm512_loadu_si512(row + 16 * v), xx);             \
    }                                                                                              \
    for (int v = 0; v < W / 16; v++) _mm512_storeu_ps(y + 16 * v, a[v]);                           \
  }
RNN_BF16_DOT_PANEL(128)
RNN_BF16_DOT_PANEL(64)
RNN_BF16_DOT_PANEL(48)
RNN_BF16_DOT_PANEL(32)
RNN_BF16_DOT_PANEL(16)
#endif

/// x [K] as its pairs in bf16 (K rounded up to 2, the padding zero), the words of the pair layout.
static void round_input_pairs(long K, const float *x, uint16_t *out) {
  rnn_round_to_bf16(K, x, out);
  if (K % 2) out[K] = 0;
}

/// y[0..width) += x * panel for a panel of `width` columns: with AVX512-BF16, x's bf16 pairs in
/// `pairs` (round_input_pairs); else x itself, each weight widened.
static void bf16_panel(long width, long K, const float *x, const uint32_t *pairs,
                       const uint32_t *panel, float *y) {
#if defined(RNN_HAVE_BF16_DOT_KERNEL)
  if (pairs) {
    long count = rnn_packed_rows(RNN_PRECISION_BF16, K) / 2;
    switch (width) {
    case 128: bf16_dot128(count, pairs, panel, y); return;
    case 64: bf16_dot64(count, pairs, panel, y); return;
    case 48: bf16_dot48(count, pairs, panel, y); return;
    case 32: bf16_dot32(count, pairs, panel, y); return;
    default: bf16_dot16(count, pairs, panel, y); return;
    }
  }
#endif
  switch (width) {
  case 128: bf16_panel128(K, x, panel, y); break;
  case 64: bf16_panel64(K, x, panel, y); break;
  case 48: bf16_panel48(K, x, panel, y); break;
  case 32: bf16_panel32(K, x, panel, y); break;
  default: bf16_panel16(K, x, panel, y); break;
  }
}

static void gemv_bf16(long K, long N, const float *x, const uint32_t *w, float *y,
                      uint8_t *scratch) {
  long rows = rnn_packed_rows(RNN_PRECISION_BF16, K);
  const uint32_t *pairs = NULL;
  if (use(BF16_DOT)) {
    round_input_pairs(K, x, (uint16_t *)scratch);
    pairs = (const uint32_t *)scratch;
  }
  for (long n = 0; n < N;) {
    long width = rnn_panel_width(N, n);
    bf16_panel(width, K, x, pairs, w + rows / 2 * n, y + n);
    n += width;
  }
}

// MARK: - int8 products

/// Defines int8_panel<W>: acc[0..W) = sum over quads q of xq[4q..4q+4) . panel quad (q, j), in
/// portable C (vectorised by the target clones).
#define RNN_INT8_PANEL(W)                                                                          \
  RNN_KERNEL static void int8_panel##W(long quads, const uint8_t *restrict xq,                     \
                                       const int8_t *restrict panel, int32_t *restrict acc) {      \
    int32_t a[W] = {0};                                                                            \
    for (long q = 0; q < quads; q++) {                                                             \
      const int8_t *restrict row = panel + q * 4 * W;                                              \
      int32_t x0 = xq[4 * q], x1 = xq[4 * q + 1], x2 = xq[4 * q + 2], x3 = xq[4 * q + 3];          \
      RNN_VECTORIZE                                                                                \
      for (int j = 0; j < W; j++)                                                                  \
        a[j] += x0 * row[4 * j] + x1 * row[4 * j + 1] + x2 * row[4 * j + 2] + x3 * row[4 * j + 3]; \
    }                                                                                              \
    for (int j = 0; j < W; j++) acc[j] = a[j];                                                     \
  }
RNN_INT8_PANEL(128)
RNN_INT8_PANEL(64)
RNN_INT8_PANEL(48)
RNN_INT8_PANEL(32)
RNN_INT8_PANEL(16)

#if defined(__x86_64__) && defined(__clang__)
#define RNN_HAVE_VNNI_KERNEL 1
/// The same with AVX512-VNNI: one `vpdpbusd` multiplies 4 inputs by 16 columns' weights.
#define RNN_INT8_VNNI_PANEL(W)                                                                     \
  __attribute__((target("avx512f,avx512bw,avx512vnni"))) static void int8_vnni##W(                 \
      long quads, const uint8_t *xq, const int8_t *panel, int32_t *acc) {                          \
    __m512i a[W / 16];                                                                             \
    for (int v = 0; v < W / 16; v++) a[v] = _mm512_setzero_si512();                                \
    for (long q = 0; q < quads; q++) {                                                             \
      int32_t four;                                                                                \
      memcpy(&four, xq + 4 * q, sizeof four);                                                      \
      __m512i x = _mm512_set1_epi32(four);                                                         \
      const int8_t *row = panel + q * 4 * W;                                                       \
      for (int v = 0; v < W / 16; v++)                                                             \
        a[v] = _mm512_dpbusd_epi32(a[v], x, _mm512_loadu_si512(row + 64 * v));                     \
    }                                                                                              \
    for (int v = 0; v < W / 16; v++) _mm512_storeu_si512(acc + 16 * v, a[v]);                      \
  }
RNN_INT8_VNNI_PANEL(128)
RNN_INT8_VNNI_PANEL(64)
RNN_INT8_VNNI_PANEL(48)
RNN_INT8_VNNI_PANEL(32)
RNN_INT8_VNNI_PANEL(16)
#endif


static void int8_panel(long width, long quads, const uint8_t *xq, const int8_t *panel,
                       int32_t *acc) {
#if defined(RNN_HAVE_VNNI_KERNEL)
  if (use(VNNI)) {
    switch (width) {
    case 128: int8_vnni128(quads, xq, panel, acc); return;
    case 64: int8_vnni64(quads, xq, panel, acc); return;
    case 48: int8_vnni48(quads, xq, panel, acc); return;
    case 32: int8_vnni32(quads, xq, panel, acc); return;
    default: int8_vnni16(quads, xq, panel, acc); return;
    }
  }
#endif
  switch (width) {
  case 128: int8_panel128(quads, xq, panel, acc); break;
  case 64: int8_panel64(quads, xq, panel, acc); break;
  case 48: int8_panel48(quads, xq, panel, acc); break;
  case 32: int8_panel32(quads, xq, panel, acc); break;
  default: int8_panel16(quads, xq, panel, acc); break;
  }
}

/// Quantises x[K] into xq[rows] (offset 128, padding rows 128); returns the scale, 0 if x is 0.
RNN_KERNEL static float quantise_input(long K, long rows, const float *restrict x,
                                       uint8_t *restrict xq) {
  float largest = 0;
  for (long k = 0; k < K; k++) largest = fmaxf(largest, fabsf(x[k]));
  if (!(largest > 0)) return 0;
  float inverse = 127.0f / largest;
  RNN_VECTORIZE
  for (long k = 0; k < K; k++) xq[k] = (uint8_t)(int32_t)(rintf(x[k] * inverse) + 128.0f);
  for (long k = K; k < rows; k++) xq[k] = 128;
  return largest / 127.0f;
}

/// y[j] += sx * scale[j] * (acc[j] - 128 sum[j]) for a panel's columns.
RNN_KERNEL static void dequantise(long width, float sx, const int32_t *restrict acc,
                                  const float *restrict scale, const int32_t *restrict sum,
                                  float *restrict y) {
  RNN_VECTORIZE
  for (long j = 0; j < width; j++) y[j] += sx * scale[j] * (float)(acc[j] - 128 * sum[j]);
}

static void gemv_int8(const rnn_packed *w, long first, long N, const float *x, float *y,
                      uint8_t *xq) {
  long rows = rnn_packed_rows(RNN_PRECISION_INT8, w->K);
  float sx = quantise_input(w->K, rows, x, xq);
  if (sx == 0) return;  // x = 0: nothing to add
  const int8_t *part = (const int8_t *)w->panels + rows * first;
  int32_t acc[128];
  for (long n = 0; n < N;) {
    long width = rnn_panel_width(N, n);
    int8_panel(width, rows / 4, xq, part + rows * n, acc);
    dequantise(width, sx, acc, w->scale + first + n, w->sum + first + n, y + n);
    n += width;
  }
}

void rnn_gemv_packed(const rnn_packed *w, long first, long n, const float *x, float *y,
                     uint8_t *scratch) {
  long rows = rnn_packed_rows(w->precision, w->K);
  switch (w->precision) {
  case RNN_PRECISION_BF16:
    gemv_bf16(w->K, n, x, (const uint32_t *)w->panels + rows / 2 * first, y, scratch);
    break;
  case RNN_PRECISION_INT8:
    gemv_int8(w, first, n, x, y, scratch);
    break;
  default:
    rnn_gemv_panels(w->K, n, x, (const float *)w->panels + rows * first, y);
    break;
  }
}

/// "avx512", "avx2" or "baseline": the target clone this CPU runs.
static const char *clone_level(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
  return "baseline x86-64";
#else
  return "portable C";
#endif
}

const char *rnn_packed_kernel(rnn_precision precision) {
  static char lines[3][96];
  char *line = lines[precision == RNN_PRECISION_BF16 ? 1 : (precision == RNN_PRECISION_INT8 ? 2 : 0)];
  switch (precision) {
  case RNN_PRECISION_BF16:
    if (use(BF16_DOT))
      snprintf(line, sizeof lines[0], "bf16 x bf16 avx512_bf16 (inputs rounded per step)");
    else
      snprintf(line, sizeof lines[0], "bf16 weights widened to fp32, %s", clone_level());
    break;
  case RNN_PRECISION_INT8:
    snprintf(line, sizeof lines[0], "int8 x int8 %s (inputs quantised per step)",
             use(VNNI) ? "avx512_vnni" : clone_level());
    break;
  default:
    snprintf(line, sizeof lines[0], "fp32, %s", clone_level());
    break;
  }
  return line;
}
