import Foundation
import XCTest

@testable import RNN

/// `--encoding bytes` end to end: a corpus that is not UTF-8 (ill-formed sequences, NUL bytes)
/// trains, the checkpoint records the encoding, `sample` writes raw bytes, `eval`, `visualize`,
/// `--resume` and `--init-from` read bytes; UTF-8 checkpoints without the encoding entry still load,
/// and text that is not UTF-8 gets an error that offers the byte mode. Tiny models, a few seconds.
final class ByteLevelTests: CommandLineTestCase {
  /// Eight bytes that are no UTF-8 text: NUL, 0xFF, a lead byte without its continuation, a lone
  /// continuation byte.
  private static let pattern: [UInt8] = [0x00, 0xFF, 0x41, 0x42, 0xC3, 0x0A, 0xFE, 0x80]

  private func trainArguments(_ data: String, _ dir: String, steps: Int, _ extra: [String] = []) -> [String] {
    [
      "train", "--data", data, "--checkpoint-dir", dir, "--max-steps", String(steps), "--layers", "1",
      "--hidden", "32", "--embedding", "16", "--seq-length", "25", "--batch-size", "8", "--learning-rate", "1e-2",
      "--val-fraction", "0.1", "--test-fraction", "0", "--threads", "1", "--print-every", "50", "--eval-every", "60",
      "--sample-length", "40",
    ] + extra
  }

  func testByteCorpusTrainsSamplesEvaluatesAndResumes() throws {
    let bytes = Array([[UInt8]](repeating: Self.pattern, count: 500).joined())
    let data = try write("corpus.bin", bytes)
    let training = try rnnSucceeding(trainArguments(data, "run", steps: 60, ["--encoding", "bytes"]))
    XCTAssertTrue(training.stdout.contains("Read 4000 bytes from 1 file"), training.transcript)
    XCTAssertTrue(training.stdout.contains("vocabulary 256"), training.transcript)
    let validation = try XCTUnwrap(training.validationLosses.last?.loss, training.transcript)
    XCTAssertLessThan(validation, 0.1, training.transcript)

    // The checkpoint says it reads bytes; the library reads it back as a byte-level model.
    let path = folder + "/run/latest.safetensors"
    XCTAssertEqual(try SafeTensors(contentsOf: path).metadata["encoding"], "bytes")
    XCTAssertEqual(try Checkpoint(contentsOf: path).vocabulary, .bytes)
    // The sample saved during training is the bytes sampled, all from the corpus's alphabet.
    let saved = Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/run/samples/step-60.txt")))
    XCTAssertEqual(saved.count, 40)
    XCTAssertTrue(saved.allSatisfy(Self.pattern.contains), "\(saved)")

    // sample writes raw bytes: the prime "A" as UTF-8, then the pattern going on, then a newline.
    let sample = try rnnSucceeding([
      "sample", "--checkpoint", "run/latest.safetensors", "--prime", "A", "--argmax", "--length", "15",
      "--threads", "1",
    ])
    let continuation = Array((Self.pattern + Self.pattern + Self.pattern)[3..<18])
    XCTAssertEqual(sample.stdoutBytes, [0x41] + continuation + [0x0A], sample.transcript)
    try assertCleanFailure(
      ["sample", "--checkpoint", "run/latest.safetensors", "--stop", "é"], mentioning: ["--stop", "2 bytes"])

    // eval reads the file as bytes: every byte but the first is scored.
    let eval = try rnnSucceeding(["eval", "--checkpoint", "run/latest.safetensors", "--data", data, "--json"])
    let json = try XCTUnwrap(
      try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any], eval.transcript)
    XCTAssertEqual(json["characters"] as? Int, bytes.count - 1, eval.stdout)
    XCTAssertLessThan(try XCTUnwrap(json["loss_nats_per_char"] as? Double), 0.1, eval.stdout)

