import ArgumentParser
import RNN

extension ComputeDevice: ExpressibleByArgument {}

/// `--device` of the commands that run a model (train, sample, eval, visualize, bench).
struct DeviceOption: ParsableArguments {
  @Option(
    help: """
      Where the model runs: cpu, or cuda (the first NVIDIA GPU; the CUDA driver, NVRTC and cuBLAS \
      are found at run time in the system library path, RNN_CUDA_PATH or a Python environment's \
      nvidia-* wheels).
      """)
  var device: ComputeDevice = .cpu

  /// The GPU with `--device cuda`, nil on the CPU. Throws one line naming what is missing.
  func open() throws -> CUDADevice? {
    guard device == .cuda else { return nil }
    return try onGPU { () throws(CUDAError) in try CUDADevice.open() }
  }

  /// Refuses `--precision` other than fp32 on the GPU, which runs in float32.
  func check(_ precision: Precision) throws {
    guard device == .cuda, precision != .fp32 else { return }
    throw ValidationError("--precision \(precision.rawValue) is for the CPU; on --device cuda the model runs in fp32")
  }
}

/// Runs GPU work, turning its error into a one-line failure that says it came from the GPU.
func onGPU<T>(_ body: () throws(CUDAError) -> T) throws -> T {
  do { return try body() } catch { throw Failure("--device cuda: \(error)") }
}

/// A batch-1 sampler of `model`: on `gpu` when given (fp32), else on the CPU in `precision`.
func makeSampler(_ model: CharLM, precision: Precision, gpu: CUDADevice?) throws -> any TextSampler {
  guard let gpu else { return Sampler(model: model, precision: precision) }
  return try onGPU { () throws(CUDAError) in try CUDASampler(model: model, on: gpu) }
}
