import Foundation
import XCTest

@testable import RNN

/// A checkpoint whose weights hold NaN or infinite values (flipped bytes, or a model saved from a
/// diverged run) is refused when it loads, naming the tensor, by every command that reads one;
/// so is a training state with such optimizer buffers. Before, `sample` printed newlines and
/// `eval` printed `nan nats/char`, both with exit 0.
final class DamagedCheckpointTests: CommandLineTestCase {
  /// Trains a tiny model for 2 steps into `ck/` and returns the text file it trained on.
  private func trainTiny() throws -> String {
    let data = try write("letters.txt", String(repeating: "abcdefghij", count: 100))
    try rnnSucceeding([
      "train", "--data", data, "--checkpoint-dir", "ck", "--max-steps", "2", "--layers", "1", "--hidden", "8",
      "--embedding", "4", "--seq-length", "25", "--batch-size", "2", "--val-fraction", "0.1", "--test-fraction", "0",
      "--threads", "1", "--sample-length", "0",
    ])
    return data
  }

  /// Rewrites the safetensors file `path` (in the test folder) with element `index` of tensor
  /// `name` set to `value`, everything else as it was.
  private func damage(_ path: String, tensor name: String, index: Int = 3, value: Float) throws {
    var file = try SafeTensors(contentsOf: folder + "/" + path)
    let position = try XCTUnwrap(file.tensors.firstIndex { $0.name == name }, "no tensor \(name) in \(path)")
    file.tensors[position].tensor.scalars[index] = value
    try file.write(to: folder + "/" + path)
  }

  func testNonFiniteWeightsAreNamedBySampleEvalVisualizeAndTraining() throws {
    let data = try trainTiny()
    try FileManager.default.copyItem(atPath: folder + "/ck/latest.safetensors", toPath: folder + "/nan.safetensors")
    try damage("nan.safetensors", tensor: "rnn.weight_hh_l0", value: .nan)
    try FileManager.default.copyItem(atPath: folder + "/ck/latest.safetensors", toPath: folder + "/inf.safetensors")
    try damage("inf.safetensors", tensor: "decoder.bias", index: 0, value: -.infinity)

    let nan = ["nan.safetensors", "rnn.weight_hh_l0", "NaN or infinite"]
    try assertCleanFailure(["sample", "--checkpoint", "nan.safetensors", "--length", "20"], mentioning: nan)
    try assertCleanFailure(["sample", "--checkpoint", "nan.safetensors", "--beam", "2", "--length", "5"], mentioning: nan)
    try assertCleanFailure(["eval", "--checkpoint", "nan.safetensors", "--data", data], mentioning: nan)
    try assertCleanFailure(["eval", "--checkpoint", "inf.safetensors", "--data", data, "--json"], mentioning: ["decoder.bias", "1 NaN or infinite value (of"])
    try assertCleanFailure(
      ["visualize", "--checkpoint", "nan.safetensors", "--data", data, "--out", "page.html"], mentioning: nan)
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/page.html"))
    try assertCleanFailure(
      ["train", "--data", data, "--init-from", "inf.safetensors", "--checkpoint-dir", "fresh", "--max-steps", "1"],
      mentioning: ["inf.safetensors", "decoder.bias"])

    // The same damage in the run's own latest checkpoint: --resume names it (it used to say the
    // training diverged and to lower the learning rate).
    try damage("ck/latest.safetensors", tensor: "embedding.weight", value: .infinity)
    try assertCleanFailure(
      ["train", "--resume", "ck/latest.safetensors", "--data", data, "--checkpoint-dir", "ck", "--max-steps", "4"],
      mentioning: ["latest.safetensors", "embedding.weight", "NaN or infinite"])
  }

  func testNonFiniteOptimizerStateIsNamedOnResume() throws {
    let data = try trainTiny()
    let state = try SafeTensors(contentsOf: folder + "/ck/latest.training.safetensors")
    let buffer = try XCTUnwrap(state.tensors.first { $0.name.hasPrefix("optimizer.") }?.name, "\(state.tensors.map(\.name))")
    try damage("ck/latest.training.safetensors", tensor: buffer, value: .nan)
    try assertCleanFailure(
      ["train", "--resume", "ck/latest.safetensors", "--data", data, "--checkpoint-dir", "ck", "--max-steps", "4"],
      mentioning: ["latest.training.safetensors", buffer, "NaN or infinite"])
  }

  /// Finite weights whose products overflow: every gate saturated open (so each `h` is about
  /// tanh of the step count) and decoder weights of 3e38, so every logit is infinite. Sampling
  /// and scoring stop with a message instead of printing noise with exit 0.
  func testOverflowingWeightsStopSamplingScoringAndVisualizing() throws {
    let data = try trainTiny()
    var file = try SafeTensors(contentsOf: folder + "/ck/latest.safetensors")
    for (name, value) in [("rnn.bias_ih_l0", Float(1e30)), ("decoder.weight", 3e38)] {
      let index = try XCTUnwrap(file.tensors.firstIndex { $0.name == name })
      let count = file.tensors[index].tensor.count
      file.tensors[index].tensor.scalars = [Float](repeating: value, count: count)
    }
    try file.write(to: folder + "/overflow.safetensors")
    let message = ["not finite", "overflow"]
    try assertCleanFailure(["sample", "--checkpoint", "overflow.safetensors", "--length", "20"], mentioning: message)
    try assertCleanFailure(["eval", "--checkpoint", "overflow.safetensors", "--data", data], mentioning: message)
    try assertCleanFailure(
      ["visualize", "--checkpoint", "overflow.safetensors", "--data", data, "--out", "page.html"], mentioning: message)
    let interactive = try rnn(["sample", "--checkpoint", "overflow.safetensors", "--interactive"], input: "abc\n")
    XCTAssertEqual(interactive.status, 0, interactive.transcript)
    XCTAssertTrue(interactive.stdout.contains("the model's outputs are not finite"), interactive.transcript)
  }

  /// A device or a pipe as the checkpoint: refused at once (/dev/zero was read for ever, and a
  /// pipe with no writer blocked).
  func testDevicesAndPipesAreNotCheckpoints() throws {
    let data = try write("letters.txt", String(repeating: "abcdefghij", count: 10))
    XCTAssertEqual(mkfifo(folder + "/pipe", 0o600), 0)
    for path in ["/dev/zero", "pipe"] {
      try assertCleanFailure(["sample", "--checkpoint", path], mentioning: [path, "not a regular file"])
      try assertCleanFailure(["eval", "--checkpoint", path, "--data", data], mentioning: [path, "not a regular file"])
    }
  }

  func testLibraryReportsTheTensorAndTheCount() throws {
    _ = try trainTiny()
    var file = try SafeTensors(contentsOf: folder + "/ck/latest.safetensors")
    let position = try XCTUnwrap(file.tensors.firstIndex { $0.name == "decoder.weight" })
    file.tensors[position].tensor.scalars[0] = .nan
    file.tensors[position].tensor.scalars[5] = .infinity
    let total = file.tensors[position].tensor.count
    XCTAssertThrowsError(try Checkpoint(file, path: "x")) { error in
      XCTAssertEqual(error as? CheckpointError, .nonFinite(path: "x", name: "decoder.weight", count: 2, total: total))
    }
    file.tensors[position].tensor.scalars[0] = 0
    file.tensors[position].tensor.scalars[5] = -Float.greatestFiniteMagnitude  // finite: accepted
    XCTAssertNoThrow(try Checkpoint(file, path: "x"))
  }
}
