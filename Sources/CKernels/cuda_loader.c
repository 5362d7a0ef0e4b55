// Finding and opening the GPU at run time: the driver (libcuda.so.1), NVRTC and cuBLAS through
// dlopen, searched in the folder the caller names ($RNN_CUDA_PATH from the command line), the
// system library path, the `nvidia/*/lib` folders of Python environments (the PyPI wheels
// nvidia-cuda-nvrtc and nvidia-cublas: the active virtual environment, each `python3` on PATH,
// ~/.local, /usr/local and /usr), and /usr/local/cuda and /usr/local/nvidia. Then the kernels,
// compiled by NVRTC for this GPU and cached.
#define _GNU_SOURCE
#include "cuda_internal.h"

#include <dlfcn.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wc23-extensions"
/// Every kernel's source, in one translation unit.
static const char kernel_source[] = {
#embed "cuda/common.cuh"
    , '\n',
#embed "cuda/cells.cu"
    , '\n',
#embed "cuda/language_model.cu"
    , '\n',
#embed "cuda/sampler.cu"
    , '\n', 0};
#pragma clang diagnostic pop

static const char *const kernel_names[K_COUNT] = {
    "lstm_forward", "lstm_backward", "gru_forward", "gru_backward", "rnn_forward", "rnn_backward",
    "embedding_gather", "embedding_scatter", "dropout_forward", "multiply_in_place", "softmax_cross_entropy",
    "partial_sums", "finish_step", "clamp_gradients", "adam_update", "rmsprop_update", "sgd_update", "carry_state",
    "sample_persistent"};

int rnn_cuda_fail(char *error, size_t size, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(error, size, format, args);
  va_end(args);
  return 1;
}

// MARK: - Finding the libraries

#define MAX_FOLDERS 64

/// The folders searched after the caller's and before the system path: Python environments'
/// `nvidia/*/lib`.
static int python_folders(char folders[][PATH_MAX], int room) {
  char prefixes[16][PATH_MAX];
  int count = 0;
  const char *venv = getenv("VIRTUAL_ENV");
  if (venv && *venv) snprintf(prefixes[count++], PATH_MAX, "%s", venv);
  const char *path = getenv("PATH");
  if (path) {
    char copy[8192];
    snprintf(copy, sizeof copy, "%s", path);
    for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir && count < 12; dir = strtok_r(NULL, ":", &save)) {
      char python[PATH_MAX];
      snprintf(python, sizeof python, "%s/python3", dir);
      if (access(python, X_OK) == 0) snprintf(prefixes[count++], PATH_MAX, "%s/..", dir);
    }
  }
  const char *home = getenv("HOME");
  if (home) snprintf(prefixes[count++], PATH_MAX, "%s/.local", home);
  snprintf(prefixes[count++], PATH_MAX, "/usr/local");
  snprintf(prefixes[count++], PATH_MAX, "/usr");
  int found = 0;
  for (int p = 0; p < count && found < room; p++) {
    const char *patterns[] = {"%s/lib/python3*/site-packages/nvidia/*/lib", "%s/lib/python3*/dist-packages/nvidia/*/lib",
                              "%s/lib/python3/dist-packages/nvidia/*/lib"};
    for (size_t k = 0; k < sizeof patterns / sizeof *patterns; k++) {
      char pattern[PATH_MAX + 64];
      snprintf(pattern, sizeof pattern, patterns[k], prefixes[p]);
      glob_t g;
      if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && found < room; i++) snprintf(folders[found++], PATH_MAX, "%s", g.gl_pathv[i]);
      }
      globfree(&g);
    }
  }
  return found;
}

