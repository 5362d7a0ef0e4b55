import RNN
import XCTest

/// `RunSettings` without the command line: a new run's request over the defaults, a resumed
/// run's refusals and changes.
final class RunSettingsTests: XCTestCase {
  private let path = "ck/latest.safetensors"

  /// A saved run of a 1 x LSTM 8 on a built-in corpus, with `TrainConfig()`.
  private func saved(record: Bool = true) throws -> (Checkpoint, TrainingState) {
    let config = CharLMConfig(cell: .lstm, layers: 1, hidden: 8, embedding: 4, vocabularySize: 3)
    let model = CharLM(config)
    let vocabulary = try Vocabulary(scalars: Array("abc".unicodeScalars))
    let run = RunRecord(
      id: "run", model: RunRecord.fingerprint(of: config, vocabulary: vocabulary), dataPaths: [], corpus: "swift",
      valFraction: 0.1, testFraction: 0.05)
    let state = TrainingState(
      config: TrainConfig(), progress: TrainingProgress(seed: 0),
      optimizer: Optimizer(.adam, parameterCount: model.parameters.count), state: [], data: "0:0",
      run: record ? run : nil)
    return (Checkpoint(model: model, vocabulary: vocabulary), state)
  }

  func testANewRunTakesTheRequestOverTheDefaults() {
    var request = RunRequest()
    request.hidden = 32
    request.learningRate = 1e-3
    XCTAssertEqual(request.model(vocabularySize: 5).embedding, CharLMConfig.defaultEmbedding)
    XCTAssertEqual(request.model(vocabularySize: 5).hidden, 32)
    let settings = RunSettings(new: request)
    XCTAssertEqual(settings.config.learningRate, 1e-3)
    XCTAssertEqual(settings.config.batchSize, TrainConfig().batchSize)
    XCTAssertEqual(settings.valFraction, Corpus.defaultValidationFraction)
    XCTAssertEqual(settings.changes, [])
  }

  func testResumingRefusesWhatTheRunFixedAndAppliesWhatItMayChange() throws {
    let (checkpoint, state) = try saved()
    var request = RunRequest()
    (request.hidden, request.seed, request.valFraction) = (16, 3, 0.2)
    XCTAssertThrowsError(try RunSettings(resuming: checkpoint, state, from: path, request: request)) { error in
      XCTAssertEqual(
        error as? ResumeError,
        .conflictingOptions(
          path: path, ["--hidden 16 (the run's: 8)", "--seed 3 (the run's: 0)", "--val-fraction 0.2 (the run's: 0.1)"]))
    }
    request = RunRequest()
    (request.hidden, request.gradClip) = (8, 1)
    let settings = try RunSettings(resuming: checkpoint, state, from: path, request: request)
    XCTAssertEqual(settings.changes, ["--grad-clip 5.0 -> 1.0"])
    XCTAssertEqual(settings.config.gradClip, 1)
    XCTAssertEqual(settings.runID, "run")
    XCTAssertTrue(settings.dataFromRun)
    XCTAssertEqual(settings.corpus, .swiftStandardLibrary)
    XCTAssertEqual(settings.testFraction, 0.05)
  }

  func testResumingARunWithoutARecordNeedsItsData() throws {
    let (checkpoint, state) = try saved(record: false)
    XCTAssertThrowsError(try RunSettings(resuming: checkpoint, state, from: path, request: RunRequest())) { error in
      XCTAssertEqual(error as? ResumeError, .unrecordedData(path: path))
    }
    var request = RunRequest()
    request.corpus = .swiftStandardLibrary
    XCTAssertFalse(try RunSettings(resuming: checkpoint, state, from: path, request: request).dataFromRun)
  }
}
