import Foundation
import RNN
import XCTest

/// `TrainingRun` from a Swift program, without the command line: it reports progress,
/// validations and samples as events on the schedule, keeps its folder (latest, best, samples,
/// metrics), and a stop request ends it after the current step with `latest` saved.
final class TrainingRunTests: XCTestCase {
  private var folder: String!

  override func setUpWithError() throws {
    folder = NSTemporaryDirectory() + "training-run-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

  /// A run of a small LSTM on a repeated sentence, `B = 4`, `T = 8`, 10% held out for each of
  /// validation and test.
  private func makeRun(_ schedule: RunSchedule) throws -> TrainingRun {
    let text = String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 30)
    let vocabulary = Vocabulary(building: text)
    let tokens = TokenIDs(try vocabulary.encode(text))
    let split = Corpus.split(count: tokens.count, valFraction: 0.1, testFraction: 0.1)
    var config = TrainConfig()
    config.batchSize = 4
    config.seqLength = 8
    var generator = RandomGenerator(seed: 1)
    let model = CharLM(
      CharLMConfig(cell: .lstm, layers: 1, hidden: 16, embedding: 8, vocabularySize: vocabulary.count),
      using: &generator)
    let batches = try BatchIterator(tokens: tokens[split.train], batchSize: 4, seqLength: 8)
    let record = RunRecord(
      id: RunRecord.makeID(), model: RunRecord.fingerprint(of: model.config, vocabulary: vocabulary), dataPaths: [],
      corpus: nil, valFraction: 0.1, testFraction: 0.1)
    return TrainingRun(
      trainer: Trainer(model: model, batches: batches, config: config), vocabulary: vocabulary,
      validation: tokens[split.validation], test: tokens[split.test], schedule: schedule, folder: folder, record: record
    )
  }

  func testRunReportsOnItsScheduleAndKeepsItsFolder() throws {
    var schedule = RunSchedule()
    schedule.maxSteps = 6
    schedule.printEvery = 2
    schedule.evalEvery = 3
    schedule.sampleLength = 10
    let run = try makeRun(schedule)
    var progress: [Int] = []
    var validated: [Int] = []
    var samples: [Int: [UInt8]] = [:]
    let outcome = try run.run { event in
      switch event {
      case .progress(let report):
        XCTAssertEqual(report.lastStep, 6)
        XCTAssertTrue(report.loss.isFinite && report.tokensPerSecond > 0)
        progress.append(report.step)
      case .validated(let step, let loss, _):
        XCTAssertTrue(loss.isFinite)
        validated.append(step)
      case .sampled(let step, let bytes): samples[step] = bytes
      case .skipped: XCTFail("no batch is skipped")
      }
    }
    guard case .finished(let testLoss?) = outcome else { return XCTFail("\(outcome)") }
    XCTAssertTrue(testLoss.isFinite)
    XCTAssertEqual(progress, [2, 4, 6])
    XCTAssertEqual(validated, [3, 6])
    XCTAssertEqual(samples.keys.sorted(), [3, 6])
    XCTAssertEqual(samples[3]?.count, 10)
    XCTAssertEqual(try Checkpoint(contentsOf: run.folder.latest).step, 6)
    XCTAssertTrue(FileManager.default.fileExists(atPath: run.folder.best))
    XCTAssertEqual(
      try Data(contentsOf: URL(fileURLWithPath: run.folder.samples + "/step-3.txt")), Data(samples[3]!))
    let metrics = try String(contentsOfFile: folder + "/" + MetricsLog.fileName, encoding: .utf8)
    XCTAssertEqual(metrics.split(separator: "\n").count, 5, metrics)

    XCTAssertEqual(try run.run(), .nothingToDo(step: 6, lastStep: 6))
  }

  func testStopRequestEndsAfterTheStepWithLatestSaved() throws {
    var schedule = RunSchedule()
    schedule.maxSteps = 100
    let run = try makeRun(schedule)
    var asked = 0
    let outcome = try run.run(stopRequested: {
      asked += 1
      return asked == 2
    })
    XCTAssertEqual(outcome, .stopped(step: 2))
    XCTAssertEqual(try Checkpoint(contentsOf: run.folder.latest).step, 2)
  }
}
