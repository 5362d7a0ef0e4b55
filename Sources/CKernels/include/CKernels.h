// CKernels: the C layer under the RNN library.
//
//   blas.c         matrix multiply through the fastest BLAS found at run time (oneDNN, OpenBLAS)
//                  or a built-in vectorised fallback; no link-time dependency on any BLAS.
//   gemm_bf16.c    the same products in bf16 (oneDNN, AMX / AVX512-BF16) for training.
//   held.c         operands held constant for a training step: bf16 copies, packed copies.
//   gemm_packed.c  fp32 products of few rows against a held, packed weight (the time loops').
//   quantized.c    batch-1 matrix-vector products with weights in bf16 or int8 (sampling).
//   recurrent.c    fused pointwise forward/backward of one LSTM, GRU or vanilla-RNN time step.
//   vector.c       bias broadcast and reduction, softmax cross-entropy, norms, dropout masks.
//   transpose.c    transposes (weight gradients, re-laid-out weights), AVX-512 register tiles.
//   optimizers.c   Adam, RMSprop and SGD-with-momentum updates over flat parameter buffers.
//   mpi.c          Open MPI, loaded at run time under mpirun: init, allreduce sums, abort.
//   mpi_node.c     sums through memory the ranks on one machine share (the gradients'), and the
//                  parameters they keep there, one copy a machine.
//   mpi_share.c    products the ranks on one machine share, block by block (a weight gradient's).
//   cuda_*.c       the CUDA backend (rnn_cuda.h): loader, language model, sampler; kernels in cuda/.
//
// Every array is float32, row-major and contiguous unless a leading dimension says otherwise.
// Shape legend: T time, B batch, D input features, H hidden, V vocabulary, N rows.
// Pointwise kernels are compiled for AVX-512, AVX2+FMA and baseline x86-64 (chosen at load time),
// and plainly elsewhere (arm64).
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stdint.h>

#include "rnn_cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - BLAS

/// The matrix-multiply implementations the library can run.
typedef enum {
  RNN_BLAS_AUTO = -1,     ///< pick the fastest available (oneDNN, then OpenBLAS, then built-in)
  RNN_BLAS_BUILTIN = 0,   ///< the portable vectorised C kernel in blas.c
  RNN_BLAS_ONEDNN = 1,    ///< oneDNN's `dnnl_sgemm` (libdnnl.so.2 / .3), JIT kernels for this CPU
  RNN_BLAS_OPENBLAS = 2,  ///< OpenBLAS `cblas_sgemm` (libopenblas.so.0), core type forced to the CPU's
} rnn_blas_backend;

/// A precision of stored weights (rnn_packed) or of matrix products (rnn_blas_set_precision).
typedef enum {
  RNN_PRECISION_FP32 = 0,  ///< float32, as trained
  RNN_PRECISION_BF16 = 1,  ///< bfloat16 (rounded to nearest even), products accumulated in fp32
  RNN_PRECISION_INT8 = 2,  ///< int8, one symmetric scale per column (output), inputs quantised per call
} rnn_precision;

/// Loads a BLAS (always run single-threaded) and records how many threads callers split work
/// over (`threads <= 0`: one per core). The first call wins; later calls return the backend
/// already chosen. Returns the backend in use.
rnn_blas_backend rnn_blas_init(rnn_blas_backend preferred, int threads);

/// One line naming the library, its version and the kernel it runs, e.g.
/// "oneDNN 2.6.3 (avx512_core_amx kernels)". Calls `rnn_blas_init(AUTO, 0)` if needed.
const char *rnn_blas_description(void);

/// The number of threads work is split over.
int rnn_blas_threads(void);

/// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, row-major; op(X) = X or X^T
/// (`trans_a`, `trans_b` non-zero). `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored.
void rnn_sgemm(int trans_a, int trans_b, long M, long N, long K, float alpha, const float *A,
               long lda, const float *B, long ldb, float beta, float *C, long ldc);

/// Holds back on this thread every signal a handler may catch, until the matching
/// `rnn_release_signals` (holds nest; only the outermost pair changes the signal mask). oneDNN
/// calls hold signals themselves (its kernels would corrupt the heap under a handler: see
/// blas.c); a caller that runs many products holds them once around all of them.
void rnn_hold_signals(void);

/// Ends the innermost `rnn_hold_signals`; the outermost delivers the signals that arrived.
void rnn_release_signals(void);

