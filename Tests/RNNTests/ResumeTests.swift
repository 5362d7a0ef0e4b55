import Foundation
import XCTest

@testable import RNN

/// `rnn train --resume` continues the run it names and no other: in the checkpoint's folder, on
/// the run's data (remembered, or named when it is gone), with the run's settings (conflicting
/// ones refused, the learning rate and clipping changeable), and only from a training state
/// that the checkpoint's own run saved.
final class ResumeTests: CommandLineTestCase {
  override var commandTimeout: Double { 60 }

  override func setUpWithError() throws {
    try super.setUpWithError()
    try write("sentences.txt", SentenceText(length: 4_000, seed: 7).text)
  }

  /// `rnn train --resume <checkpoint>` and `options` with nothing else: the README's example.
  private func resume(_ checkpoint: String, steps: Int, _ options: [String] = []) -> [String] {
    ["train", "--resume", checkpoint, "--max-steps", String(steps), "--threads", "1"] + options
  }

  private func step(of path: String) throws -> Int { try Checkpoint(contentsOf: folder + "/" + path).step }

  /// The README's example, `rnn train --resume cv/latest.safetensors --max-steps N`, continues the
  /// run in `cv` (no `checkpoints` folder appears) on the text it was trained on, read again
  /// from its absolute path, also from another working folder.
  func testResumeContinuesInTheCheckpointsFolderOnTheRunsData() throws {
    _ = try rnnSucceeding(tinyTraining("sentences.txt", "cv", steps: 10, ["--eval-every", "10"]))
    let resumed = try rnnSucceeding(resume("cv/latest.safetensors", steps: 15))
    XCTAssertTrue(resumed.stdout.contains("reading the run's data, \(folder!)/sentences.txt"), resumed.transcript)
    XCTAssertTrue(resumed.stdout.contains("Resuming cv/latest.safetensors at step 10"), resumed.transcript)
    XCTAssertEqual(try step(of: "cv/latest.safetensors"), 15)
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/checkpoints"))

    try FileManager.default.createDirectory(atPath: folder + "/elsewhere", withIntermediateDirectories: false)
    let fromElsewhere = try runCommand(
      executable, resume("../cv/latest.safetensors", steps: 20), in: folder + "/elsewhere")
    XCTAssertEqual(fromElsewhere.status, 0, fromElsewhere.transcript)
    XCTAssertEqual(try step(of: "cv/latest.safetensors"), 20)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: folder + "/elsewhere").filter { !$0.hasPrefix(".") }, [])

    // --checkpoint-dir still sends it elsewhere, leaving cv as it was.
    _ = try rnnSucceeding(resume("cv/latest.safetensors", steps: 25, ["--checkpoint-dir", "cv2"]))
    XCTAssertEqual(try step(of: "cv2/latest.safetensors"), 25)
    XCTAssertEqual(try step(of: "cv/latest.safetensors"), 20)
  }

  /// When the run's data has moved, the error names the path it was read from and `--data`; the
  /// text given at its new place resumes. Other text is refused naming the run's data.
  func testResumeSaysWhichDataToPassWhenItsDataIsGone() throws {
    _ = try rnnSucceeding(tinyTraining("sentences.txt", "cv", steps: 10))
    try FileManager.default.moveItem(atPath: folder + "/sentences.txt", toPath: folder + "/moved.txt")
    try assertCleanFailure(
      resume("cv/latest.safetensors", steps: 15),
      mentioning: ["\(folder!)/sentences.txt", "cv/latest.safetensors was trained on", "pass --data"])

    try write("other.txt", SentenceText(length: 4_000, seed: 8).text)
    try assertCleanFailure(
      resume("cv/latest.safetensors", steps: 15, ["--data", "other.txt"]),
      mentioning: ["other text", "--data \(folder!)/sentences.txt", "--val-fraction 0.1"])

    _ = try rnnSucceeding(resume("cv/latest.safetensors", steps: 15, ["--data", "moved.txt"]))
    XCTAssertEqual(try step(of: "cv/latest.safetensors"), 15)
    // The run now remembers the new place.
    _ = try rnnSucceeding(resume("cv/latest.safetensors", steps: 20))
    XCTAssertEqual(try step(of: "cv/latest.safetensors"), 20)
  }

  /// A run saved by an older `rnn` (no run record in its training state, no run id in its
  /// checkpoint) still resumes with --data; without, the error says to pass it.
  func testResumeOfARunWithoutARecordAsksForItsData() throws {
    _ = try rnnSucceeding(tinyTraining("sentences.txt", "old", steps: 10))
    let path = folder + "/old/latest.safetensors"
    let checkpoint = try Checkpoint(contentsOf: path)
    var state = try SafeTensors(contentsOf: TrainingState.path(besides: path))
    state.metadata["run"] = nil
    try SafeTensors.write([
      (state, TrainingState.path(besides: path)),
      (Checkpoint(model: checkpoint.model, vocabulary: checkpoint.vocabulary, step: checkpoint.step).encoded(), path),
    ])
    try assertCleanFailure(
      resume("old/latest.safetensors", steps: 15),
      mentioning: ["does not say what the run read", "pass the --data it was trained on"])
    let same = ["--data", "sentences.txt", "--val-fraction", "0.1", "--test-fraction", "0"]
    _ = try rnnSucceeding(resume("old/latest.safetensors", steps: 15, same))
    XCTAssertEqual(try step(of: "old/latest.safetensors"), 15)
  }

  /// Options that conflict with the run's model, batches, optimizer, seed or held-out fractions are
  /// refused, all named in one line, and nothing is written; the same values as the run's pass.
  func testResumeRefusesSettingsThatConflictWithTheRun() throws {
    _ = try rnnSucceeding(tinyTraining("sentences.txt", "cv", steps: 10))
    let before = try Data(contentsOf: URL(fileURLWithPath: folder + "/cv/latest.training.safetensors"))
    let conflicting = [
      "--cell", "gru", "--layers", "2", "--hidden", "32", "--embedding", "4", "--dropout", "0.5", "--seq-length", "7",
      "--batch-size", "8", "--optimizer", "sgd", "--seed", "3", "--val-fraction", "0.2", "--test-fraction", "0.1",
    ]
    try assertCleanFailure(
      resume("cv/latest.safetensors", steps: 15, conflicting),
      mentioning: [
        "continues its run as it was set up", "--cell gru (the run's: lstm)", "--layers 2 (the run's: 1)",
        "--hidden 32 (the run's: 16)", "--embedding 4 (the run's: 8)", "--dropout 0.5 (the run's: 0.0)",
        "--seq-length 7 (the run's: 10)", "--batch-size 8 (the run's: 4)", "--optimizer sgd (the run's: adam)",
        "--seed 3 (the run's: 0)", "--val-fraction 0.2 (the run's: 0.1)", "--test-fraction 0.1 (the run's: 0.0)",
      ])
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder + "/cv/latest.training.safetensors")), before)

    let same = ["--layers", "1", "--hidden", "16", "--seq-length", "10", "--batch-size", "4", "--optimizer", "adam"]
    _ = try rnnSucceeding(resume("cv/latest.safetensors", steps: 12, same))
    XCTAssertEqual(try step(of: "cv/latest.safetensors"), 12)
  }

  /// The learning rate, its decay and clipping may change on resume: said, used, and kept in the
  /// training state for later resumes.
  func testResumeAppliesAChangedLearningRateAndClipping() throws {
    _ = try rnnSucceeding(tinyTraining("sentences.txt", "cv", steps: 10))
    let changed = try rnnSucceeding(
      resume("cv/latest.safetensors", steps: 12, ["--learning-rate", "0.0005", "--grad-clip", "1", "--verbose"]))
    XCTAssertTrue(
      changed.stdout.contains("Changing --learning-rate 0.002 -> 0.0005, --grad-clip 5.0 -> 1.0 from step 10 on."),
      changed.transcript)
    XCTAssertTrue(changed.stdout.contains("| lr 0.0005 "), changed.transcript)
    let path = folder + "/cv/latest.safetensors"
    let config = try TrainingState(besides: Checkpoint(contentsOf: path), at: path).config
    XCTAssertEqual(config.learningRate, 0.0005)
    XCTAssertEqual(config.gradClip, 1)
  }

  /// A training state copied from another run of the same shape (other seed, other optimizer,
  /// same step) beside a checkpoint is refused naming both runs; so is a checkpoint that names no
  /// run beside a state that does. The run's own pair still resumes.
  func testResumeRefusesATrainingStateOfAnotherRun() throws {
    _ = try rnnSucceeding(tinyTraining("sentences.txt", "a", steps: 10))
    _ = try rnnSucceeding(tinyTraining("sentences.txt", "b", steps: 10, ["--seed", "1", "--optimizer", "rmsprop"]))
    let a = try XCTUnwrap(try Checkpoint(contentsOf: folder + "/a/latest.safetensors").run)
    let b = try XCTUnwrap(try Checkpoint(contentsOf: folder + "/b/latest.safetensors").run)
    XCTAssertNotEqual(a, b)
    XCTAssertEqual(a.count, 32)

    try FileManager.default.copyItem(atPath: folder + "/a", toPath: folder + "/mixed")
    try FileManager.default.removeItem(atPath: folder + "/mixed/latest.training.safetensors")
    try FileManager.default.copyItem(
      atPath: folder + "/b/latest.training.safetensors", toPath: folder + "/mixed/latest.training.safetensors")
    try assertCleanFailure(
      resume("mixed/latest.safetensors", steps: 15),
      mentioning: [
        "mixed/latest.training.safetensors", "cannot resume", "belongs to run \(b)", "the checkpoint to run \(a)",
      ])

    // The checkpoint rewritten without its run's id.
    let checkpoint = try Checkpoint(contentsOf: folder + "/a/latest.safetensors")
    try Checkpoint(model: checkpoint.model, vocabulary: checkpoint.vocabulary, step: checkpoint.step)
      .write(to: folder + "/a/anonymous.safetensors")
    try FileManager.default.copyItem(
      atPath: folder + "/a/latest.training.safetensors", toPath: folder + "/a/anonymous.training.safetensors")
    try assertCleanFailure(
      resume("a/anonymous.safetensors", steps: 15), mentioning: ["belongs to run \(a)", "the checkpoint to no run"])

    _ = try rnnSucceeding(resume("a/latest.safetensors", steps: 15))
  }

  /// The training state names its model too: a checkpoint of the same run id whose vocabulary is
  /// in another order (every shape the same) is refused.
  func testResumeRefusesATrainingStateOfAnotherModel() throws {
    _ = try rnnSucceeding(tinyTraining("sentences.txt", "a", steps: 10))
    let path = folder + "/a/latest.safetensors"
    let checkpoint = try Checkpoint(contentsOf: path)
    let reordered = try Vocabulary(scalars: checkpoint.vocabulary.scalars.reversed())
    try Checkpoint(model: checkpoint.model, vocabulary: reordered, step: checkpoint.step, run: checkpoint.run)
      .write(to: path)
    try assertCleanFailure(resume("a/latest.safetensors", steps: 15), mentioning: ["cannot resume", "another model"])
  }
}
