import Foundation
import RNN
import XCTest

/// The CUDA backend on a machine without a GPU: every kernel compiles through NVRTC (the PyPI
/// wheel `nvidia-cuda-nvrtc` needs no GPU), and `--device cuda` fails at once, in one line,
/// naming what is missing. The GPU's own checks are `Scripts/gpu-check`.
final class CUDAKernelCompilationTests: XCTestCase {
  /// NVRTC's result for `architecture`; skips the test where NVRTC is not installed.
  private func compile(for architecture: String) throws -> Result<Int, CUDAError> {
    let result = Result { () throws(CUDAError) in try CUDADevice.compileKernels(for: architecture) }
    if case .failure(let error) = result, error.description.contains("not found") {
      throw XCTSkip("NVRTC is not installed here (pip install nvidia-cuda-nvrtc): \(error)")
    }
    return result
  }

  func testEveryKernelCompilesForAmpereAndHopper() throws {
    for architecture in ["sm_80", "sm_90"] {
      let bytes = try compile(for: architecture).get()
      XCTAssertGreaterThan(bytes, 100_000, "a cubin of every kernel for \(architecture)")
    }
  }

  func testACompilationErrorIsOneLineWithNVRTCsLog() throws {
    guard case .failure(let error) = try compile(for: "sm_1") else {
      return XCTFail("NVRTC compiled for an architecture that does not exist")
    }
    XCTAssertTrue(error.description.contains("could not compile the kernels for sm_1"), error.description)
    XCTAssertFalse(error.description.contains("\n"))
  }
}

final class CUDADeviceOptionTests: CommandLineTestCase {
  /// Every command that runs a model refuses `--device cuda` within seconds, with one line that
  /// names the missing driver, before it reads any file.
  func testEveryCommandFailsFastWithoutAGPU() throws {
    if (try? CUDADevice.open()) != nil { throw XCTSkip("this machine has a GPU") }
    let commands: [[String]] = [
      ["train", "--max-steps", "1", "--data", "missing.txt"],
      ["sample", "--checkpoint", "missing.safetensors"],
      ["eval", "--checkpoint", "missing.safetensors", "--data", "missing.txt"],
      ["visualize", "--checkpoint", "missing.safetensors", "--data", "missing.txt", "--out", "page.html"],
      ["bench", "--seconds", "1"],
    ]
    var environment = ProcessInfo.processInfo.environment
    environment["RNN_CUDA_PATH"] = folder
    for command in commands {
      let start = Date()
      let result = try rnn(command + ["--device", "cuda"], environment: environment)
      XCTAssertEqual(result.status, 1, "\(command[0]): \(result.stderr)")
      let lines = result.stderr.split(separator: "\n")
      XCTAssertEqual(lines.count, 1, "\(command[0]): \(result.stderr)")
      XCTAssertTrue(result.stderr.contains("--device cuda: no CUDA driver: libcuda.so.1 not found"), result.stderr)
      XCTAssertLessThan(Date().timeIntervalSince(start), 10, command[0])
    }
  }

  /// The GPU runs fp32 models; a CPU-only precision is refused before anything runs.
  func testCPUPrecisionsAreRefusedOnTheGPU() throws {
    let result = try rnn(["eval", "--device", "cuda", "--precision", "int8", "--checkpoint", "x", "--data", "y"])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.stderr.contains("--precision int8 is for the CPU"), result.stderr)
    let training = try rnn(["train", "--device", "cuda", "--precision", "bf16", "--data", "y"])
    XCTAssertNotEqual(training.status, 0)
    XCTAssertTrue(training.stderr.contains("--precision bf16 is for CPU training"), training.stderr)
  }
}
