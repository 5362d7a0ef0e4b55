import Foundation
import XCTest

@testable import RNN

/// A data-parallel run that loses a rank or is told to stop: `mpirun` ends within seconds, and
/// `latest.safetensors` stays loadable and resumable.
final class DistributedFailureTests: MPIRunTestCase {
  /// Two ranks training for as long as they are let, saving every `checkpointEvery` steps.
  private func arguments(steps: Int = 1_000_000, checkpointEvery: Int, resume: Bool = false) -> [String] {
    [
      "train", "--data", "text.txt", "--checkpoint-dir", "run", "--max-steps", String(steps), "--max-epochs", "100000",
      "--layers", "2", "--hidden", "64", "--embedding", "16", "--seq-length", "20", "--batch-size", "8",
      "--checkpoint-every", String(checkpointEvery), "--eval-every", "1000000", "--val-fraction", "0.1",
      "--test-fraction", "0", "--threads", "1", "--sample-length", "0", "--print-every", "1",
    ] + (resume ? ["--resume", "run/latest.safetensors"] : [])
  }

  private var latest: String { folder + "/run/latest.safetensors" }

  /// Waits until `command`'s output shows step `step` (or it ended, or a minute passed).
  private func wait(for command: RunningCommand, toReach step: Int) {
    let deadline = Date().addingTimeInterval(60)
    while command.process.isRunning, Date() < deadline, !command.stdoutSoFar.contains("step \(step)/") {
      usleep(10_000)
    }
  }

  /// Resumes the saved run for 3 more steps on two ranks and checks it reached them.
  private func assertResumes(file: StaticString = #filePath, line: UInt = #line) throws {
    _ = TrainingState.completeInterruptedSave(of: latest)
    let checkpoint = try Checkpoint(contentsOf: latest)
    XCTAssertEqual(
      try TrainingState(besides: checkpoint, at: latest).progress.step, checkpoint.step, file: file, line: line)
    let resumed = try mpirunRNN(ranks: 2, arguments(steps: checkpoint.step + 3, checkpointEvery: 1000, resume: true))
    XCTAssertEqual(resumed.status, 0, resumed.transcript, file: file, line: line)
    XCTAssertEqual(try Checkpoint(contentsOf: latest).step, checkpoint.step + 3, file: file, line: line)
  }

  func testKillingOneRankEndsTheJobWithinSeconds() throws {
    try write("text.txt", SentenceText(length: 12_000, seed: 7).text)
    let command = try startMPIRunRNN(ranks: 2, arguments(checkpointEvery: 5))
    wait(for: command, toReach: 12)
    let ranks = children(of: command.process.processIdentifier)
    XCTAssertEqual(ranks.count, 2, "mpirun's children: \(ranks)\n\(command.stdoutSoFar)")
    let killed = Date()
    kill(try XCTUnwrap(ranks.last), SIGKILL)
    while command.process.isRunning, Date().timeIntervalSince(killed) < 30 { usleep(10_000) }
    let seconds = Date().timeIntervalSince(killed)
    let result = try finishCommand(command)
    XCTAssertLessThan(seconds, 10, "mpirun took \(seconds) s to end after a rank was killed")
    XCTAssertNotEqual(result.status, 0, result.transcript)
    XCTAssertGreaterThanOrEqual(try Checkpoint(contentsOf: latest).step, 5)
    try assertResumes()
  }

  func testCtrlCToMPIRunSavesAndStops() throws {
    try write("text.txt", SentenceText(length: 12_000, seed: 7).text)
    // No periodic saves: latest.safetensors can only come from the stop. mpirun gives the ranks
    // 3 s after passing on the signal (its default, 1 s, may be too short for a step and a save).
    let command = try startMPIRunRNN(
      ranks: 2, arguments(checkpointEvery: 1_000_000), options: ["--mca", "odls_base_sigkill_timeout", "3"])
    wait(for: command, toReach: 5)
    kill(command.process.processIdentifier, SIGINT)
    let result = try finishCommand(command)
    XCTAssertNotEqual(result.status, 0, result.transcript)
    XCTAssertTrue(result.stdout.contains("Stopped by SIG"), result.transcript)
    XCTAssertTrue(result.stdout.contains("resume with: rnn train --resume run/latest.safetensors"), result.transcript)
    XCTAssertGreaterThanOrEqual(try Checkpoint(contentsOf: latest).step, 5)
    try assertResumes()
  }
}
