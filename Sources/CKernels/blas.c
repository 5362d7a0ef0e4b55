// Matrix multiply through the fastest BLAS found at run time.
//
// Nothing is linked at build time: the package builds anywhere and stays usable as a dependency.
// At first use we dlopen, in order of measured speed on AVX-512 machines (../shared/NOTES.md):
//   1. oneDNN (`dnnl_sgemm`): JIT kernels for the CPU it finds, ~110 GFLOP/s per core here.
//   2. OpenBLAS: Debian's 0.3.21 does not recognise recent Xeons and falls back to its SSE3
//      kernel (5-15x slower). It reads OPENBLAS_CORETYPE when it loads, so we set it to the
//      CPU's real family before dlopen (unless the user set it).
//   3. The built-in kernel below: portable C, vectorised by target_clones.
// The library always runs single-threaded (oneDNN's OpenMP runtime reads OMP_NUM_THREADS=1 when
// it loads): the callers split work across threads themselves, coarsely (see Parallel.swift).
// `threads` is that split's width.
#define _GNU_SOURCE
#include "CKernels.h"
#include "activations.h"
#include "gemm_packed.h"
#include "held.h"
#include "onednn.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*dnnl_sgemm_fn)(char, char, long, long, long, float, const float *, long,
                             const float *, long, float, float *, long);
typedef struct {
  int major, minor, patch;
  const char *hash;
  unsigned cpu_runtime, gpu_runtime;
} dnnl_version_info;
typedef const dnnl_version_info *(*dnnl_version_fn)(void);
typedef int (*dnnl_isa_fn)(void);

typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                               const float *, int, float, float *, int);
typedef char *(*openblas_string_fn)(void);
typedef void (*openblas_threads_fn)(int);

static struct {
  pthread_once_t once;
  rnn_blas_backend requested;
  int requested_threads;
  rnn_blas_backend backend;
  int threads;
  dnnl_sgemm_fn dnnl_sgemm;
  cblas_sgemm_fn cblas_sgemm;
  char description[256];
} blas = {.once = PTHREAD_ONCE_INIT, .requested = RNN_BLAS_AUTO};

const char *rnn_onednn_isa_name(int isa) {
  switch (isa) {
  case 0x1: return "sse41";
  case 0x3: return "avx";
  case 0x7: return "avx2";
  case 0x407: return "avx2_vnni";
  case 0x27: return "avx512_core";
  case 0x67: return "avx512_core_vnni";
  case 0xe7: return "avx512_core_bf16";
  case 0x3e7: return "avx512_core_amx";
  default: return "isa unknown";
  }
}

static void set_default_env(const char *name, const char *value) {
  if (getenv(name) == NULL) setenv(name, value, 0);
}

void *rnn_open_onednn(void) {
  setenv("OMP_NUM_THREADS", "1", 1);
  const char *names[] = {"libdnnl.so.3", "libdnnl.so.2", "libdnnl.so"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (lib && dlsym(lib, "dnnl_sgemm")) return lib;
  }
  return NULL;
}

static int load_onednn(void) {
  void *lib = rnn_open_onednn();
  if (lib) {
    dnnl_sgemm_fn sgemm = (dnnl_sgemm_fn)dlsym(lib, "dnnl_sgemm");
    dnnl_version_fn version = (dnnl_version_fn)dlsym(lib, "dnnl_version");
    dnnl_isa_fn isa = (dnnl_isa_fn)dlsym(lib, "dnnl_get_effective_cpu_isa");
    const dnnl_version_info *v = version ? version() : NULL;
    snprintf(blas.description, sizeof blas.description, "oneDNN %d.%d.%d (%s kernels)",
             v ? v->major : 0, v ? v->minor : 0, v ? v->patch : 0,
             isa ? rnn_onednn_isa_name(isa()) : "isa unknown");
    blas.dnnl_sgemm = sgemm;
    return 1;
  }
  return 0;
}

static int load_openblas(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) set_default_env("OPENBLAS_CORETYPE", "SkylakeX");
  else if (__builtin_cpu_supports("avx2")) set_default_env("OPENBLAS_CORETYPE", "Haswell");
#endif
  const char *names[] = {"libopenblas.so.0", "libopenblas.so"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) continue;
    cblas_sgemm_fn sgemm = (cblas_sgemm_fn)dlsym(lib, "cblas_sgemm");
    if (!sgemm) continue;
    openblas_threads_fn set_threads = (openblas_threads_fn)dlsym(lib, "openblas_set_num_threads");
    openblas_string_fn core = (openblas_string_fn)dlsym(lib, "openblas_get_corename");
    openblas_string_fn config = (openblas_string_fn)dlsym(lib, "openblas_get_config");
    if (set_threads) set_threads(1);
    char version[64] = "OpenBLAS";
    if (config) snprintf(version, sizeof version, "%s", config());
    char *space = strchr(version, ' ');
    if (space && (space = strchr(space + 1, ' '))) *space = 0;  // "OpenBLAS 0.3.21"
    snprintf(blas.description, sizeof blas.description, "%s (%s kernel)", version,
             core ? core() : "unknown");
    blas.cblas_sgemm = sgemm;
    return 1;
  }
  return 0;
}

