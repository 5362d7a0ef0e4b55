import Foundation
import XCTest

/// `rnn train` reports progress as plain log lines into a pipe, as one status line redrawn in
/// place on a terminal (a pseudo-terminal made by `script`), and only results when `--quiet`.
final class ProgressOutputTests: CommandLineTestCase {
  private func arguments(_ dir: String, _ extra: [String] = []) throws -> [String] {
    let data = try write("sentences.txt", SentenceText(length: 4_000, seed: 11).text)
    return [
      "train", "--data", data, "--checkpoint-dir", dir, "--max-steps", "20", "--layers", "1", "--hidden", "16",
      "--embedding", "8", "--seq-length", "10", "--batch-size", "4", "--print-every", "5", "--eval-every", "10",
      "--sample-length", "12", "--threads", "1",
    ] + extra
  }

  /// Lines of the form `step N/M | ...` (progress reports).
  private func progressLines(_ text: String) -> [Substring] {
    text.split(separator: "\n").filter { $0.hasPrefix("step ") && $0.contains("/20 |") }
  }

  func testPipeGetsOneLogLinePerReport() throws {
    let result = try rnnSucceeding(try arguments("pipe"))
    XCTAssertFalse(result.stdout.contains("\r"), result.stdout)
    XCTAssertEqual(progressLines(result.stdout).count, 4, result.stdout)  // steps 5, 10, 15, 20
    XCTAssertTrue(progressLines(result.stdout).allSatisfy { $0.contains("tok/s") && $0.contains("left") })
    XCTAssertFalse(result.stdout.contains("grad norm"), "grad norm is for --verbose")
    XCTAssertTrue(result.stdout.contains("---- sample at step 10 ----"), result.stdout)
    XCTAssertTrue(result.stdout.contains("step 20 | validation loss"), result.stdout)
  }

  func testVerboseAddsGradientNormAndLearningRate() throws {
    let result = try rnnSucceeding(try arguments("verbose", ["--verbose"]))
    XCTAssertTrue(progressLines(result.stdout).allSatisfy { $0.contains("grad norm") && $0.contains("| lr ") })
  }

  func testQuietKeepsOnlyResults() throws {
    let result = try rnnSucceeding(try arguments("quiet", ["--quiet"]))
    XCTAssertTrue(progressLines(result.stdout).isEmpty, result.stdout)
    XCTAssertFalse(result.stdout.contains("---- sample"), result.stdout)
    XCTAssertTrue(result.stdout.contains("step 10 | validation loss"), result.stdout)
    XCTAssertTrue(result.stdout.contains("Saved "), result.stdout)
    let both = try rnn(try arguments("both", ["--quiet", "--verbose"]))
    assertCleanFailure(both, mentioning: ["--quiet", "--verbose"])
  }

  func testTerminalGetsOneStatusLineRedrawnInPlace() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
      throw XCTSkip("needs script(1) from util-linux to make a pseudo-terminal")
    }
    let command = ([executable.path] + (try arguments("terminal"))).map { "'\($0)'" }.joined(separator: " ")
    let result = try runCommand(
      URL(fileURLWithPath: "/usr/bin/script"), ["-qfec", command, "/dev/null"], in: folder)
    XCTAssertEqual(result.status, 0, result.transcript)
    let output = result.stdout.replacingOccurrences(of: "\r\n", with: "\n")
    // Each report erases the line and redraws it: "\r", ESC [K, the report, and no newline until
    // something that stays (a validation line) or the end. Redraws come at most every 0.1 s, so
    // of the four reports of this fast run the first is drawn and later ones may be skipped.
    let redraws = output.components(separatedBy: "\r\u{1B}[Kstep ").count - 1
    XCTAssertTrue((1...4).contains(redraws), output.debugDescription)
    XCTAssertTrue(output.contains("\r\u{1B}[Kstep 5/20 "), output.debugDescription)
    XCTAssertFalse(output.contains(" left\r\n") || output.contains(" left\n\r"), output.debugDescription)
    XCTAssertTrue(output.contains(" left\nstep 10 | validation loss"), output.debugDescription)
  }
}
