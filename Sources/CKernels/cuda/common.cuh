// Shared by every kernel of the CUDA backend. Compiled at run time by NVRTC (no CUDA headers:
// everything here is built in). Tensors are row-major and time-major, as on the CPU path.

typedef unsigned long long u64;
#define NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

/// A uniform float in [0, 1) from a 64-bit counter: SplitMix64's finaliser, so that every
/// (seed, index) pair gets an independent draw without per-thread generator state.
__device__ __forceinline__ float uniform01(u64 seed, u64 index) {
  u64 z = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (float)(z >> 40) * (1.f / 16777216.f);
}

struct Add {
  template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

template <typename T, typename Op> __device__ __forceinline__ T warp_reduce(T v, Op op) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/// `v` reduced by `op` over the block (every thread gets it). `scratch` holds 32 values; the
/// block's size is a multiple of 32; `identity` is `op`'s neutral value.
template <typename T, typename Op> __device__ T block_reduce(T v, T *scratch, T identity, Op op) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_reduce(v, op);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return warp_reduce(lane < warps ? scratch[lane] : identity, op);
}

__device__ __forceinline__ float warp_sum(float v) { return warp_reduce(v, Add()); }
__device__ __forceinline__ float block_sum(float v, float *scratch) { return block_reduce(v, scratch, 0.f, Add()); }
__device__ __forceinline__ float block_max(float v, float *scratch) { return block_reduce(v, scratch, NEG_INF, Max()); }

#define GRID_STRIDE(i, n) for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < (n); i += (long)gridDim.x * blockDim.x)