    // visualize shows the bytes as the characters U+0000 ... U+00FF.
    try rnnSucceeding([
      "visualize", "--checkpoint", "run/latest.safetensors", "--data", data, "--out", "page.html", "--characters", "64",
    ])
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/page.html"))

    // --resume and --init-from take the encoding from the checkpoint; a contrary --encoding is refused.
    let resumed = try rnnSucceeding(trainArguments(data, "run", steps: 70, ["--resume", "run/latest.safetensors"]))
    XCTAssertTrue(resumed.stdout.contains("Resuming run/latest.safetensors at step 60"), resumed.transcript)
    XCTAssertEqual(try Checkpoint(contentsOf: path).step, 70)
    let other = try write("other.bin", Array([[UInt8]](repeating: [0x01, 0x02, 0xF0, 0x00], count: 300).joined()))
    let tuned = try rnnSucceeding(trainArguments(other, "tuned", steps: 5, ["--init-from", "run/latest.safetensors"]))
    XCTAssertTrue(tuned.stdout.contains("Fine-tuning run/latest.safetensors"), tuned.transcript)
    XCTAssertEqual(try Checkpoint(contentsOf: folder + "/tuned/latest.safetensors").vocabulary, .bytes)
    try assertCleanFailure(
      trainArguments(data, "run", steps: 80, ["--resume", "run/latest.safetensors", "--encoding", "utf8"]),
      mentioning: ["--encoding utf8", "bytes"])
  }

  /// Text that is not UTF-8, or a binary file, is refused with a message that offers the byte mode.
  func testNonUTF8InputOffersTheByteMode() throws {
    let options = [
      "--checkpoint-dir", "ck", "--max-steps", "1", "--hidden", "8", "--batch-size", "2", "--seq-length", "2",
    ]
    try write("bad.txt", Array("ab".utf8) + [0xFF] + Array("cd".utf8))
    try assertCleanFailure(
      ["train", "--data", "bad.txt"] + options,
      mentioning: [
        "bad.txt:1:3: invalid UTF-8 at byte offset 2: invalid byte 0xFF; pass --encoding bytes to train on bytes"
      ])
    try write("image.png", [0x89, 0x50, 0x4E, 0x47, 0x00, 0x01])
    try assertCleanFailure(
      ["train", "--data", "image.png"] + options, mentioning: ["image.png", "binary", "pass --encoding bytes"])
  }

  /// A UTF-8 checkpoint records `"encoding": "utf8"`; one without the entry (as older versions
  /// wrote) loads as UTF-8, and an unknown encoding is refused.
  func testUTF8CheckpointsWithoutTheEncodingEntryLoad() throws {
    let data = try write("letters.txt", String(repeating: "abcdefghij", count: 100))
    try rnnSucceeding(trainArguments(data, "run", steps: 2, ["--sample-length", "0"]))
    let path = folder + "/run/latest.safetensors"
    var file = try SafeTensors(contentsOf: path)
    XCTAssertEqual(file.metadata["encoding"], "utf8")

    file.metadata["encoding"] = nil
    let old = try Checkpoint(file, path: "old.safetensors")
    XCTAssertEqual(old.vocabulary.encoding, .utf8)
    XCTAssertEqual(old.vocabulary.scalars, Array("abcdefghij".unicodeScalars))

    file.metadata["encoding"] = "latin1"
    XCTAssertThrowsError(try Checkpoint(file, path: "odd.safetensors")) { error in
      guard case .invalidMetadata(_, "encoding", let reason) = error as? CheckpointError else {
        return XCTFail("unexpected error \(error)")
      }
      XCTAssertTrue(reason.contains("\"latin1\""), reason)
    }
    // A byte-level model's vocabulary must be the 256 bytes.
    file.metadata["encoding"] = "bytes"
    XCTAssertThrowsError(try Checkpoint(file, path: "short.safetensors")) { error in
      guard case .invalidMetadata(_, "vocabulary", _) = error as? CheckpointError else {
        return XCTFail("unexpected error \(error)")
      }
    }
  }
}
