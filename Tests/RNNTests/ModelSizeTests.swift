import Foundation
import XCTest

@testable import RNN

/// Sizes are checked before anything is allocated: `rnn train` and `rnn bench` refuse sizes
/// outside a model's ranges and models that do not fit in memory in one line, with their size,
/// instead of trapping on an overflow or dying in an allocation; the library's arithmetic of
/// sizes cannot overflow.
final class ModelSizeTests: CommandLineTestCase {
  private var data: String!

  override func setUpWithError() throws {
    try super.setUpWithError()
    data = try write("sentences.txt", SentenceText(length: 3_000, seed: 5).text)
  }

  /// `rnn train` with the options of issue 12 (each once a crash: an allocation failure or an
  /// overflow trap), on the tiny run's other options.
  func testTrainRefusesSizesOutsideTheModelsRanges() throws {
    let cases: [([String], [String])] = [
      (["--hidden", "100000"], ["--hidden", "at most 65536", "100000"]),
      (["--hidden", "4000000000"], ["--hidden", "at most 65536"]),
      (["--hidden", "9223372036854775807"], ["--hidden", "at most 65536"]),
      (["--embedding", "100000000"], ["--embedding", "at most 65536"]),
      (["--layers", "1000000"], ["--layers", "at most 64"]),
      (["--sample-length", "9223372036854775807"], ["--sample-length", "0 to 100000"]),
      (["--lr-decay-after", "-9223372036854775808"], ["--lr-decay-after", "0 or more"]),
    ]
    for (options, mentions) in cases {
      try assertCleanFailure(tinyTraining(data, "run", steps: 2, options), mentioning: mentions)
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/run"))
  }

  /// Batches of `Int.max` rows or steps: refused as not fitting, with the size they would need;
  /// nothing is saved.
  func testTrainRefusesBatchesThatDoNotFit() throws {
    for option in ["--batch-size", "--seq-length"] {
      try assertCleanFailure(
        tinyTraining(data, "run", steps: 2, [option, "9223372036854775807"]),
        mentioning: ["does not fit in memory", "9223372036854775807", "needs at least", "activations"])
    }
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: folder + "/run").filter { !$0.hasPrefix(".") }, [])
  }

  /// `--hidden 30000` (2 x LSTM, 165 GiB with Adam) under a 4 GB address-space limit: refused with
  /// its size and the limit it exceeds. `--layers 64 --hidden 4096` too: the ranges allow it, the
  /// memory does not. A model that fits trains under the same limit.
  func testTrainRefusesModelsLargerThanTheMemoryLimit() throws {
    try XCTSkipIf(underAddressSanitizer, "AddressSanitizer reserves terabytes of address space: ulimit -v stops it")
    let limit = "ulimit -v 4000000"
    for options in [["--hidden", "30000", "--layers", "2"], ["--layers", "64", "--hidden", "4096"]] {
      let result = try rnn(after: limit, tinyTraining(data, "run", steps: 2, options))
      assertCleanFailure(
        result, mentioning: ["does not fit in memory", "parameters", "adam buffers", "GiB", "ulimit -v", "3.8 GiB"])
    }
    let bytes = try rnn(
      after: limit, tinyTraining(data, "bytes", steps: 2, ["--hidden", "30000", "--encoding", "bytes"]))
    assertCleanFailure(bytes, mentioning: ["does not fit in memory", "vocabulary 256"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/run/latest.safetensors"))

    let fits = try rnn(after: limit, tinyTraining(data, "small", steps: 2, ["--hidden", "64"]))
    XCTAssertEqual(fits.status, 0, fits.transcript)
  }

  /// `rnn bench` builds a model from options too: the same ranges and the same memory check.
  func testBenchRefusesSizesOutsideTheRangesAndModelsThatDoNotFit() throws {
    try assertCleanFailure(["bench", "--layers", "1000000"], mentioning: ["--layers", "at most 64"])
    try assertCleanFailure(["bench", "--hidden", "9223372036854775807"], mentioning: ["--hidden", "at most 65536"])
    try assertCleanFailure(["bench", "--vocab", "9223372036854775807"], mentioning: ["--vocab", "at most 1114112"])
    try assertCleanFailure(["bench", "--seconds", "inf"], mentioning: ["--seconds", "finite"])
    guard !underAddressSanitizer else { return }  // it reserves terabytes of address space: ulimit -v stops it
    let result = try rnn(after: "ulimit -v 4000000", ["bench", "--hidden", "30000", "--seconds", "0.1"])
    assertCleanFailure(result, mentioning: ["does not fit in memory", "2 x lstm 30000", "ulimit -v"])
  }

  // MARK: - The library

  /// The footprint of a 1 x LSTM 16, E 8, V 10 on batches of 4 x 5, counted by hand: parameters
  /// 80 + (64*8 + 64*16 + 64 + 64) + (160 + 10) = 1,914 as PyTorch counts them, 1,920 in memory
  /// (each padded to 16 floats); activations per token (4+3)*16 + 8 + 2*10 = 140 floats.
  func testFootprintCountsParametersGradientsOptimizerAndActivations() throws {
    let config = CharLMConfig(cell: .lstm, layers: 1, hidden: 16, embedding: 8, vocabularySize: 10)
    let adam = try TrainingFootprint(model: config, optimizer: .adam, batchSize: 4, seqLength: 5)
    XCTAssertEqual(adam.parameterCount, 1_914)
    XCTAssertEqual(CharLM(config).parameters.count, 1_920)
    XCTAssertEqual(adam.parameterBytes, 4 * 1_920)
    XCTAssertEqual(adam.gradientBytes, 4 * 1_920)
    XCTAssertEqual(adam.optimizerBytes, 2 * 4 * 1_920)
    XCTAssertEqual(adam.activationBytes, 4 * 20 * 140)
    XCTAssertEqual(adam.totalBytes, 16 * 1_920 + 4 * 20 * 140)
    XCTAssertEqual(
      try TrainingFootprint(model: config, optimizer: .sgd, batchSize: 4, seqLength: 5).optimizerBytes, 4 * 1_920)

    // Sizes whose Int products overflow count in Double.
    let huge = try TrainingFootprint(model: config, optimizer: .adam, batchSize: .max, seqLength: .max)
    XCTAssertEqual(huge.activationBytes, 4 * Double(Int.max) * Double(Int.max) * 140)
  }

  /// Sizes outside a model's ranges are a typed error, before any shape is computed.
  func testFootprintRefusesSizesOutsideTheRanges() {
    var config = CharLMConfig(cell: .gru, layers: 1, hidden: .max, embedding: 8, vocabularySize: 10)
    XCTAssertThrowsError(try TrainingFootprint(model: config, optimizer: .adam, batchSize: 1, seqLength: 1)) {
      XCTAssertEqual($0 as? ModelSizeError, .outOfRange(key: "hidden", value: .max, range: 1...65536))
    }
    config.hidden = 8
    config.layers = 65
    XCTAssertThrowsError(try config.checkSizes()) {
      XCTAssertEqual($0 as? ModelSizeError, .outOfRange(key: "layers", value: 65, range: 1...64))
    }
  }

  /// `B * T + 1` beyond `Int.max` is an error, not an overflow trap.
  func testBatchesRefuseSizesWhoseProductOverflows() {
    let tokens: [Int32] = [1, 2, 3]
    for (batchSize, seqLength) in [(Int.max, 2), (2, Int.max), (Int.max, 1)] {
      XCTAssertThrowsError(try BatchIterator(tokens: tokens, batchSize: batchSize, seqLength: seqLength)) {
        XCTAssertEqual($0 as? BatchError, .tooLarge(batchSize: batchSize, seqLength: seqLength))
      }
    }
  }
}