static void initialise(void) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  blas.threads = blas.requested_threads > 0 ? blas.requested_threads : (cores > 0 ? (int)cores : 1);
  rnn_blas_backend want = blas.requested;
  if ((want == RNN_BLAS_AUTO || want == RNN_BLAS_ONEDNN) && load_onednn()) {
    blas.backend = RNN_BLAS_ONEDNN;
  } else if ((want == RNN_BLAS_AUTO || want == RNN_BLAS_OPENBLAS) && load_openblas()) {
    blas.backend = RNN_BLAS_OPENBLAS;
  } else {
    blas.backend = RNN_BLAS_BUILTIN;
    snprintf(blas.description, sizeof blas.description, "built-in C kernel%s",
             want == RNN_BLAS_BUILTIN ? "" : " (the requested library was not found)");
  }
}

rnn_blas_backend rnn_blas_init(rnn_blas_backend preferred, int threads) {
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&lock);
  if (blas.requested == RNN_BLAS_AUTO && blas.requested_threads == 0) {
    blas.requested = preferred;
    blas.requested_threads = threads;
  }
  pthread_mutex_unlock(&lock);
  pthread_once(&blas.once, initialise);
  return blas.backend;
}

const char *rnn_blas_description(void) {
  pthread_once(&blas.once, initialise);
  return blas.description;
}

int rnn_blas_threads(void) {
  pthread_once(&blas.once, initialise);
  return blas.threads;
}

// MARK: - Built-in kernel

/// c[0..n) += a * b[0..n) for four rows of C at once (the B row is loaded once for all four).
RNN_KERNEL static void axpy4(long n, const float a[4], const float *restrict b, float *restrict c0,
                             float *restrict c1, float *restrict c2, float *restrict c3) {
  RNN_VECTORIZE
  for (long j = 0; j < n; j++) {
    float x = b[j];
    c0[j] += a[0] * x;
    c1[j] += a[1] * x;
    c2[j] += a[2] * x;
    c3[j] += a[3] * x;
  }
}

RNN_KERNEL static void axpy1(long n, float a, const float *restrict b, float *restrict c) {
  RNN_VECTORIZE
  for (long j = 0; j < n; j++) c[j] += a * b[j];
}

static void builtin_sgemm(int trans_a, int trans_b, long M, long N, long K, float alpha,
                          const float *A, long lda, const float *B, long ldb, float beta,
                          float *C, long ldc) {
  for (long i = 0; i < M; i++) {
    float *c = C + i * ldc;
    if (beta == 0.0f) memset(c, 0, (size_t)N * sizeof *c);
    else if (beta != 1.0f) for (long j = 0; j < N; j++) c[j] *= beta;
  }
  if (M == 0 || N == 0 || K == 0) return;
  // Pack op(B) as [K, N] rows so the inner loop streams contiguous memory.
  const float *packed = B;
  float *buffer = NULL;
  if (trans_b || ldb != N) {
    buffer = malloc((size_t)K * (size_t)N * sizeof *buffer);
    if (!buffer) abort();
    for (long k = 0; k < K; k++)
      for (long j = 0; j < N; j++) buffer[k * N + j] = trans_b ? B[j * ldb + k] : B[k * ldb + j];
    packed = buffer;
  }
#define OP_A(i, k) (trans_a ? A[(k) * lda + (i)] : A[(i) * lda + (k)])
  const long block = 256;  // columns per block: four C rows and one B row stay in L1
  for (long j0 = 0; j0 < N; j0 += block) {
    long n = N - j0 < block ? N - j0 : block;
    long i = 0;
    for (; i + 4 <= M; i += 4) {
      for (long k = 0; k < K; k++) {
        float a[4] = {alpha * OP_A(i, k), alpha * OP_A(i + 1, k), alpha * OP_A(i + 2, k),
                      alpha * OP_A(i + 3, k)};
        axpy4(n, a, packed + k * N + j0, C + i * ldc + j0, C + (i + 1) * ldc + j0,
              C + (i + 2) * ldc + j0, C + (i + 3) * ldc + j0);
      }
    }
    for (; i < M; i++)
      for (long k = 0; k < K; k++) axpy1(n, alpha * OP_A(i, k), packed + k * N + j0, C + i * ldc + j0);
  }
#undef OP_A
  free(buffer);
}

// oneDNN's generated gemm kernels for AVX-512 (and AVX2) point `rsp` into their heap workspace
// while they run (oneDNN issue 4845, fixed upstream in 2026 by PR 4855; Debian ships 2.6.3): a
// signal handler that runs on that thread meanwhile has its frame pushed into the heap, which
// corrupts it (`rnn train` aborted in 20-50% of Ctrl-Cs with "corrupted size vs. prev_size").
// So a thread holds signals back while it runs oneDNN: one that arrives meanwhile is delivered
// to another thread or when the hold ends. Each hold costs two rt_sigprocmask calls (about 2 us
// in all on this VM, 5% of a 2 x 128 LSTM's training step when taken per product), so callers
// that run many small products hold signals once around all of them (a training step), and
// holds nest: only the outermost one calls the kernel.
static sigset_t held_signals;
static pthread_once_t held_signals_once = PTHREAD_ONCE_INIT;
static _Thread_local int hold_depth;
static _Thread_local sigset_t mask_before_hold;

