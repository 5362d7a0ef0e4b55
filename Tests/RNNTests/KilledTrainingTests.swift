import Foundation
import XCTest

@testable import RNN

/// `rnn train` killed with SIGKILL (no chance to clean up) while it saves: whatever the moment,
/// `latest.safetensors` is absent or a whole checkpoint with its training state beside it, and
/// the next run removes the temporary files the killed save left. A model of about 2M parameters
/// makes each save (23 MB, synced) take most of each step, so the kills land inside writes.
final class KilledTrainingTests: CommandLineTestCase {
  override var commandTimeout: Double { 60 }

  /// `rnn train` saving after every step, for as long as it is let run.
  private func arguments(_ data: String, steps: Int = 1_000_000, resume: Bool) -> [String] {
    [
      "train", "--data", data, "--checkpoint-dir", "run", "--max-steps", String(steps), "--max-epochs", "100000",
      "--layers", "2", "--hidden", "384", "--embedding", "64", "--seq-length", "10", "--batch-size", "4",
      "--checkpoint-every", "1", "--eval-every", "1000000", "--val-fraction", "0.1", "--test-fraction", "0",
      "--threads", "1", "--sample-length", "0", "--print-every", "1",
    ] + (resume ? ["--resume", "run/latest.safetensors"] : [])
  }

  /// The hidden temporary files of atomic writes in the checkpoint folder.
  private func temporaries() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: folder + "/run").filter { $0.contains(".tmp-") }
  }

  func testSIGKILLDuringSavesNeverLeavesABrokenCheckpoint() throws {
    let data = try write("sentences.txt", SentenceText(length: 4_000, seed: 9).text)
    let latest = folder + "/run/latest.safetensors"
    var leftBehind = 0
    var savedSteps: [Int] = []
    // Kill moments: a time after the run printed its model line (and, for the first run, saved
    // once; they land anywhere in a step or a save), or as soon as a save's temporary file
    // appears (inside a write).
    let moments: [Double?] = [0, nil, 0.13, nil, 0.34, nil, 0.55]
    for moment in moments {
      let resume = FileManager.default.fileExists(atPath: latest)
      let command = try startRNN(arguments(data, resume: resume))
      let deadline = Date().addingTimeInterval(30)
      while command.process.isRunning, Date() < deadline, !command.stdoutSoFar.contains("Model: ") { usleep(1_000) }
      // The first run saves once before its kill, however slow the machine (a sanitizer build).
      while !resume, command.process.isRunning, Date() < deadline, !FileManager.default.fileExists(atPath: latest) {
        usleep(1_000)
      }
      if let delay = moment {
        usleep(useconds_t(delay * 1e6))
      } else {
        while command.process.isRunning, Date() < deadline, try temporaries().isEmpty { usleep(200) }
      }
      let delay = moment.map { "\($0) s" } ?? "a save"
      XCTAssertTrue(command.process.isRunning, "the run ended before the kill\n\(command.stdoutSoFar)")
      kill(command.process.processIdentifier, SIGKILL)
      let result = try finishCommand(command)
      XCTAssertTrue(result.signaled && result.status == SIGKILL, result.transcript)

      leftBehind += try temporaries().count
      guard FileManager.default.fileExists(atPath: latest) else {
        XCTAssertFalse(resume, "latest.safetensors disappeared after a kill at \(delay)")
        continue
      }
      // A complete checkpoint; and, once a save killed between its two renames is completed as
      // the next run does first, the training state of the same step beside it.
      XCTAssertNoThrow(try Checkpoint(contentsOf: latest), "after a kill at \(delay)")
      _ = TrainingState.completeInterruptedSave(of: latest)
      let checkpoint = try Checkpoint(contentsOf: latest)
      let state = try TrainingState(besides: checkpoint, at: latest)
      XCTAssertEqual(state.progress.step, checkpoint.step)
      XCTAssertGreaterThanOrEqual(checkpoint.step, savedSteps.last ?? 0, "a later kill lost saved steps")
      savedSteps.append(checkpoint.step)
    }
    XCTAssertFalse(savedSteps.isEmpty, "no kill came after a save")
    XCTAssertGreaterThan(leftBehind, 0, "no kill landed inside a save")

    // The next run removes what the killed saves left and continues from the last one.
    let step = try Checkpoint(contentsOf: latest).step
    let finished = try rnn(arguments(data, steps: step + 1, resume: true))
    XCTAssertEqual(finished.status, 0, finished.transcript)
    XCTAssertEqual(try temporaries(), [], finished.transcript)
    XCTAssertEqual(try Checkpoint(contentsOf: latest).step, step + 1)
  }

  /// A save killed between its two renames leaves the new training state beside the old model and
  /// the new model complete in its temporary file; the next run renames that file into place.
  func testSaveKilledBetweenItsRenamesIsCompletedByTheNextRun() throws {
    let data = try write("sentences.txt", SentenceText(length: 4_000, seed: 9).text)
    let tiny = ["--hidden", "16", "--embedding", "8", "--layers", "1", "--keep-checkpoints", "2"]
    let first = try rnn(arguments(data, steps: 2, resume: false) + tiny)
    XCTAssertEqual(first.status, 0, first.transcript)
    let run = folder + "/run/"
    let latest = run + "latest.safetensors"
    // What the kill leaves: model of step 1, training state of step 2, model of step 2 in a temporary.
    let files = FileManager.default
    try files.removeItem(atPath: latest)
    try files.copyItem(atPath: run + "step-1.safetensors", toPath: latest)
    try files.copyItem(atPath: run + "step-2.safetensors", toPath: run + ".latest.safetensors.tmp-999999999-x")
    XCTAssertThrowsError(try TrainingState(besides: try Checkpoint(contentsOf: latest), at: latest))

    let resumed = try rnn(arguments(data, steps: 3, resume: true) + tiny)
    XCTAssertEqual(resumed.status, 0, resumed.transcript)
    XCTAssertTrue(resumed.stdout.contains("Completed the save of step 2"), resumed.transcript)
    XCTAssertTrue(resumed.stdout.contains("Resuming run/latest.safetensors at step 2"), resumed.transcript)
    XCTAssertEqual(try temporaries(), [])
    XCTAssertEqual(try Checkpoint(contentsOf: latest).step, 3)
    // Nothing to complete: the pair matches.
    XCTAssertNil(TrainingState.completeInterruptedSave(of: latest))
  }
}