/// Opens the first of `names` found: in `folder` (may be null or ":"-separated), then by the
/// system's search, then in the Python environments. Libraries beside it matching `companion`
/// (e.g. cuBLASLt beside cuBLAS) are loaded first, globally, so the library finds them.
static void *open_library(const char *folder, const char *const *names, int name_count, const char *companion) {
  char folders[MAX_FOLDERS][PATH_MAX];
  int count = 0;
  if (folder && *folder) {
    char copy[PATH_MAX * 4];
    snprintf(copy, sizeof copy, "%s", folder);
    for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir && count < 8; dir = strtok_r(NULL, ":", &save))
      snprintf(folders[count++], PATH_MAX, "%s", dir);
  }
  int system_index = count;
  snprintf(folders[count++], PATH_MAX, "%s", "");  // the system's search
  count += python_folders(folders + count, MAX_FOLDERS - 3 - count);
  // Where the toolkit and container drivers usually are, when not on the library path.
  const char *usual[] = {"/usr/local/cuda/lib64", "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib"};
  for (int i = 0; i < 3; i++) snprintf(folders[count++], PATH_MAX, "%s", usual[i]);
  for (int f = 0; f < count; f++) {
    for (int n = 0; n < name_count; n++) {
      char path[PATH_MAX + 64];
      if (f == system_index) {
        snprintf(path, sizeof path, "%s", names[n]);
      } else {
        snprintf(path, sizeof path, "%s/%s", folders[f], names[n]);
        if (access(path, R_OK) != 0) continue;
        if (companion) {
          char pattern[PATH_MAX + 64];
          snprintf(pattern, sizeof pattern, "%s/%s", folders[f], companion);
          glob_t g;
          if (glob(pattern, 0, NULL, &g) == 0)
            for (size_t i = 0; i < g.gl_pathc; i++) dlopen(g.gl_pathv[i], RTLD_NOW | RTLD_GLOBAL);
          globfree(&g);
        }
      }
      void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
      if (library) return library;
    }
  }
  return NULL;
}

static const char *const driver_names[] = {"libcuda.so.1", "libcuda.so"};
static const char *const nvrtc_names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
static const char *const cublas_names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};

#define WHERE "the system library path, RNN_CUDA_PATH or a Python environment's nvidia/*/lib"

// MARK: - NVRTC

typedef struct {
  int (*nvrtcVersion)(int *, int *);
  int (*nvrtcCreateProgram)(void **, const char *, const char *, int, const char *const *, const char *const *);
  int (*nvrtcCompileProgram)(void *, int, const char *const *);
  int (*nvrtcGetProgramLogSize)(void *, size_t *);
  int (*nvrtcGetProgramLog)(void *, char *);
  int (*nvrtcGetCUBINSize)(void *, size_t *);
  int (*nvrtcGetCUBIN)(void *, char *);
  int (*nvrtcDestroyProgram)(void **);
} rnn_nvrtc;

/// Fills `table`, a struct of function pointers in the order of `names`, from `library`.
static int load_symbols(void *library, const char *const *names, size_t count, void *table, const char *what,
                        char *error, size_t size) {
  void **slots = table;
  for (size_t i = 0; i < count; i++)
    if (!(slots[i] = dlsym(library, names[i]))) return rnn_cuda_fail(error, size, "%s lacks %s", what, names[i]);
  return 0;
}

#define LOAD_ALL(library, names, table, what)                                                   \
  _Static_assert(sizeof(names) / sizeof *(names) * sizeof(void *) == sizeof(table), "names"); \
  return load_symbols(library, names, sizeof(names) / sizeof *(names), &(table), what, error, size)

static const char *const nvrtc_symbols[] = {
    "nvrtcVersion",       "nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcGetProgramLogSize",
    "nvrtcGetProgramLog", "nvrtcGetCUBINSize",  "nvrtcGetCUBIN",       "nvrtcDestroyProgram"};

static int load_nvrtc(const char *folder, rnn_nvrtc *nvrtc, char *error, size_t size) {
  void *library = open_library(folder, nvrtc_names, 3, "libnvrtc-builtins.so*");
  if (!library)
    return rnn_cuda_fail(error, size, "NVRTC (libnvrtc.so.13 or .12) not found in " WHERE
                                      " (pip install nvidia-cuda-nvrtc)");
  LOAD_ALL(library, nvrtc_symbols, *nvrtc, "NVRTC");
}

static uint64_t fnv1a(uint64_t hash, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) hash = (hash ^ p[i]) * 0x100000001b3ull;
  return hash;
}