/// The width of the panel at column `n` of an N-column matrix packed in panels: 128 while at
/// least 128 columns are left, then 64, then the rest rounded up to 16 (zero columns pad it).
/// Panel `n` starts at element `K * n` (rows of its own width).
long rnn_panel_width(long N, long n);

/// Asks for rnn_sgemm's products in `precision`: fp32, or bf16 (both operands rounded to bf16,
/// products accumulated in fp32, by oneDNN's `dnnl_gemm_bf16bf16f32` on AMX or AVX512-BF16).
/// Returns the precision that runs: fp32 where bf16 is unavailable (`rnn_blas_bf16_kernel` says
/// why). Call between products, not during them.
rnn_precision rnn_blas_set_precision(rnn_precision precision);

/// The precision rnn_sgemm's products run in.
rnn_precision rnn_blas_precision(void);

/// 1 when `B [count floats]` lies in a held buffer (rnn_blas_hold_constant) and a product of at
/// most `rows` rows against it, in either layout, runs on our own kernel from a copy packed once
/// per hold: `rows` is at most 128 and the CPU has the kernel, in fp32 AVX-512 (gemm_packed.c), in
/// bf16 AMX tiles (amx.c).
int rnn_blas_packs_held(const float *B, long count, long rows);

/// One line: the kernel that runs bf16 products, or why none can, e.g.
/// "oneDNN dnnl_gemm_bf16bf16f32 (avx512_core_amx kernels), fp32 accumulation".
const char *rnn_blas_bf16_kernel(void);

/// Holds `values [count]` constant until `rnn_blas_release_constant` of the same `values` (held.c):
/// the values must not change meanwhile (training: the weights, during forward and backward).
/// With bf16 products they are rounded to bf16 once, and products read an operand inside the
/// buffer from that copy instead of rounding it each time. A product of few rows against an
/// operand inside it packs that operand at its first use and reuses it (`rnn_blas_packs_held`).
/// Holds nest, up to 8 at a time.
void rnn_blas_hold_constant(const float *values, long count);

/// Ends `rnn_blas_hold_constant(values, ...)`.
void rnn_blas_release_constant(const float *values);

/// Copies `src [K, N]` (rows `lds` floats apart) into panel order for `rnn_gemv_panels`: column
/// panels of 128 columns, then one of 64, then the rest padded with zero columns to a multiple of
/// 16; each panel `[K, width]` contiguous. `dst` holds `K * (N rounded up to 16)` floats.
void rnn_pack_panels(long K, long N, const float *src, long lds, float *dst);

/// y[N] += x[K] * w[K,N], `w` packed by `rnn_pack_panels`: a matrix-vector product for batch-1
/// inference. Each panel is one contiguous stream (which the hardware prefetchers follow) read
/// once while its outputs stay in registers. Writes `y` up to N rounded up to 16 (the padding
/// columns add zero).
void rnn_gemv_panels(long K, long N, const float *x, const float *w, float *y);

/// Allocates `count` floats (uninitialised) for a buffer read over and over: from 1 MiB on,
/// 2 MiB-aligned and advised to use transparent huge pages. Null if out of memory.
float *rnn_allocate_streamed(long count);

/// Frees a buffer from `rnn_allocate_streamed`.
void rnn_free_streamed(float *buffer);

/// With glibc: keeps freed memory in the process (allocations up to 32 MiB from the heap, which is
/// never trimmed) instead of returning it to the system. Elsewhere: nothing.
void rnn_keep_freed_memory(void);

// MARK: - Weights for batch-1 products in fp32, bf16 or int8 (quantized.c)

/// A matrix W [K, N] (a transposed weight: K inputs, N outputs) packed for `rnn_gemv_packed`, in
/// column panels as `rnn_pack_panels` lays them out, each part of the columns (from column
/// `first`, a multiple of 16) packed on its own from element `rnn_packed_rows(precision, K) * first`.
/// - fp32: panels of floats, exactly as `rnn_pack_panels`.
/// - bf16: K rounded up to 2; in a panel of width w, element (k, j) is at `(k / 2) * 2w + 2j + k % 2`
///   (two consecutive inputs of a column side by side in one 32-bit word).
/// - int8: K rounded up to 4 (zero rows pad it); in a panel of width w, element (k, j) is byte
///   `(k / 4) * 4w + 4j + k % 4` (four consecutive inputs of a column side by side, the order of
///   VNNI's `vpdpbusd`); W[k, j] ~ scale[j] * q[k, j], |q| <= 127, scale[j] = max_k |W[k, j]| / 127;
///   sum[j] = sum_k q[k, j].
typedef struct {
  rnn_precision precision;
  long K;          // inputs
  void *panels;    // rnn_packed_rows(precision, K) * (N rounded up to 16 per part) elements
  float *scale;    // int8: [N rounded up to 16], per column; else unused
  int32_t *sum;    // int8: [N rounded up to 16], per column; else unused
} rnn_packed;

