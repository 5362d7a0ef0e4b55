import Foundation
import XCTest

/// `rnn plot` on hostile logs and options: huge, non-finite and odd values, odd JSON, files that
/// are not logs, sizes beyond the limit, bad output paths; and a PNG renderer that hangs, fails or
/// floods, which must die with `rnn` and leave no file behind.
final class PlotRobustnessTests: CommandLineTestCase {
  private let goodLines = #"{"step": 10, "train_loss": 3.5}"# + "\n" + #"{"step": 20, "train_loss": 2.5, "val_loss": 2.7}"# + "\n"

  /// The number of points of the polyline of class `name` in the SVG `path`.
  private func points(_ name: String, in path: String) throws -> Int {
    let svg = try String(contentsOfFile: folder + "/" + path, encoding: .utf8)
    let start = try XCTUnwrap(svg.range(of: "<polyline class=\"\(name)\" points=\""), svg)
    let end = try XCTUnwrap(svg.range(of: "\"", range: start.upperBound..<svg.endIndex))
    return svg[start.upperBound..<end.lowerBound].split(separator: " ").count
  }

  func testHugeAndOddValuesGiveOneLineErrorsOrAreLeftOut() throws {
    // Steps a run cannot log: the line is named (1e300 used to trap converting to Int).
    for (step, shown) in [("1e300", "1e+300"), ("-3", "-3"), ("2.5", "2.5"), ("1e16", "1e+16")] {
      try write("step.jsonl", goodLines + #"{"step": \#(step), "train_loss": 2}"# + "\n")
      try assertCleanFailure(["plot", "step.jsonl", "--out", "a.svg"], mentioning: ["line 3", "step \(shown)", "whole number"])
    }
    for odd in [#"{"step": true, "train_loss": 2}"#, #"{"step": "5", "train_loss": 2}"#, #"{"step": 5, "train_loss": [2]}"#] {
      try write("odd.jsonl", odd + "\n")
      try assertCleanFailure(["plot", "odd.jsonl", "--out", "a.svg"], mentioning: ["line 1", "not a number"])
    }
    for notObject in ["[1, 2]", "\"text\"", "7", String(repeating: "[", count: 100_000), "{\"step\": 1,, }"] {
      try write("bad.jsonl", notObject + "\n" + goodLines)
      try assertCleanFailure(["plot", "bad.jsonl", "--out", "a.svg"], mentioning: ["line 1", "not a JSON object"])
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/a.svg"))

    // Huge or non-finite losses (a diverged run) are left out; the chart has the rest.
    let diverged = [
      #"{"step": 30, "train_loss": 1e300}"#, #"{"step": 40, "train_loss": -1.7e308}"#, #"{"step": 50, "train_loss": NaN}"#,
      #"{"step": 60, "train_loss": Infinity, "val_loss": 1e200}"#, #"{"step": 70, "train_loss": 2.0}"#,
    ]
    try write("diverged.jsonl", "\u{FEFF}" + goodLines + diverged.joined(separator: "\n") + "\n")  // and a byte order mark
    try rnnSucceeding(["plot", "diverged.jsonl", "--out", "diverged.svg"])
    XCTAssertEqual(try points("train", in: "diverged.svg"), 3)
    XCTAssertEqual(try points("validation", in: "diverged.svg"), 1)
    try write("all-diverged.jsonl", #"{"step": 1, "train_loss": 1e300, "val_loss": NaN}"# + "\n")
    try assertCleanFailure(["plot", "all-diverged.jsonl", "--out", "a.svg"], mentioning: ["no train_loss or val_loss", "left out"])
    // The largest step a JSON number holds exactly still draws.
    try write("last.jsonl", goodLines + #"{"step": 9007199254740992, "train_loss": 1}"# + "\n")
    try rnnSucceeding(["plot", "last.jsonl", "--out", "last.svg"])
    XCTAssertEqual(try points("train", in: "last.svg"), 3)
  }

  func testFilesThatAreNotLogs() throws {
    try write("empty.jsonl", "")
    try assertCleanFailure(["plot", "empty.jsonl", "--out", "a.svg"], mentioning: ["empty.jsonl", "empty"])
    try FileManager.default.createDirectory(atPath: folder + "/run/metrics.jsonl", withIntermediateDirectories: true)
    try assertCleanFailure(["plot", "run", "--out", "a.svg"], mentioning: ["cannot read", "metrics.jsonl", "is a directory"])
    // An endless file is read up to a limit, not into all memory.
    try assertCleanFailure(["plot", "/dev/zero", "--out", "a.svg"], mentioning: ["/dev/zero", "larger than 256 MiB"])
  }

  func testSizeLimits() throws {
    try write("log.jsonl", goodLines)
    for (width, height) in [("100000000", "500"), ("900", "10001"), ("299", "500"), ("900", "-5")] {
      try assertCleanFailure(
        ["plot", "log.jsonl", "--out", "a.svg", "--width", width, "--height", height],
        mentioning: ["300x200 to 10000x10000", "\(width)x\(height)"])
    }
    try rnnSucceeding(["plot", "log.jsonl", "--out", "wide.svg", "--width", "10000", "--height", "200"])
    let size = try FileManager.default.attributesOfItem(atPath: folder + "/wide.svg")[.size] as? Int ?? 0
    XCTAssertLessThan(size, 100_000, "a 10000-pixel chart has at most 100 x ticks")
  }

  func testOutputPathsAreCheckedFirst() throws {
    try write("log.jsonl", goodLines)
    try FileManager.default.createDirectory(atPath: folder + "/folder.svg", withIntermediateDirectories: true)
    try assertCleanFailure(["plot", "log.jsonl", "--out", "folder.svg"], mentioning: ["cannot write --out folder.svg", "is a folder"])
    try assertCleanFailure(["plot", "log.jsonl", "--out", "no/such/a.svg"], mentioning: ["no/such/a.svg", "folder no/such does not exist"])
    try write("file", "x")
    try assertCleanFailure(["plot", "log.jsonl", "--out", "file/a.png"], mentioning: ["file/a.png", "file is not a folder"])
    // The path is checked before the log is read: a bad --out is reported even with a bad log.
    try assertCleanFailure(["plot", "missing.jsonl", "--out", "no/a.svg"], mentioning: ["folder no does not exist"])
    if getuid() != 0 {  // root writes anywhere
      try FileManager.default.createDirectory(atPath: folder + "/locked", withIntermediateDirectories: true)
      try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: folder + "/locked")
      defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder + "/locked") }
      try assertCleanFailure(["plot", "log.jsonl", "--out", "locked/a.svg"], mentioning: ["cannot write in folder locked"])
    }
    let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") || $0.hasSuffix(".tmp") }
    let expected: Set<String> = getuid() != 0 ? ["log.jsonl", "folder.svg", "file", "locked"] : ["log.jsonl", "folder.svg", "file"]
    XCTAssertEqual(Set(names), expected)
  }

  // MARK: - The renderer

  /// A folder holding an executable `rsvg-convert` script with `body`, and the environment that
  /// puts it first on the PATH.
  private func fakeRenderer(_ body: String) throws -> [String: String] {
    let script = try write("bin/rsvg-convert", "#!/bin/sh\n" + body + "\n")
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
    var environment = ProcessInfo.processInfo.environment
    environment["PATH"] = folder + "/bin:" + (environment["PATH"] ?? "/usr/bin:/bin")
    return environment
  }

  /// Whether process `pid` has ended (gone, or a zombie waiting to be reaped).
  private func hasEnded(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    let state = stat.split(separator: ")").last?.split(separator: " ").first
    return state == "Z" || state == "X"
  }

  func testRendererDiesWithRNNAndLeavesNoFiles() throws {
    try write("log.jsonl", goodLines)
    // The renderer records its pid, then sleeps in place of the shell (so it is the child itself).
    let environment = try fakeRenderer("echo $$ > \"\(folder!)/renderer.pid\"; exec sleep 300")
    let command = try startRNN(["plot", "log.jsonl", "--out", "chart.png"], environment: environment)
    let pidFile = folder + "/renderer.pid"
    let deadline = Date().addingTimeInterval(60)
    while !FileManager.default.fileExists(atPath: pidFile) && Date() < deadline { usleep(20_000) }
    usleep(100_000)  // the shell has written its pid and exec'ed sleep
    let pid = try XCTUnwrap(Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    XCTAssertFalse(hasEnded(pid), "the renderer runs while rnn waits for it")
    kill(command.process.processIdentifier, SIGKILL)
    let result = try finishCommand(command)
    XCTAssertTrue(result.signaled)
    let end = Date().addingTimeInterval(10)
    while !hasEnded(pid) && Date() < end { usleep(20_000) }
    if !hasEnded(pid) { kill(pid, SIGKILL) }
    XCTAssertTrue(hasEnded(pid), "the renderer outlived rnn")
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/chart.png"))
    let left = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains("chart") || $0.contains("rnn-plot") }
    XCTAssertEqual(left, [], "no partial or temporary files")
    let temporary = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("rnn-plot") }
    XCTAssertEqual(temporary, [])
  }

