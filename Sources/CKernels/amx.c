// bf16 products on AMX tiles, for the products that training's time loops repeat at every step:
// a few rows of h_{t-1} (or of the gate gradients) times a weight that stays constant for the
// whole training step. oneDNN's dnnl_gemm_bf16bf16f32 re-lays its B operand out for the tiles at
// every call, which at these shapes costs more than the multiplication ([16, 512] x [512, 2048]:
// about 200 us against 60-75 us here, one core); here the weight is packed once per training
// step (gemm_bf16.c keeps the packed copies of held constants) and each call only streams it.
//
// The tiles (Intel's AMX, from Sapphire Rapids on): eight registers of up to 16 rows x 64 bytes;
// TDPBF16PS C, A, B adds to C [16 x 16 fp32] the product of A [16 x 32 bf16] and B [32 x 16 bf16]
// stored as 16 rows of (k, k+1) pairs. Here tmm0-3 hold four C tiles (64 columns), tmm4 a tile
// of A, tmm5-7 the B tiles.
#include "amx.h"

#include "CKernels.h"
#include "activations.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
  TILE_ROWS = 16,   // rows of A and C per tile
  TILE_K = 32,      // bf16 of K per tile
  TILE_N = 16,      // fp32 columns of C per tile
  GROUP_N = 64,     // columns of the four C tiles
  TILE_ELEMENTS = TILE_ROWS * TILE_K,
  PREFETCH_AHEAD = 2,  // K slices of B prefetched ahead of the one multiplied
};

static long round_up(long n, long m) { return (n + m - 1) / m * m; }

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int amx_usable;

static void probe(void) {
  unsigned a, b, c, d;
  // CPUID leaf 7: EDX bit 22 AMX-BF16, bit 24 AMX-TILE.
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d >> 22 & 1) || !(d >> 24 & 1)) return;
  // Linux lends the tile data registers only on request: arch_prctl(ARCH_REQ_XCOMP_PERM = 0x1023,
  // XFEATURE_XTILEDATA = 18).
  amx_usable = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}

int rnn_amx_available(void) {
  pthread_once(&probe_once, probe);
  return amx_usable;
}

long rnn_amx_packed_count(long K, long N) { return round_up(K, TILE_K) * round_up(N, GROUP_N); }

/// One tile of B [K, N] stored [K, N] (rows ldb apart), rows k0.. and columns n0.. all inside B:
/// out row r holds the pairs (k0 + 2r, k0 + 2r + 1) of the 16 columns, as 32-bit words.
RNN_KERNEL static void pack_inner_tile(const uint16_t *restrict B, long ldb, uint16_t *restrict out) {
  for (long r = 0; r < TILE_K / 2; r++) {
    const uint16_t *even = B + 2 * r * ldb, *odd = even + ldb;
    RNN_VECTORIZE
    for (long j = 0; j < TILE_N; j++) {
      uint32_t word = even[j] | (uint32_t)odd[j] << 16;
      memcpy(out + r * 2 * TILE_N + 2 * j, &word, sizeof word);
    }
  }
}

/// The same for B stored transposed, [N, K] (rows ldb apart): the pair (k, k+1) of column n is
/// already a 32-bit word of row n, so the tile is a 16 x 16 transpose of words.
RNN_KERNEL static void pack_inner_tile_transposed(const uint16_t *restrict B, long ldb,
                                                  uint16_t *restrict out) {
  for (long j = 0; j < TILE_N; j++)
    for (long r = 0; r < TILE_K / 2; r++) {
      uint32_t word;
      memcpy(&word, B + j * ldb + 2 * r, sizeof word);
      memcpy(out + r * 2 * TILE_N + 2 * j, &word, sizeof word);
    }
}

void rnn_amx_pack(long K, long N, const uint16_t *B, long ldb, int trans_b, uint16_t *dst) {
  long slices = round_up(K, TILE_K) / TILE_K, groups = round_up(N, GROUP_N) / GROUP_N;
  for (long group = 0; group < groups; group++)
    for (long slice = 0; slice < slices; slice++)
      for (long tile = 0; tile < GROUP_N / TILE_N; tile++) {
        uint16_t *out = dst + ((group * slices + slice) * (GROUP_N / TILE_N) + tile) * TILE_ELEMENTS;
        long n0 = group * GROUP_N + tile * TILE_N, k0 = slice * TILE_K;
        if (k0 + TILE_K <= K && n0 + TILE_N <= N) {
          if (trans_b) pack_inner_tile_transposed(B + n0 * ldb + k0, ldb, out);
          else pack_inner_tile(B + k0 * ldb + n0, ldb, out);
          continue;
        }
        for (long j = 0; j < TILE_N; j++)
          for (long i = 0; i < TILE_K; i++) {  // out row i / 2 holds (k, k+1) of each column
            long k = k0 + i, n = n0 + j;
            out[i / 2 * 2 * TILE_N + 2 * j + i % 2] =
                k < K && n < N ? B[trans_b ? n * ldb + k : k * ldb + n] : 0;
          }
      }
}

// Each thread's A in bf16, [M rounded up to 16, K rounded up to 32] with zero padding.
static _Thread_local struct {
  uint16_t *data;
  size_t capacity;
} scratch;