/// The cache file for this source, architecture and NVRTC version:
/// $RNN_CUDA_CACHE, else $XDG_CACHE_HOME/swift-rnn, else ~/.cache/swift-rnn.
static int cache_path(char *path, size_t n, const char *arch, int major, int minor) {
  char folder[PATH_MAX];
  const char *explicit = getenv("RNN_CUDA_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (explicit && *explicit) snprintf(folder, sizeof folder, "%s", explicit);
  else if (xdg && *xdg) snprintf(folder, sizeof folder, "%s/swift-rnn", xdg);
  else if (home && *home) snprintf(folder, sizeof folder, "%s/.cache/swift-rnn", home);
  else return 0;
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", folder);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = 0;
    mkdir(parent, 0755);
  }
  mkdir(folder, 0755);
  uint64_t hash = fnv1a(0xcbf29ce484222325ull, kernel_source, sizeof kernel_source);
  int version[2] = {major, minor};
  hash = fnv1a(hash, version, sizeof version);
  snprintf(path, n, "%s/kernels-%016llx-%s.cubin", folder, (unsigned long long)hash, arch);
  return 1;
}

/// The kernels compiled for `arch` (malloc'd, `*bytes` long): from the cache, or by NVRTC (then
/// cached, written atomically; a cache that cannot be written is skipped).
static char *compile(const rnn_nvrtc *nvrtc, const char *arch, int use_cache, size_t *bytes, char *error, size_t size) {
  int major = 0, minor = 0;
  nvrtc->nvrtcVersion(&major, &minor);
  char path[PATH_MAX + 64];
  int cached = use_cache && cache_path(path, sizeof path, arch, major, minor);
  if (cached) {
    FILE *file = fopen(path, "rb");
    if (file) {
      fseek(file, 0, SEEK_END);
      long n = ftell(file);
      fseek(file, 0, SEEK_SET);
      char *code = n > 0 ? malloc((size_t)n) : NULL;
      if (code && fread(code, 1, (size_t)n, file) == (size_t)n) {
        fclose(file);
        *bytes = (size_t)n;
        return code;
      }
      free(code);
      fclose(file);
    }
  }
  void *program = NULL;
  if (nvrtc->nvrtcCreateProgram(&program, kernel_source, "swift_rnn_kernels.cu", 0, NULL, NULL) != 0) {
    rnn_cuda_fail(error, size, "NVRTC could not create the kernels' program");
    return NULL;
  }
  char gpu_arch[64];
  snprintf(gpu_arch, sizeof gpu_arch, "--gpu-architecture=%s", arch);
  const char *options[] = {gpu_arch, "--std=c++17", "-lineinfo"};
  int status = nvrtc->nvrtcCompileProgram(program, 3, options);
  if (status != 0) {
    size_t log_size = 0;
    nvrtc->nvrtcGetProgramLogSize(program, &log_size);
    char *log = malloc(log_size + 1);
    log[0] = 0;
    nvrtc->nvrtcGetProgramLog(program, log);
    for (char *c = log; *c; c++)
      if (*c == '\n') *c = ' ';
    rnn_cuda_fail(error, size, "NVRTC %d.%d could not compile the kernels for %s: %s", major, minor, arch, log);
    free(log);
    nvrtc->nvrtcDestroyProgram(&program);
    return NULL;
  }
  size_t n = 0;
  nvrtc->nvrtcGetCUBINSize(program, &n);
  char *code = malloc(n);
  nvrtc->nvrtcGetCUBIN(program, code);
  nvrtc->nvrtcDestroyProgram(&program);
  *bytes = n;
  if (cached) {
    char temporary[PATH_MAX + 96];
    snprintf(temporary, sizeof temporary, "%s.%d.tmp", path, (int)getpid());
    FILE *file = fopen(temporary, "wb");
    if (file) {
      int ok = fwrite(code, 1, n, file) == n;
      ok = fclose(file) == 0 && ok;
      if (!ok || rename(temporary, path) != 0) unlink(temporary);
    }
  }
  return code;
}

int rnn_gpu_compile_kernels(const char *folder, const char *arch, size_t *bytes, char *error, size_t size) {
  rnn_nvrtc nvrtc;
  if (load_nvrtc(folder, &nvrtc, error, size)) return 1;
  char *code = compile(&nvrtc, arch, 0, bytes, error, size);
  if (!code) return 1;
  free(code);
  return 0;
}