/// Rows stored per panel for K inputs: K; for bf16 K rounded up to 2, for int8 up to 4.
long rnn_packed_rows(rnn_precision precision, long K);

/// Bytes of scratch `rnn_gemv_packed` needs for K inputs (the input converted per call).
long rnn_packed_scratch_bytes(rnn_precision precision, long K);

/// Bytes per stored weight: 4, 2 or 1.
long rnn_precision_bytes(rnn_precision precision);

/// Packs `src [K, n]` (rows `lds` floats apart) as columns [first, first + n) of `w`, rounding to
/// its precision (int8: computing those columns' scales and sums; padding columns get scale 0).
void rnn_pack_part(const rnn_packed *w, long first, long n, const float *src, long lds);

/// y[n] += x[K] * W[K, first : first + n] for the part of `w` packed from column `first` (its
/// panels rounded up to 16 columns: `y` is written that far, the padding columns adding zero).
/// int8 quantises x symmetrically (scale max|x| / 127) into `scratch` and multiplies in 32-bit
/// integers; bf16 rounds x to bf16 into `scratch` and multiplies with AVX512-BF16 where the CPU
/// has it, else widens each weight to fp32; both accumulate in fp32. `scratch` holds
/// `rnn_packed_scratch_bytes` bytes.
void rnn_gemv_packed(const rnn_packed *w, long first, long n, const float *x, float *y,
                     uint8_t *scratch);

/// For tests: non-zero runs the portable int8 kernel even on a CPU with AVX512-VNNI.
void rnn_packed_portable_only(int on);

/// bf16 nearest-even rounding of x, as a float (NaN stays NaN).
float rnn_round_bf16(float x);

/// bits[i] = the bf16 nearest x[i] (ties to even; NaN stays NaN), as its 16 bits, for i < n.
void rnn_round_to_bf16(long n, const float *x, uint16_t *bits);

/// One line naming the kernel `rnn_gemv_packed` runs for `precision` on this CPU, e.g.
/// "int8 avx512_vnni (inputs quantised per call)".
const char *rnn_packed_kernel(rnn_precision precision);

// MARK: - Two-thread regions

/// A region in stages, each split in two: `part` 0 or 1 of `stage`.
typedef void (*rnn_stage_fn)(void *context, int stage, int part);

/// Runs stage 0, 1, ..., `stages - 1` of a region: task(context, s, 0) on the calling thread and
/// task(context, s, 1) on a persistent helper thread that spins between regions (for regions of
/// microseconds), or on the calling thread too if the helper has not started it by the time part
/// 0 is done. A stage starts when both parts of the one before are done, and the call returns
/// when the last is; the helper stays in the region between stages, so a stage boundary costs a
/// few cache-line transfers. Regions started inside a region run both parts inline.
void rnn_run_pair_stages(rnn_stage_fn task, void *context, int stages);

// MARK: - Batch-1 step of a stacked model

typedef enum { RNN_CELL_LSTM, RNN_CELL_GRU, RNN_CELL_TANH, RNN_CELL_RELU } rnn_cell_kind;

/// One layer of an `rnn_step_model`. Weights are transposed, `[K, G*H]` with K the layer's input
/// size, gate columns reordered so that each part's are contiguous (part p: columns
/// `[G*units[p], G*units[p+1])`, gate blocks of its width), each part's columns packed by
/// `rnn_pack_part` from its first column.
typedef struct {
  rnn_packed wih;    // layers after the first: W_ih^T, packed
  rnn_packed whh;    // W_hh^T, packed
  const float *bias; // [G*H]: b_ih + b_hh (GRU: b_ih)
  const float *bhh;  // [G*H]: GRU's b_hh
  float *h[2], *c[2]; // the state [H] (c: LSTM only), double-buffered: `parity` is current
} rnn_step_layer;