// Every signal a handler may catch, except those a fault raises in the faulting thread.
static void choose_held_signals(void) {
  sigfillset(&held_signals);
  int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
  for (size_t f = 0; f < sizeof faults / sizeof *faults; f++) sigdelset(&held_signals, faults[f]);
}

void rnn_hold_signals(void) {
  if (hold_depth++ > 0) return;
  pthread_once(&held_signals_once, choose_held_signals);
  pthread_sigmask(SIG_BLOCK, &held_signals, &mask_before_hold);
}

void rnn_release_signals(void) {
  if (--hold_depth == 0) pthread_sigmask(SIG_SETMASK, &mask_before_hold, NULL);
}

static void onednn_sgemm(char trans_a, char trans_b, long M, long N, long K, float alpha,
                         const float *A, long lda, const float *B, long ldb, float beta, float *C,
                         long ldc) {
  rnn_hold_signals();
  blas.dnnl_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  rnn_release_signals();
}

void rnn_sgemm(int trans_a, int trans_b, long M, long N, long K, float alpha, const float *A,
               long lda, const float *B, long ldb, float beta, float *C, long ldc) {
  pthread_once(&blas.once, initialise);
  if (M <= 0 || N <= 0) return;
  if (K > 0 && rnn_bf16_products()) {
    rnn_gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (K > 0 && rnn_held_product_form(trans_a, M, alpha, beta) && rnn_packed_f32_available()) {
    const float *packed = rnn_held_packed(RNN_PACKED_F32, K, N, B, ldb, trans_b);
    if (packed) {
      rnn_packed_f32_gemm(M, N, K, A, lda, packed, beta == 1, C, ldc);
      return;
    }
  }
  switch (blas.backend) {
  case RNN_BLAS_ONEDNN:
    if (K > 0) {
      onednn_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb,
                   beta, C, ldc);
      return;
    }
    break;
  case RNN_BLAS_OPENBLAS:
    if (K > 0) {
      // CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112.
      blas.cblas_sgemm(101, trans_a ? 112 : 111, trans_b ? 112 : 111, (int)M, (int)N, (int)K,
                       alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
      return;
    }
    break;
  default:
    break;
  }
  builtin_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// MARK: - Batch-1 products

/// Defines gemv_panel<W>: y[0..W) += x[K] * panel[K, W], the W outputs held in registers
/// (W/16 zmm: 128 gives eight independent FMA chains, enough to hide their latency).
#define RNN_GEMV_PANEL(W)                                                                          \
  RNN_KERNEL static void gemv_panel##W(long K, const float *restrict x, const float *restrict panel, \
                                       float *restrict y) {                                        \
    float acc[W];                                                                                  \
    for (int j = 0; j < W; j++) acc[j] = y[j];                                                     \
    for (long k = 0; k < K; k++) {                                                                 \
      const float *restrict row = panel + k * W;                                                   \
      float xk = x[k];                                                                             \
      RNN_VECTORIZE                                                                                \
      for (int j = 0; j < W; j++) acc[j] += xk * row[j];                                           \
    }                                                                                              \
    for (int j = 0; j < W; j++) y[j] = acc[j];                                                     \
  }
RNN_GEMV_PANEL(128)
RNN_GEMV_PANEL(64)
RNN_GEMV_PANEL(48)
RNN_GEMV_PANEL(32)
RNN_GEMV_PANEL(16)

long rnn_panel_width(long N, long n) {
  long left = N - n;
  return left >= 128 ? 128 : (left >= 64 ? 64 : (left + 15) / 16 * 16);
}

void rnn_pack_panels(long K, long N, const float *src, long lds, float *dst) {
  for (long n = 0; n < N;) {
    long width = rnn_panel_width(N, n), real = N - n < width ? N - n : width;
    for (long k = 0; k < K; k++) {
      float *row = dst + K * n + k * width;
      memcpy(row, src + k * lds + n, real * sizeof(float));
      memset(row + real, 0, (width - real) * sizeof(float));
    }
    n += width;
  }
}

void rnn_gemv_panels(long K, long N, const float *x, const float *w, float *y) {
  for (long n = 0; n < N;) {
    long width = rnn_panel_width(N, n);
    const float *panel = w + K * n;
    switch (width) {
    case 128: gemv_panel128(K, x, panel, y + n); break;
    case 64: gemv_panel64(K, x, panel, y + n); break;
    case 48: gemv_panel48(K, x, panel, y + n); break;
    case 32: gemv_panel32(K, x, panel, y + n); break;
    default: gemv_panel16(K, x, panel, y + n); break;
    }
    n += width;
  }
}
