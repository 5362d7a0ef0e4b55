// Vectorisable float activations (internal to CKernels).
//
// Written as straight-line arithmetic so that clang turns loops over them into SIMD code; the
// libm calls would stay scalar. Accuracy: a few ulp against libm over the whole float range.
#ifndef RNN_ACTIVATIONS_H
#define RNN_ACTIVATIONS_H

#include <stdint.h>
#include <string.h>

/// Marks a kernel to be compiled for AVX-512, AVX2+FMA and baseline x86-64, the best chosen when
/// the library loads; a plain function on other architectures. The clones name ISA levels
/// (`x86-64-v4`), not CPU models: `arch=skylake-avx512` would match only that very model and
/// send every newer CPU to the baseline code.
#if defined(__x86_64__) && defined(__clang__) && defined(__linux__)
#define RNN_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RNN_KERNEL
#endif

/// Before a loop whose iterations touch disjoint memory: vectorise it without run-time alias
/// checks (`restrict` on local pointers is not honoured by the compilers, only on parameters).
#if defined(__clang__)
#define RNN_VECTORIZE _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define RNN_VECTORIZE _Pragma("GCC ivdep")
#else
#define RNN_VECTORIZE
#endif

/// e^x for x in float range; inputs below -87 give e^-87 (about 1.6e-38), above 88 give e^88.
static inline float rnn_expf(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // x = n ln2 + r, |r| <= ln2/2; n rounded to nearest with the 1.5 * 2^23 trick.
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693145751953125f;
  r = r - n * 1.428606765330187045e-06f;
  // e^r by its minimax polynomial (Cephes expf coefficients).
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/// The bfloat16 nearest to x (ties to even), as its 16 bits; NaN stays NaN. Branch-free, so
/// loops over it vectorise.
static inline uint16_t rnn_bf16_bits(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1)) >> 16;
  return (uint16_t)((bits & 0x7fffffffu) > 0x7f800000u ? (bits >> 16) | 0x40 : rounded);
}

/// The float a bfloat16's 16 bits stand for.
static inline float rnn_bf16_value(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float x;
  memcpy(&x, &bits, sizeof x);
  return x;
}

/// Square root that never sets errno, so loops over it vectorise (libm's sqrtf may).
static inline float rnn_sqrtf(float x) {
#if defined(__has_builtin) && __has_builtin(__builtin_elementwise_sqrt)
  return __builtin_elementwise_sqrt(x);
#else
  return __builtin_sqrtf(x);
#endif
}

/// 1 / (1 + e^-x).
static inline float rnn_sigmoidf(float x) { return 1.0f / (1.0f + rnn_expf(-x)); }

/// tanh(x) as a rational function x P(x^2) / Q(x^2), odd, saturating to +-1 beyond |x| = 9.
static inline float rnn_tanhf(float x) {
  const float limit = 7.90531110763549805f;
  float c = x < -limit ? -limit : (x > limit ? limit : x);
  float x2 = c * c;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * c;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  float t = p / q;
  t = t > 1.0f ? 1.0f : (t < -1.0f ? -1.0f : t);
  return (x > limit) ? 1.0f : ((x < -limit) ? -1.0f : t);
}

#endif