/// A stacked recurrent model with its decoder, prepared for batch-1 steps.
typedef struct {
  rnn_cell_kind cell;
  long layers, hidden, gates_per_unit;
  int parts;            // 1, or 2: hidden units and classes split between two threads
  long units[3];        // part boundaries over the hidden units (multiples of 16 but the last)
  long classes[3];      // part boundaries over the decoder's outputs (likewise)
  rnn_step_layer *layer;
  const float *table;   // [V, G*H]: layer 0's input projection of each token, biases included
  rnn_packed decoder;   // W_dec^T [H, V], each part's columns packed
  const float *decoder_bias;
  // Scratch, each padded to a multiple of 16 floats: gates, hidden_gates, gru_gates [G*H];
  // tanh_c, hn [H]; logits [V] (the output).
  float *gates, *hidden_gates, *gru_gates, *tanh_c, *hn, *logits;
  uint8_t *scratch[2];  // each part's scratch for rnn_gemv_packed (rnn_packed_scratch_bytes for H)
  int parity;           // which of each layer's state buffers is current
} rnn_step_model;

/// Runs `token` through every layer and the decoder: writes `logits`, advances the state (flips
/// `parity`). With two parts, one region of `layers + 1` stages on two threads.
void rnn_step(rnn_step_model *model, int token);

// MARK: - Recurrent cells, one time step (gate orders as PyTorch: LSTM i,f,g,o; GRU r,z,n)

/// LSTM forward. gates [B,4H]: in, pre-activations x W_ih^T + b_ih + h W_hh^T + b_hh; out, the
/// activated gates i,f,g,o. c_prev [B,H]; writes c [B,H], tanh_c = tanh(c) [B,H], h [B,H].
void rnn_lstm_forward_step(long B, long H, float *gates, const float *c_prev, float *c,
                           float *tanh_c, float *h);

/// LSTM backward. dh = dy + dh_next is the gradient reaching h_t (both [B,H]);
/// dc [B,H]: in, the gradient reaching c_t from step t+1; out, the gradient for c_{t-1}.
/// Writes dgates [B,4H], the gradients of the gate pre-activations.
void rnn_lstm_backward_step(long B, long H, const float *gates, const float *c_prev,
                            const float *tanh_c, const float *dy, const float *dh_next, float *dc,
                            float *dgates);

/// GRU forward for hidden units [u, u+w) of each of B rows. xg [B,3H] = x W_ih^T + b_ih;
/// hg [B,3w] = h_prev W_hh^T for these units (blocks r,z,n of width w), to which `bhh` [3H] adds
/// b_hh. Writes these units' columns of gates [B,3H] = r,z,n (which may be xg itself: each element
/// is read before it is written), hn [B,H] = the n part of h_prev W_hh^T + b_hh (kept for
/// backward) and h [B,H].
void rnn_gru_forward_step(long B, long H, long u, long w, const float *xg, const float *hg,
                          const float *bhh, const float *h_prev, float *gates, float *hn, float *h);

/// GRU backward. Writes dxg [B,3H] (gradient of xg), dhg [B,3H] (gradient of hg) and
/// dh_prev [B,H], the part of h_{t-1}'s gradient that does not pass through W_hh.
void rnn_gru_backward_step(long B, long H, const float *gates, const float *hn,
                           const float *h_prev, const float *dy, const float *dh_next, float *dxg,
                           float *dhg, float *dh_prev);

/// Vanilla RNN forward: h = tanh(pre) or max(pre, 0) (`relu` non-zero); pre, h: [B,H].
void rnn_simple_forward_step(long B, long H, const float *pre, float *h, int relu);

/// Vanilla RNN backward: dpre = (dy + dh_next) * act'(h); h, dy, dh_next, dpre: [B,H].
void rnn_simple_backward_step(long B, long H, const float *h, const float *dy,
                              const float *dh_next, float *dpre, int relu);

/// minGRU forward (Feng et al. 2024). gates [B,2H]: in, x W_ih^T + b_ih, blocks z (pre-activation)
/// and h~ (the candidate); out, z = sigmoid(z) and h~ unchanged. h_prev [B,H]; writes
/// h = (1 - z) * h_prev + z * h~ [B,H].
void rnn_mingru_forward_step(long B, long H, float *gates, const float *h_prev, float *h);

/// minGRU backward. dh [B,H]: in, the gradient reaching h_t from step t+1 (dy adds the output's);
/// out, the gradient of h_{t-1}. Writes dgates [B,2H], the gradients of z's pre-activation and of h~.
void rnn_mingru_backward_step(long B, long H, const float *gates, const float *h_prev,
                              const float *dy, float *dh, float *dgates);

// MARK: - Vectors and rows

/// dst[n, :] = a + b for each of N rows of width M (b may be NULL).
void rnn_fill_rows(long N, long M, float *dst, const float *a, const float *b);

