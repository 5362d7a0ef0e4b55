import Foundation
import XCTest

/// Extreme option values on the tool commands: each gives a one-line error or a sane result,
/// never a trap (`--threads 9223372036854775807` trapped converting to a C int).
final class HostileOptionsTests: CommandLineTestCase {
  func testExtremeValuesFailCleanlyOrWork() throws {
    let data = try write("letters.txt", String(repeating: "abcdefghij", count: 100))
    try rnnSucceeding([
      "train", "--data", data, "--checkpoint-dir", "ck", "--max-steps", "2", "--layers", "1", "--hidden", "8",
      "--embedding", "4", "--seq-length", "25", "--batch-size", "2", "--threads", "1", "--sample-length", "0",
    ])
    let checkpoint = "ck/latest.safetensors"
    let huge = "9223372036854775807"
    for command in [
      ["sample", "--checkpoint", checkpoint], ["eval", "--checkpoint", checkpoint, "--data", data],
      ["visualize", "--checkpoint", checkpoint, "--data", data, "--out", "p.html"], ["bench", "--seconds", "0.1"],
    ] {
      for threads in [huge, "1025", "-1"] {
        try assertCleanFailure(command + ["--threads", threads], mentioning: ["--threads", "from 0", "1024", threads])
      }
    }
    try assertCleanFailure(
      ["visualize", "--checkpoint", checkpoint, "--data", data, "--out", "p.html", "--offset", huge],
      mentioning: ["--offset \(huge)", "at least 2"])
    // Limits that need no error: more top neurons or top-k than there are, a window wider than the log.
    try rnnSucceeding(["visualize", "--checkpoint", checkpoint, "--data", data, "--out", "p.html", "--top", huge, "--characters", "50"])
    let sample = try rnnSucceeding(["sample", "--checkpoint", checkpoint, "--top-k", huge, "--length", "20", "--seed", "1"])
    XCTAssertEqual(sample.stdout.unicodeScalars.count, 21, sample.transcript)
    try rnnSucceeding(["plot", "ck", "--out", "chart.svg", "--smooth", huge])
  }
}
