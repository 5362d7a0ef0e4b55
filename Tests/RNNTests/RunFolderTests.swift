import Foundation
import XCTest

@testable import RNN

/// A checkpoint folder belongs to one run at a time, and its `metrics.jsonl` never holds a
/// partial line: a second `rnn train` on a folder in use is refused naming the first (a killed
/// run's lock never blocks); a write that fills the disk (here: a file-size limit) says why and
/// leaves whole lines.
final class RunFolderTests: CommandLineTestCase {
  private var data: String!

  override var commandTimeout: Double { 60 }

  override func setUpWithError() throws {
    try super.setUpWithError()
    data = try write("sentences.txt", SentenceText(length: 4_000, seed: 7).text)
  }

  /// A run started in the background that trains until stopped, once it has printed a step.
  private func startEndlessRun(_ dir: String) throws -> RunningCommand {
    let command = try startRNN(
      tinyTraining(data, dir, steps: 1_000_000, ["--max-epochs", "100000", "--eval-every", "1000000"]))
    let deadline = Date().addingTimeInterval(30)
    while command.process.isRunning, Date() < deadline, !command.stdoutSoFar.contains("\nstep ") { usleep(5_000) }
    XCTAssertTrue(command.process.isRunning, "the run ended early\n\(command.stdoutSoFar)")
    return command
  }

  /// While a run trains in `run`, a second `rnn train` there (new or resuming) is refused naming
  /// the first's pid and command, and leaves its files alone. After the first is killed with
  /// SIGKILL (no chance to clean up), the folder is free again.
  func testSecondRunOnAFolderIsRefusedNamingTheFirst() throws {
    _ = try rnnSucceeding(tinyTraining(data, "run", steps: 5))
    let first = try startEndlessRun("other")
    defer { if first.process.isRunning { kill(first.process.processIdentifier, SIGKILL) } }
    let pid = first.process.processIdentifier
    for arguments in [
      tinyTraining(data, "other", steps: 10), ["train", "--resume", "other/latest.safetensors", "--max-steps", "10"],
    ] {
      try assertCleanFailure(
        arguments,
        mentioning: [
          "checkpoint folder other is in use by another run", "pid \(pid): rnn train --data", "--checkpoint-dir",
        ])
    }
    // Another folder is not affected.
    _ = try rnnSucceeding(tinyTraining(data, "run", steps: 10, ["--resume", "run/latest.safetensors"]))

    kill(pid, SIGKILL)
    let killed = try finishCommand(first)
    XCTAssertTrue(killed.signaled, killed.transcript)
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/other/.lock"))
    _ = try rnnSucceeding(tinyTraining(data, "other", steps: 5))
  }

  /// `metrics.jsonl` growing past a file-size limit (`ulimit -f`, with SIGXFSZ ignored, so writes
  /// fail with EFBIG as on a full disk with ENOSPC): the run stops with the system's reason, not a
  /// stale one, and the file holds only whole JSON lines, the line that did not fit cut away.
  func testMetricsWriteBeyondAFileSizeLimitSaysWhyAndLeavesWholeLines() throws {
    let options = [
      "--print-every", "1", "--eval-every", "1000000", "--max-epochs", "100000", "--quiet", "--sample-length", "0",
    ]
    // dash counts ulimit -f in 512-byte blocks, bash in 1024: a limit of 1 or 2 KiB.
    let result = try rnn(after: "trap '' XFSZ; ulimit -f 2", tinyTraining(data, "run", steps: 1_000, options))
    assertCleanFailure(result, mentioning: ["cannot write run/metrics.jsonl", "File too large"])
    XCTAssertFalse(result.stderr.contains("No such file"), result.transcript)
    let text = try String(contentsOfFile: folder + "/run/metrics.jsonl", encoding: .utf8)
    XCTAssertTrue(text.hasSuffix("\n"), text)
    let lines = text.split(separator: "\n")
    XCTAssertGreaterThan(lines.count, 3, text)
    for (index, line) in lines.enumerated() {
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      XCTAssertEqual(object?["step"] as? Int, index + 1, String(line))
    }
  }
}