/// sums[j] += sum over n of x[n, j]; x: N rows of M, `ldx` apart (bias gradients).
void rnn_add_column_sums(long N, long M, const float *x, long ldx, float *sums);

/// dst[i] += src[i].
void rnn_add(long n, float *dst, const float *src);

/// dst[i] *= src[i].
void rnn_multiply(long n, float *dst, const float *src);

/// x[i] *= s.
void rnn_scale(long n, float *x, float s);

/// x[i] = min(max(x[i], -limit), limit).
void rnn_clamp(long n, float *x, float limit);

/// The sum of squares of x, accumulated in double.
double rnn_sum_squares(long n, const float *x);

/// 1 if every x[i] is finite, else 0.
int rnn_all_finite(long n, const float *x);

/// Softmax cross-entropy over N rows of V logits. Returns the sum over rows of -log p[target]
/// (in double); rows whose target is negative are skipped. If dlogits is not NULL it receives
/// (softmax - onehot(target)) * scale, and zeros for skipped rows. dlogits may alias logits.
double rnn_softmax_cross_entropy(long N, long V, const float *logits, const int32_t *targets,
                                 float scale, float *dlogits);

/// dst[j, i] = src[i, j], or += with `accumulate` non-zero, for src [rows, cols] (rows `lds`
/// apart) and dst [cols, rows] (rows `ldd` apart).
void rnn_transpose(long rows, long cols, const float *src, long lds, float *dst, long ldd,
                   int accumulate);

/// probs[V] = softmax(logits / temperature).
void rnn_softmax(long V, const float *logits, float temperature, float *probs);

/// Zeroes every p[V] but the k largest (among equal values the lower index counts as larger), in
/// expected O(V) time and without allocating; order[V] is scratch.
void rnn_keep_top_k(long V, float *p, long k, int32_t *order);

/// Draws, element by element in order, the mask of an [outer, rows, width] tensor: 0 with
/// probability p, else 1/(1-p), from the xoshiro128+ generator in state[4], which it advances past
/// all of it. Only rows [first, first + count) are kept, in mask[outer, count, width]: a share of
/// the batch gets exactly its rows of the whole batch's mask (pass 1, 1, 0, 1, n for a plain mask[n]).
void rnn_dropout_mask(long outer, long rows, long first, long count, long width, float *mask,
                      float p, uint32_t state[4]);

// MARK: - Optimizers over flat buffers (PyTorch's update rules)

/// Adam: m = b1 m + c1 g; v = b2 v + c2 g^2;
/// p -= (lr / bias1) * m / (sqrt(v) / sqrt(bias2) + eps), bias_k = 1 - b_k^step.
/// c_k = 1 - b_k is passed in, computed in double as PyTorch does (1 - 0.999f is not 0.001f).
void rnn_adam_step(long n, float *p, const float *g, float *m, float *v, float lr, float beta1,
                   float beta2, float c1, float c2, float eps, float bias1, float bias2);

/// RMSprop: v = alpha v + c g^2 (c = 1 - alpha, computed in double); p -= lr g / (sqrt(v) + eps).
void rnn_rmsprop_step(long n, float *p, const float *g, float *v, float lr, float alpha, float c,
                      float eps);

/// SGD with momentum: buf = momentum buf + g; p -= lr buf (buf unused when momentum == 0).
void rnn_sgd_step(long n, float *p, const float *g, float *buf, float lr, float momentum);

// MARK: - MPI (mpi.c)

/// Loads Open MPI's libmpi (`library`, a file name or path, or NULL for libmpi.so.40 then
/// libmpi.so) and initialises it (MPI_THREAD_FUNNELED): 0 with `rank` and `size` of MPI_COMM_WORLD
/// set, or -1 with a one-line reason in `error` (`capacity` bytes). Call once.
int rnn_mpi_init(const char *library, int *rank, int *size, char *error, long capacity);
/// Sums `count` floats in place across all ranks (MPI_Allreduce, MPI_SUM); MPI's status, 0 on success.
int rnn_mpi_sum_floats(float *buffer, long count);
/// Sums `count` doubles in place across all ranks; MPI's status, 0 on success.
int rnn_mpi_sum_doubles(double *buffer, long count);
/// Ends every rank of the job with exit status `code` (MPI_Abort). Does not return.
void rnn_mpi_abort(int code);
/// Leaves MPI (MPI_Finalize); every rank must call it.
void rnn_mpi_finalize(void);

// MARK: - Sums through shared memory (mpi_node.c)