// MARK: - Opening the GPU

int rnn_cuda_check(const rnn_gpu *gpu, CUresult result, const char *what, char *error, size_t size) {
  if (result == 0) return 0;
  const char *message = NULL;
  if (gpu->cu.cuGetErrorString) gpu->cu.cuGetErrorString(result, &message);
  return rnn_cuda_fail(error, size, "%s failed: %s (CUDA error %d)", what, message ? message : "unknown error", result);
}

/// In the order of `rnn_cuda_driver`'s fields (the exported, versioned names).
static const char *const driver_symbols[] = {
    "cuInit", "cuDriverGetVersion", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetName", "cuDeviceGetAttribute",
    "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent", "cuGetErrorString", "cuModuleLoadData", "cuModuleGetFunction",
    "cuFuncSetAttribute", "cuOccupancyMaxActiveBlocksPerMultiprocessor", "cuLaunchKernel",
    "cuLaunchCooperativeKernel", "cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2",
    "cuMemcpyDtoDAsync_v2", "cuMemsetD8Async", "cuStreamCreate", "cuStreamSynchronize", "cuStreamBeginCapture_v2",
    "cuStreamEndCapture", "cuGraphInstantiateWithFlags", "cuGraphLaunch", "cuGraphDestroy", "cuGraphExecDestroy"};

static int load_driver(const char *folder, rnn_cuda_driver *cu, char *error, size_t size) {
  void *library = open_library(folder, driver_names, 2, NULL);
  if (!library)
    return rnn_cuda_fail(error, size, "no CUDA driver: libcuda.so.1 not found in the system library path or "
                                      "RNN_CUDA_PATH (is there an NVIDIA GPU with its driver?)");
  LOAD_ALL(library, driver_symbols, *cu, "the CUDA driver");
}

/// In the order of `rnn_cublas`'s fields.
static const char *const cublas_symbols[] = {
    "cublasCreate_v2", "cublasGetVersion_v2", "cublasSetStream_v2", "cublasSetMathMode", "cublasSetWorkspace_v2",
    "cublasSgemm_v2", "cublasSgemv_v2"};

static int load_cublas(const char *folder, rnn_cublas *blas, char *error, size_t size) {
  void *library = open_library(folder, cublas_names, 3, "libcublasLt.so*");
  if (!library)
    return rnn_cuda_fail(error, size, "cuBLAS (libcublas.so.13 or .12) not found in " WHERE
                                      " (pip install nvidia-cublas)");
  LOAD_ALL(library, cublas_symbols, *blas, "cuBLAS");
}

enum {
  ATTRIBUTE_MULTIPROCESSORS = 16,
  ATTRIBUTE_MAJOR = 75,
  ATTRIBUTE_MINOR = 76,
  ATTRIBUTE_COOPERATIVE_LAUNCH = 95,
  ATTRIBUTE_SHARED_OPTIN = 97,
};

#define CHECK(call, what) \
  if (rnn_cuda_check(gpu, (call), what, error, size)) goto fail

