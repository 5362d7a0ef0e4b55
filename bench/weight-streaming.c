// How fast batch-1 sampling can read its weights: the bound on characters per second.
//
// Sampling one character multiplies every layer's weights by one vector; each weight is read once
// and used for one multiply-add, so the rate is set by how fast the cores stream the weights from
// their caches, not by arithmetic. This program streams fp32 matrices the way the step model does
// (column panels of 128, huge-page memory, the same kernel shape) with one core, and with two
// cores that each stream their own half (as the step model splits the hidden units), for working
// sets from L2-sized to L3-sized, and prints the GB/s and what it allows for the benchmark's models.
//
//   cc -O2 -march=native -pthread bench/weight-streaming.c -o /tmp/weight-streaming && /tmp/weight-streaming
//
// A benchmark, not a test: CI does not build it.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

enum { K = 512, PANEL = 128 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/// y[PANEL] += x[K] * panel[K, PANEL], the outputs in registers.
static void panel_product(const float *restrict x, const float *restrict panel, float *restrict y) {
  float acc[PANEL];
  for (int j = 0; j < PANEL; j++) acc[j] = y[j];
  for (long k = 0; k < K; k++) {
    const float *restrict row = panel + k * PANEL;
    for (int j = 0; j < PANEL; j++) acc[j] += x[k] * row[j];
  }
  for (int j = 0; j < PANEL; j++) y[j] = acc[j];
}

typedef struct {
  long bytes;  // this thread's share of the weights
  double seconds, rate;  // time to spend; measured bytes/s
} job;

static void *stream(void *argument) {
  job *work = argument;
  long panels = work->bytes / (K * PANEL * sizeof(float));
  size_t size = (work->bytes + (2 << 20) - 1) / (2 << 20) * (2 << 20);
  float *weights = aligned_alloc(2 << 20, size), x[K], *y = calloc(panels * PANEL, sizeof(float));
  madvise(weights, size, MADV_HUGEPAGE);
  for (long i = 0; i < (long)(size / sizeof(float)); i++) weights[i] = (float)(i % 97) * 1e-3f;
  for (int k = 0; k < K; k++) x[k] = (float)k * 1e-2f;
  long passes = 0;
  double start = now();
  while (now() - start < work->seconds) {
    for (long p = 0; p < panels; p++) panel_product(x, weights + p * K * PANEL, y + p * PANEL);
    passes++;
  }
  work->rate = (double)panels * K * PANEL * sizeof(float) * passes / (now() - start);
  free(weights);
  free(y);
  return 0;
}

/// Bytes/s over `total` bytes of weights, split over `threads` (1 or 2) threads.
static double measure(long total, int threads) {
  job jobs[2] = {{total / threads, 0.5, 0}, {total / threads, 0.5, 0}};
  pthread_t helper;
  if (threads == 2) pthread_create(&helper, 0, stream, &jobs[1]);
  stream(&jobs[0]);
  if (threads == 2) pthread_join(helper, 0);
  return jobs[0].rate + (threads == 2 ? jobs[1].rate : 0);
}

int main(void) {
  printf("| fp32 weights | 1 core GB/s | 2 cores GB/s |\n|---:|---:|---:|\n");
  long sizes[] = {1 << 20, 2 << 20, 3 << 20, 4 << 20, 6 << 20, 9 << 20, 12 << 20};
  double two[7];
  for (int i = 0; i < 7; i++) {
    double one = measure(sizes[i], 1);
    two[i] = measure(sizes[i], 2);
    printf("| %ld MiB | %.1f | %.1f |\n", sizes[i] >> 20, one / 1e9, two[i] / 1e9);
  }
  // Bytes read per character (V = 65, embedding = hidden = 512, layer 0's input projection from a
  // per-character table): each layer's W_hh, the later layers' W_ih, and the decoder.
  struct { const char *name; int gates; } models[] = {{"lstm 2x512", 4}, {"gru 2x512", 3}, {"rnn 2x512", 1}};
  printf("\n| model | weights read per character | chars/s that 2 cores stream |\n|---|---:|---:|\n");
  for (int m = 0; m < 3; m++) {
    double bytes = (3.0 * models[m].gates * 512 * 512 + 512 * 65) * sizeof(float);
    int nearest = 0;
    for (int i = 1; i < 7; i++)
      if (sizes[i] <= bytes * 1.05) nearest = i;
    printf("| %s | %.1f MiB | %.0f |\n", models[m].name, bytes / (1 << 20), two[nearest] / bytes);
  }
  return 0;
}