static const uint16_t *rounded_rows(long M, long K, const float *A, long lda) {
  long rows = round_up(M, TILE_ROWS), cols = round_up(K, TILE_K);
  size_t need = (size_t)(rows * cols);
  if (need > scratch.capacity) {
    free(scratch.data);
    scratch.data = malloc(need * sizeof(uint16_t));
    if (!scratch.data) abort();  // as the built-in sgemm does when it cannot pack
    scratch.capacity = need;
  }
  for (long r = 0; r < rows; r++) {
    uint16_t *row = scratch.data + r * cols;
    long filled = r < M ? K : 0;
    rnn_round_to_bf16(filled, A + r * lda, row);
    memset(row + filled, 0, (size_t)(cols - filled) * sizeof(uint16_t));
  }
  return scratch.data;
}

// The tile configuration of palette 1 (64 bytes): every tile 16 rows of 64 bytes.
typedef struct {
  uint8_t palette, start_row, reserved[14];
  uint16_t bytes_per_row[16];
  uint8_t rows[16];
} tile_config;

/// C tile `tile` of a 16-row block into C, through `staging` where the block is cut by M or N:
/// C rows [0, rows) and columns [0, columns) of the tile, added to C when `accumulate`.
#define RNN_STORE_C_TILE(tile)                                                                     \
  do {                                                                                             \
    if (full) {                                                                                    \
      _tile_stored(tile, c + (tile) * TILE_N, ldc * 4);                                            \
    } else if (n0 + (tile) * TILE_N < N) {                                                         \
      _tile_stored(tile, staging, TILE_N * 4);                                                     \
      long columns = N - n0 - (tile) * TILE_N < TILE_N ? N - n0 - (tile) * TILE_N : TILE_N;        \
      for (long r = 0; r < rows; r++)                                                              \
        for (long j = 0; j < columns; j++) {                                                       \
          float *out = c + r * ldc + (tile) * TILE_N + j;                                          \
          *out = staging[r * TILE_N + j] + (accumulate ? *out : 0);                                \
        }                                                                                          \
    }                                                                                              \
  } while (0)

__attribute__((target("amx-tile,amx-bf16"))) static void
multiply(long M, long N, long K, const uint16_t *a, const uint16_t *packed, int accumulate,
         float *C, long ldc) {
  long depth = round_up(K, TILE_K), slices = depth / TILE_K;
  tile_config config = {.palette = 1};
  for (int t = 0; t < 8; t++) config.rows[t] = TILE_ROWS, config.bytes_per_row[t] = 64;
  _tile_loadconfig(&config);
  float staging[TILE_ROWS * TILE_N] __attribute__((aligned(64)));
  for (long n0 = 0; n0 < N; n0 += GROUP_N) {
    const uint16_t *group = packed + n0 / GROUP_N * slices * 4 * TILE_ELEMENTS;
    for (long m0 = 0; m0 < M; m0 += TILE_ROWS) {
      long rows = M - m0 < TILE_ROWS ? M - m0 : TILE_ROWS;
      int full = rows == TILE_ROWS && n0 + GROUP_N <= N;
      float *c = C + m0 * ldc + n0;
      if (full && accumulate) {
        _tile_loadd(0, c, ldc * 4);
        _tile_loadd(1, c + TILE_N, ldc * 4);
        _tile_loadd(2, c + 2 * TILE_N, ldc * 4);
        _tile_loadd(3, c + 3 * TILE_N, ldc * 4);
      } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
      }
      const uint16_t *a_rows = a + m0 * depth;
      for (long slice = 0; slice < slices; slice++) {
        const uint16_t *b = group + slice * 4 * TILE_ELEMENTS;
        if (m0 == 0)  // the first row block brings the group in; the others find it cached
          for (int line = 0; line < 4 * TILE_ELEMENTS * 2 / 64; line++)
            _mm_prefetch((const char *)(b + PREFETCH_AHEAD * 4 * TILE_ELEMENTS) + line * 64,
                         _MM_HINT_T0);
        _tile_loadd(4, a_rows + slice * TILE_K, depth * 2);
        _tile_loadd(5, b, 64);
        _tile_loadd(6, b + TILE_ELEMENTS, 64);
        _tile_dpbf16ps(0, 4, 5);
        _tile_loadd(7, b + 2 * TILE_ELEMENTS, 64);
        _tile_dpbf16ps(1, 4, 6);
        _tile_loadd(5, b + 3 * TILE_ELEMENTS, 64);
        _tile_dpbf16ps(2, 4, 7);
        _tile_dpbf16ps(3, 4, 5);
      }
      RNN_STORE_C_TILE(0);
      RNN_STORE_C_TILE(1);
      RNN_STORE_C_TILE(2);
      RNN_STORE_C_TILE(3);
    }
  }
  _tile_release();
}

void rnn_amx_gemm(long M, long N, long K, const float *A, long lda, const uint16_t *packed,
                  int accumulate, float *C, long ldc) {
  if (M <= 0 || N <= 0) return;
  multiply(M, N, K, rounded_rows(M, K, A, lda), packed, accumulate, C, ldc);
}

#else  // not x86-64: no tiles

int rnn_amx_available(void) { return 0; }
long rnn_amx_packed_count(long K, long N) { return 0; }
void rnn_amx_pack(long K, long N, const uint16_t *B, long ldb, int trans_b, uint16_t *dst) {}
void rnn_amx_gemm(long M, long N, long K, const float *A, long lda, const uint16_t *packed,
                  int accumulate, float *C, long ldc) {}

#endif
