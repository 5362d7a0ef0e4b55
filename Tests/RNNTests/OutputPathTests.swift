import Foundation
import XCTest

/// Where commands write: an `--out` that is a folder, under a missing folder or a file, names
/// no file, or cannot be written is refused in one line before any work (it used to say
/// `NSCocoaErrorDomain error 512`); standard output that cannot be written (a full disk) fails
/// the command instead of exiting 0. Also `visualize`'s limit on the passage.
final class OutputPathTests: CommandLineTestCase {
  /// Trains a tiny model for 2 steps into `ck/` on `text` (a file it writes); returns the file.
  private func trainTiny(hidden: Int = 8, text: String = String(repeating: "abc(def)\"gh\"ij\n", count: 80)) throws -> String {
    let data = try write("text.txt", text)
    try rnnSucceeding([
      "train", "--data", data, "--checkpoint-dir", "ck", "--max-steps", "1", "--layers", "2", "--hidden", String(hidden),
      "--embedding", "4", "--seq-length", "25", "--batch-size", "2", "--val-fraction", "0.1", "--test-fraction", "0",
      "--threads", "1", "--sample-length", "0",
    ])
    return data
  }

  func testVisualizeRefusesOutputsItCannotWrite() throws {
    let data = try trainTiny()
    let base = ["visualize", "--checkpoint", "ck/latest.safetensors", "--data", data, "--characters", "50", "--out"]
    try FileManager.default.createDirectory(atPath: folder + "/pages", withIntermediateDirectories: true)
    try assertCleanFailure(base + ["pages"], mentioning: ["cannot write --out pages", "is a folder"])
    try assertCleanFailure(base + ["pages/"], mentioning: ["--out pages/", "names no file"])
    try assertCleanFailure(base + ["missing/page.html"], mentioning: ["missing/page.html", "folder missing does not exist"])
    try assertCleanFailure(base + ["text.txt/page.html"], mentioning: ["text.txt/page.html", "text.txt is not a folder"])
    try assertCleanFailure(base + [""], mentioning: ["--out", "names no file"])
    if getuid() != 0 {  // root writes anywhere
      try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: folder + "/pages")
      defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder + "/pages") }
      try assertCleanFailure(base + ["pages/page.html"], mentioning: ["cannot write in folder pages"])
    }
    // The output is checked before the model is read: a bad --out wins over a missing checkpoint.
    try assertCleanFailure(
      ["visualize", "--checkpoint", "none.safetensors", "--data", data, "--out", "missing/page.html"],
      mentioning: ["folder missing does not exist"])
    // A page is written whole under its name, with no temporary file left beside it.
    try rnnSucceeding(base + ["pages/page.html"])
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder + "/pages"), ["page.html"])
    // A device is written directly.
    try rnnSucceeding(base + ["/dev/null"])
  }

  func testVisualizeLimitsThePassage() throws {
    let data = try trainTiny()
    try assertCleanFailure(
      ["visualize", "--checkpoint", "ck/latest.safetensors", "--data", data, "--out", "p.html", "--characters", "5000000"],
      mentioning: ["--characters", "from 2 to 100000", "5000000"])
    // 2 LSTM layers of 256: 1024 neurons (h and c), so at most 20000000 / 1024 = 19531 characters.
    let long = try trainTiny(hidden: 256, text: String(repeating: "abcdefghij\n", count: 2000))
    try assertCleanFailure(
      ["visualize", "--checkpoint", "ck/latest.safetensors", "--data", long, "--out", "p.html", "--characters", "19532"],
      mentioning: ["--characters 19532", "1024 neurons", "19531 characters"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/p.html"))
  }

  /// Runs `rnn arguments` with standard output on `/dev/full` (every write fails with ENOSPC).
  private func rnnIntoFullDisk(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: folder)
    process.standardOutput = try XCTUnwrap(FileHandle(forWritingAtPath: "/dev/full"))
    let errors = Pipe()
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, message)
  }

  func testFullStandardOutputFailsTheCommand() throws {
    guard FileManager.default.isWritableFile(atPath: "/dev/full") else { throw XCTSkip("no /dev/full") }
    let data = try trainTiny()
    let checkpoint = "ck/latest.safetensors"
    try write("log.jsonl", #"{"step": 1, "train_loss": 2}"# + "\n")
    let commands = [
      ["sample", "--checkpoint", checkpoint, "--length", "20"],
      // Without the check, this would sample for ever into the full disk.
      ["sample", "--checkpoint", checkpoint, "--length", "9223372036854775807"],
      ["sample", "--checkpoint", checkpoint, "--beam", "2", "--length", "5"],
      ["eval", "--checkpoint", checkpoint, "--data", data],
      ["eval", "--checkpoint", checkpoint, "--data", data, "--json"],
      ["plot", "log.jsonl", "--out", "chart.svg"],
      ["visualize", "--checkpoint", checkpoint, "--data", data, "--out", "page.html", "--characters", "20"],
    ]
    for arguments in commands {
      let (status, stderr) = try rnnIntoFullDisk(arguments)
      XCTAssertEqual(status, 1, "rnn \(arguments.joined(separator: " ")): \(stderr)")
      XCTAssertEqual(stderr, "Error: cannot write to standard output: No space left on device\n", arguments.joined(separator: " "))
    }
  }
}
