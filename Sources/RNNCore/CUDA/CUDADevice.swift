import CKernels

#if canImport(Glibc)
  import Glibc
#endif

/// Where a model's arithmetic runs: `rnn --device cpu|cuda`.
public enum ComputeDevice: String, CaseIterable, Sendable {
  case cpu
  /// The first NVIDIA GPU, through CUDA libraries found at run time (see `CUDADevice`).
  case cuda
}

/// Why the GPU path could not do something, in one line (what is missing, or what failed).
public struct CUDAError: Error, Equatable, Sendable, CustomStringConvertible {
  public let description: String

  init(_ message: [CChar]) { description = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }

  package init(_ message: String) { description = message }
}

/// Calls a C function of rnn_cuda.h with an error buffer; throws its message if it fails.
func cudaCall(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws(CUDAError) {
  var message = [CChar](repeating: 0, count: 1024)
  let status = message.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
  if status != 0 { throw CUDAError(message) }
}

/// Calls a C constructor of rnn_cuda.h with an error buffer; throws its message if it returns null.
func cudaMake(_ body: (UnsafeMutablePointer<CChar>, Int) -> OpaquePointer?) throws(CUDAError) -> OpaquePointer {
  var message = [CChar](repeating: 0, count: 1024)
  guard let made = message.withUnsafeMutableBufferPointer({ body($0.baseAddress!, $0.count) }) else {
    throw CUDAError(message)
  }
  return made
}

/// The GPU: found and opened at run time, with nothing CUDA needed at build time. The driver
/// (`libcuda.so.1`), NVRTC and cuBLAS are loaded with `dlopen` from the folders in
/// `RNN_CUDA_PATH`, the system library path, or the `nvidia/*/lib` folders of a Python
/// environment's PyPI wheels (`nvidia-cuda-nvrtc`, `nvidia-cublas`). The kernels (CUDA C in
/// `Sources/CKernels/cuda`) are compiled by NVRTC for the GPU present and cached under
/// `~/.cache/swift-rnn` (or `RNN_CUDA_CACHE`).
public final class CUDADevice: @unchecked Sendable {
  let handle: OpaquePointer

  private init(handle: OpaquePointer) { self.handle = handle }

  /// The first GPU, opened once per process. Throws naming what is missing (the driver, a GPU,
  /// NVRTC, cuBLAS) or what failed.
  public static func open() throws(CUDAError) -> CUDADevice {
    let folder = getenvString("RNN_CUDA_PATH")
    return CUDADevice(handle: try cudaMake { rnn_gpu_open(folder, $0, $1) })
  }

  /// "NVIDIA H200 (sm_90, 132 multiprocessors), CUDA driver 13.0, cuBLAS 13.1.0".
  public var description: String { String(cString: rnn_gpu_description(handle)) }

  /// Whether training's matrix products may use TF32 tensor cores, as PyTorch's cuDNN RNNs do by
  /// default (and so does this unless the environment has `RNN_CUDA_TF32=0`). Scoring and
  /// sampling always use full float32.
  public func allowTF32(_ allowed: Bool) { rnn_gpu_set_tf32(handle, allowed ? 1 : 0) }

  /// Compiles every kernel with NVRTC for `architecture` (e.g. "sm_90"), without a GPU; returns
  /// the compiled code's size. Throws NVRTC's log, or that NVRTC was not found.
  public static func compileKernels(for architecture: String) throws(CUDAError) -> Int {
    var bytes = 0
    try cudaCall { rnn_gpu_compile_kernels(getenvString("RNN_CUDA_PATH"), architecture, &bytes, $0, $1) }
    return bytes
  }
}

func getenvString(_ name: String) -> String? {
  guard let value = getenv(name) else { return nil }
  return String(cString: value)
}
