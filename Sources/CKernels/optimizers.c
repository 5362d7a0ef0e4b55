// Optimizer updates over flat parameter buffers, with PyTorch's update rules.
#include "CKernels.h"
#include "activations.h"

#include <math.h>

RNN_KERNEL void rnn_adam_step(long n, float *p, const float *g, float *m, float *v, float lr,
                              float beta1, float beta2, float c1, float c2, float eps, float bias1,
                              float bias2) {
  float *restrict pp = p, *restrict mm = m, *restrict vv = v;
  const float *restrict gg = g;
  float step = lr / bias1, root2 = sqrtf(bias2);
  RNN_VECTORIZE
  for (long i = 0; i < n; i++) {
    float gi = gg[i];
    float mi = beta1 * mm[i] + c1 * gi;
    float vi = beta2 * vv[i] + c2 * gi * gi;
    mm[i] = mi, vv[i] = vi;
    pp[i] -= step * mi / (rnn_sqrtf(vi) / root2 + eps);
  }
}

RNN_KERNEL void rnn_rmsprop_step(long n, float *p, const float *g, float *v, float lr, float alpha,
                                 float c, float eps) {
  float *restrict pp = p, *restrict vv = v;
  const float *restrict gg = g;
  RNN_VECTORIZE
  for (long i = 0; i < n; i++) {
    float gi = gg[i];
    float vi = alpha * vv[i] + c * gi * gi;
    vv[i] = vi;
    pp[i] -= lr * gi / (rnn_sqrtf(vi) + eps);
  }
}

RNN_KERNEL void rnn_sgd_step(long n, float *p, const float *g, float *buf, float lr,
                             float momentum) {
  float *restrict pp = p, *restrict bb = buf;
  const float *restrict gg = g;
  if (momentum == 0.0f) {
    RNN_VECTORIZE
    for (long i = 0; i < n; i++) pp[i] -= lr * gg[i];
    return;
  }
  RNN_VECTORIZE
  for (long i = 0; i < n; i++) {
    float b = momentum * bb[i] + gg[i];
    bb[i] = b;
    pp[i] -= lr * b;
  }
}