/// Sets up rnn_mpi_node_sum for `count` floats; every rank must call it, once. Returns this rank's
/// buffer for them (64-byte aligned, in memory the ranks on its machine share, valid until
/// rnn_mpi_finalize) and the number of machines in `machines`; or NULL when the sums cannot go
/// this way: one rank on a machine, machines with different numbers of ranks, too little room in a
/// machine's /dev/shm (or Open MPI's osc_sm_backing_directory), or a libmpi without shared-memory
/// windows (then rnn_mpi_sum_floats).
float *rnn_mpi_node_sum_setup(long count, int *machines);
/// Replaces every rank's buffer from rnn_mpi_node_sum_setup with the element-wise sum of all ranks'
/// (on each machine added in local rank order, then across machines by MPI_Allreduce); every rank
/// must call it. MPI's status, 0 on success.
int rnn_mpi_node_sum(void);
/// Sets up the update that the ranks on each machine share, after rnn_mpi_node_sum_setup
/// succeeded: one copy of the `count` parameters for the machine, in memory its ranks share,
/// `values` (local rank 0's) copied there. Every rank must call it, once, with the same values.
/// Returns the machine's copy (64-byte aligned, valid until rnn_mpi_finalize) with `status` 0, or
/// NULL on every rank alike where it cannot (too little room in a machine's /dev/shm); a non-zero
/// `status` is MPI's error.
float *rnn_mpi_node_values_setup(const float *values, int *status);
/// This rank's part of the gradients and parameters, [lo, hi) of rnn_mpi_node_sum_setup's `count`:
/// local rank l of n has about [count l / n, count (l + 1) / n), on 64-byte boundaries.
void rnn_mpi_node_part(long *lo, long *hi);
/// Sums this rank's part (rnn_mpi_node_part) of every rank's buffer into this rank's own, as
/// rnn_mpi_node_sum does, but leaves the rest of the buffers as they are; every rank must call it.
/// It ends without a barrier: a rank may then change its own part, but the rest of its buffer only
/// once every rank has returned from it (after a collective call, or rnn_mpi_node_barrier).
/// MPI's status, 0 on success.
int rnn_mpi_node_reduce(void);
/// Returns once every rank on this machine has called it, their writes to the shared memory before
/// it seen by all reads after it. MPI's status, 0 on success.
int rnn_mpi_node_barrier(void);
/// After rnn_mpi_node_sum_setup: this rank among the ranks on its machine, their number, and its
/// machine's index among the machines (0 ..< machines) as the ranks of the same local rank order
/// them (by rank): so part l of the gradients has exactly one owner of each index.
void rnn_mpi_node_place(int *rank, int *size, int *machine);

// MARK: - Work shared through memory (mpi_share.c)

/// Longs that describe a task of rnn_mpi_share_publish (their meaning is the caller's).
#define RNN_SHARE_WORDS 5

/// Sets up the products the ranks on one machine share, each rank's operands in an area of
/// `floats` floats in memory the machine's ranks share; every rank must call it, once, with the
/// same `floats`, after rnn_mpi_node_sum_setup succeeded. Returns this rank's area (64-byte aligned,
/// valid until rnn_mpi_finalize), or NULL on every rank alike where it cannot: the sums do not go
/// through shared memory, or the areas do not fit a machine's /dev/shm.
float *rnn_mpi_share_setup(long floats);
/// The area of local rank `rank` (of this machine's ranks), as this process sees it.
float *rnn_mpi_share_area(int rank);
/// The gradients of local rank `rank` (rnn_mpi_node_sum_setup's buffer), as this process sees them.
float *rnn_mpi_share_gradients(int rank);
/// This process's rank among the ranks on its machine.
int rnn_mpi_share_rank(void);
/// Publishes this rank's task of `round` (1, 2, ... one per shared product; every rank publishes
/// each round once): `blocks` blocks (0: none to share), described by `words`
/// (RNN_SHARE_WORDS), its operands already in this rank's area.
void rnn_mpi_share_publish(int round, long blocks, const long *words);
/// Claims a block of `round`: this rank's own task's first, then the other ranks' in rank order,
/// waiting for those that have not published `round` yet (the seconds waited add to `idle`).
/// Returns 1 with the block's owner (local rank), its index and its task's words
/// (RNN_SHARE_WORDS), or 0 once every block of the round is claimed.
int rnn_mpi_share_claim(int round, int *owner, long *block, long *words, double *idle);

#ifdef __cplusplus
}
#endif

#endif