  func testFailingOrFloodingRendererGivesOneLineErrors() throws {
    try write("log.jsonl", goodLines)
    var environment = try fakeRenderer("cat > /dev/null; echo 'cannot parse the SVG' >&2; exit 3")
    assertCleanFailure(
      try rnn(["plot", "log.jsonl", "--out", "chart.png"], environment: environment),
      mentioning: ["rsvg-convert could not render", "cannot parse the SVG"])
    // Exits without reading its input (rnn must not die of SIGPIPE) and without a message.
    environment = try fakeRenderer("exit 4")
    assertCleanFailure(
      try rnn(["plot", "log.jsonl", "--out", "chart.png"], environment: environment), mentioning: ["exit status 4"])
    // Writes without end: killed at the size no PNG of this chart can exceed.
    environment = try fakeRenderer("exec cat /dev/zero")
    assertCleanFailure(
      try rnn(["plot", "log.jsonl", "--out", "chart.png", "--width", "300", "--height", "200"], environment: environment),
      mentioning: ["rsvg-convert could not render", "more than"])
    // Succeeds but writes something that is not a PNG.
    environment = try fakeRenderer("cat > /dev/null; echo not a png")
    assertCleanFailure(
      try rnn(["plot", "log.jsonl", "--out", "chart.png"], environment: environment), mentioning: ["could not render"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/chart.png"))
  }
}
