import Foundation
import XCTest

/// `--precision` on the commands that run the batch-1 model, end to end.
final class PrecisionCommandLineTests: CommandLineTestCase {
  /// A small LSTM trained briefly, scored on held-out text: bf16 within 0.3% and int8 within 1%
  /// of fp32's bits per character (the targets of issue 15). Sample, visualize and bench run in
  /// each precision, and bench reports the precision and its kernel.
  func testEachPrecisionScoresCloseToFP32AndRuns() throws {
    let data = try write("sentences.txt", SentenceText(length: 12_000, seed: 8).text)
    let heldOut = try write("held-out.txt", SentenceText(length: 3_000, seed: 9).text)
    try rnnSucceeding([
      "train", "--data", data, "--checkpoint-dir", "run", "--max-steps", "150", "--layers", "2", "--hidden", "64",
      "--embedding", "16", "--seq-length", "25", "--batch-size", "8", "--learning-rate", "1e-2", "--threads", "1",
      "--print-every", "50", "--sample-length", "0",
    ])
    var bits: [String: Double] = [:]
    for precision in ["fp32", "bf16", "int8"] {
      let eval = try rnnSucceeding([
        "eval", "--checkpoint", "run/latest.safetensors", "--data", heldOut, "--json", "--precision", precision,
      ])
      let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])
      bits[precision] = try XCTUnwrap(json["bits_per_char"] as? Double, eval.stdout)

      let sample = try rnnSucceeding([
        "sample", "--checkpoint", "run/latest.safetensors", "--length", "50", "--seed", "1", "--precision", precision,
      ])
      XCTAssertGreaterThanOrEqual(sample.stdout.unicodeScalars.count, 50, sample.transcript)
      try rnnSucceeding([
        "visualize", "--checkpoint", "run/latest.safetensors", "--data", heldOut, "--out", "page-\(precision).html",
        "--characters", "200", "--precision", precision,
      ])
      let bench = try rnnSucceeding([
        "bench", "--hidden", "16", "--layers", "1", "--seq-length", "5", "--batch-size", "2", "--seconds", "0.01",
        "--json", "--precision", precision,
      ])
      let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any])
      XCTAssertEqual(report["precision"] as? String, precision, bench.stdout)
      XCTAssertTrue((report["sample_kernel"] as? String ?? "").hasPrefix(precision), bench.stdout)
    }
    let fp32 = try XCTUnwrap(bits["fp32"])
    XCTAssertLessThan(fp32, 2.5, "the model learned something")
    XCTAssertEqual(try XCTUnwrap(bits["bf16"]), fp32, accuracy: 0.003 * fp32, "bf16")
    XCTAssertEqual(try XCTUnwrap(bits["int8"]), fp32, accuracy: 0.01 * fp32, "int8")
  }

  func testUnknownPrecisionFailsCleanly() throws {
    try assertCleanFailure(
      ["sample", "--checkpoint", "x.safetensors", "--precision", "fp16"], mentioning: ["precision", "fp16"])
    try assertCleanFailure(
      ["sample", "--checkpoint", "x.safetensors", "--beam", "3", "--precision", "int8"], mentioning: ["beam", "int8"])
  }
}

/// `rnn train --precision bf16`, end to end.
final class BF16TrainCommandLineTests: CommandLineTestCase {
  /// A run in bf16 says which kernel runs its products; its fp32 checkpoint resumes in fp32, and
  /// that one in bf16 again.
  func testResumeInTheOtherPrecision() throws {
    let data = try write("sentences.txt", SentenceText(length: 6_000, seed: 4).text)
    let common = [
      "train", "--data", data, "--checkpoint-dir", "run", "--layers", "1", "--hidden", "32", "--embedding", "16",
      "--seq-length", "20", "--batch-size", "4", "--threads", "1", "--print-every", "10", "--eval-every", "10",
      "--sample-length", "0",
    ]
    let first = try rnnSucceeding(common + ["--max-steps", "10", "--precision", "bf16"])
    let bf16Available = !first.stdout.contains("Training in fp32")
    if bf16Available {
      XCTAssertTrue(first.stdout.contains("in bf16: oneDNN dnnl_gemm_bf16bf16f32"), first.transcript)
    } else {
      XCTAssertTrue(first.stdout.contains("AMX or AVX512-BF16") || first.stdout.contains("oneDNN"), first.transcript)
    }
    let second = try rnnSucceeding(
      common + ["--max-steps", "20", "--precision", "fp32", "--resume", "run/latest.safetensors"])
    XCTAssertFalse(second.stdout.contains("in bf16"), second.transcript)
    XCTAssertEqual(second.validationLosses.count, 1, second.transcript)
    let third = try rnnSucceeding(
      common + ["--max-steps", "30", "--precision", "bf16", "--resume", "run/latest.safetensors"])
    XCTAssertEqual(third.validationLosses.count, 1, third.transcript)
    XCTAssertLessThan(try XCTUnwrap(third.validationLosses.last?.loss), 4.0, third.transcript)
  }

  func testInt8TrainingIsRejected() throws {
    let data = try write("sentences.txt", SentenceText(length: 2_000, seed: 4).text)
    try assertCleanFailure(["train", "--data", data, "--precision", "int8"], mentioning: ["precision", "int8"])
  }
}