static rnn_gpu *open_gpu(const char *folder, char *error, size_t size) {
  rnn_gpu *gpu = calloc(1, sizeof *gpu);
  char *code = NULL;
  if (load_driver(folder, &gpu->cu, error, size)) goto fail;
  rnn_cuda_driver *cu = &gpu->cu;
  CHECK(cu->cuInit(0), "cuInit");
  int count = 0;
  CHECK(cu->cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (count == 0) {
    rnn_cuda_fail(error, size, "no CUDA device: the driver is there but sees no GPU");
    goto fail;
  }
  CHECK(cu->cuDeviceGet(&gpu->device, 0), "cuDeviceGet");
  int cooperative = 0;
  CHECK(cu->cuDeviceGetAttribute(&gpu->multiprocessors, ATTRIBUTE_MULTIPROCESSORS, gpu->device), "cuDeviceGetAttribute");
  CHECK(cu->cuDeviceGetAttribute(&gpu->major, ATTRIBUTE_MAJOR, gpu->device), "cuDeviceGetAttribute");
  CHECK(cu->cuDeviceGetAttribute(&gpu->minor, ATTRIBUTE_MINOR, gpu->device), "cuDeviceGetAttribute");
  CHECK(cu->cuDeviceGetAttribute(&gpu->shared_optin, ATTRIBUTE_SHARED_OPTIN, gpu->device), "cuDeviceGetAttribute");
  CHECK(cu->cuDeviceGetAttribute(&cooperative, ATTRIBUTE_COOPERATIVE_LAUNCH, gpu->device), "cuDeviceGetAttribute");
  if (!cooperative) {
    rnn_cuda_fail(error, size, "the GPU does not support cooperative launches (needed for sampling)");
    goto fail;
  }
  char name[200] = "GPU";
  cu->cuDeviceGetName(name, sizeof name, gpu->device);
  CHECK(cu->cuDevicePrimaryCtxRetain(&gpu->context, gpu->device), "cuDevicePrimaryCtxRetain");
  CHECK(cu->cuCtxSetCurrent(gpu->context), "cuCtxSetCurrent");
  CHECK(cu->cuStreamCreate(&gpu->stream, 1 /* non-blocking */), "cuStreamCreate");

  rnn_nvrtc nvrtc;
  if (load_nvrtc(folder, &nvrtc, error, size)) goto fail;
  char arch[16];
  snprintf(arch, sizeof arch, "sm_%d%d", gpu->major, gpu->minor);
  size_t bytes = 0;
  code = compile(&nvrtc, arch, 1, &bytes, error, size);
  if (!code) goto fail;
  CUmodule module;
  CHECK(cu->cuModuleLoadData(&module, code), "loading the compiled kernels");
  for (int k = 0; k < K_COUNT; k++) CHECK(cu->cuModuleGetFunction(&gpu->kernels[k], module, kernel_names[k]), kernel_names[k]);
  free(code);
  code = NULL;

  if (load_cublas(folder, &gpu->blas, error, size)) goto fail;
  if (gpu->blas.cublasCreate(&gpu->cublas) != 0) {
    rnn_cuda_fail(error, size, "cublasCreate failed (out of GPU memory?)");
    goto fail;
  }
  gpu->blas.cublasSetStream(gpu->cublas, gpu->stream);
  size_t workspace = 32u << 20;
  if (!(gpu->workspace = rnn_cuda_alloc(gpu, workspace, error, size))) goto fail;
  gpu->blas.cublasSetWorkspace(gpu->cublas, (void *)gpu->workspace, workspace);
  gpu->blas.cublasSetMathMode(gpu->cublas, 0);
  const char *tf32 = getenv("RNN_CUDA_TF32");
  gpu->tf32 = !(tf32 && tf32[0] == '0');

  int driver = 0, cublas_version = 0;
  cu->cuDriverGetVersion(&driver);
  gpu->blas.cublasGetVersion(gpu->cublas, &cublas_version);
  snprintf(gpu->description, sizeof gpu->description, "%s (%s, %d multiprocessors), CUDA driver %d.%d, cuBLAS %d.%d.%d",
           name, arch, gpu->multiprocessors, driver / 1000, driver % 1000 / 10, cublas_version / 10000,
           cublas_version % 10000 / 100, cublas_version % 100);
  return gpu;
fail:
  free(code);
  free(gpu);
  return NULL;
}

static struct {
  pthread_mutex_t lock;
  rnn_gpu *gpu;
} opened = {PTHREAD_MUTEX_INITIALIZER, NULL};

rnn_gpu *rnn_gpu_open(const char *folder, char *error, size_t size) {
  pthread_mutex_lock(&opened.lock);
  if (!opened.gpu) opened.gpu = open_gpu(folder, error, size);
  rnn_gpu *gpu = opened.gpu;
  pthread_mutex_unlock(&opened.lock);
  if (gpu) gpu->cu.cuCtxSetCurrent(gpu->context);
  return gpu;
}

const char *rnn_gpu_description(const rnn_gpu *gpu) { return gpu->description; }

void rnn_gpu_set_tf32(rnn_gpu *gpu, int allowed) { gpu->tf32 = allowed; }
