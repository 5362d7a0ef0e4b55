import Foundation
import XCTest

@testable import RNN

// MARK: - Running a command

/// What one run of the `rnn` executable did.
struct CommandResult {
  /// The command line, without the executable, for messages.
  var arguments: [String]
  /// The exit status (for a run killed by a signal: the signal number, and `signaled` is true).
  var status: Int32
  var signaled: Bool
  /// Standard output as written (`stdout` has it as text, ill-formed UTF-8 replaced by U+FFFD).
  var stdoutBytes: [UInt8]
  var stderr: String

  var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }

  /// The lines of standard output that start with `step N | validation loss X`, as `(N, X)`,
  /// with `best` true when the line says the model was saved as the best so far.
  var validationLosses: [(step: Int, loss: Double, best: Bool)] {
    stdout.split(separator: "\n").compactMap { line in
      // "step 300 | validation loss 0.2026 (0.292 bits/char) | best so far, saved ..."
      let fields = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
      guard fields.count >= 2, fields[0].hasPrefix("step "), fields[1].hasPrefix("validation loss "),
        let step = Int(fields[0].dropFirst("step ".count)),
        let loss = Double(fields[1].dropFirst("validation loss ".count).split(separator: " ").first ?? "")
      else { return nil }
      return (step, loss, line.contains("best so far"))
    }
  }

  /// Everything the run printed, for failure messages.
  var transcript: String {
    "exit status \(status)\(signaled ? " (signal)" : "")\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
  }
}

/// The `rnn` executable built beside the test bundle (`swift build --build-tests` builds it, as
/// the test target depends on it), or else `.build/debug/rnn` under the package.
func rnnExecutable(besides testClass: AnyClass) throws -> URL {
  let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
  let candidates = [
    Bundle(for: testClass).bundleURL.deletingLastPathComponent(),
    Bundle.main.bundleURL,
    packageRoot.appendingPathComponent(".build/debug"),
  ].map { $0.appendingPathComponent("rnn") }
  let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
  return try XCTUnwrap(found, "no rnn executable at \(candidates.map(\.path)); run swift build --build-tests")
}

/// A command started by `startCommand`, writing its output to files (no pipe to fill up).
struct RunningCommand {
  let process: Process
  let arguments: [String]
  let stdoutPath: String
  let stderrPath: String
  fileprivate let stdoutHandle: FileHandle
  fileprivate let stderrHandle: FileHandle

  /// What the command has written to standard output so far.
  var stdoutSoFar: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
}

/// Starts `executable` with `arguments` in `folder`, its standard input `input` (default: empty)
/// and its output going to hidden files there; `environment` replaces the inherited one.
/// `finishCommand` waits for it and collects the output.
func startCommand(
  _ executable: URL, _ arguments: [String], in folder: String, input: String = "", environment: [String: String]? = nil
) throws -> RunningCommand {
  let name = UUID().uuidString
  let inPath = folder + "/.\(name).stdin"
  _ = FileManager.default.createFile(atPath: inPath, contents: Data(input.utf8))
  defer { try? FileManager.default.removeItem(atPath: inPath) }  // the child keeps its open handle
  let outPath = folder + "/.\(name).stdout"
  let errPath = folder + "/.\(name).stderr"
  _ = FileManager.default.createFile(atPath: outPath, contents: nil)
  _ = FileManager.default.createFile(atPath: errPath, contents: nil)
  let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
  let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))

  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  process.currentDirectoryURL = URL(fileURLWithPath: folder)
  if let environment { process.environment = environment }
  process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
  process.standardOutput = out
  process.standardError = err
  do { try process.run() } catch {
    try? out.close()
    try? err.close()
    try? FileManager.default.removeItem(atPath: outPath)
    try? FileManager.default.removeItem(atPath: errPath)
    throw error
  }
  return RunningCommand(
    process: process, arguments: arguments, stdoutPath: outPath, stderrPath: errPath, stdoutHandle: out,
    stderrHandle: err)
}

/// Waits for `command` to exit, then returns what it did and removes its output files.
func finishCommand(_ command: RunningCommand) throws -> CommandResult {
  defer {
    try? FileManager.default.removeItem(atPath: command.stdoutPath)
    try? FileManager.default.removeItem(atPath: command.stderrPath)
  }
  command.process.waitUntilExit()
  try command.stdoutHandle.close()
  try command.stderrHandle.close()
  return CommandResult(
    arguments: command.arguments, status: command.process.terminationStatus,
    signaled: command.process.terminationReason == .uncaughtSignal,
    stdoutBytes: Array(try Data(contentsOf: URL(fileURLWithPath: command.stdoutPath))),
    stderr: try String(contentsOfFile: command.stderrPath, encoding: .utf8))
}

/// Runs `executable` with `arguments` in `folder`, capturing its output in files there (no pipe
/// to fill up); `environment` replaces the inherited one. A run longer than `timeout` seconds is
/// killed and fails the test.
func runCommand(
  _ executable: URL, _ arguments: [String], in folder: String, input: String = "", environment: [String: String]? = nil,
  timeout: Double = 120, file: StaticString = #filePath, line: UInt = #line
) throws -> CommandResult {
  let command = try startCommand(executable, arguments, in: folder, input: input, environment: environment)
  let deadline = Date().addingTimeInterval(timeout)
  while command.process.isRunning && Date() < deadline { usleep(10_000) }
  if command.process.isRunning {
    command.process.terminate()
    XCTFail("rnn \(arguments.joined(separator: " ")) ran longer than \(timeout) s; killed", file: file, line: line)
  }
  return try finishCommand(command)
}

// MARK: - A test case that runs `rnn`

/// The base of the end-to-end tests: each test gets the `rnn` executable and an empty temporary
/// folder (`FolderTestCase`) that its commands run in. It has no tests of its own.
class CommandLineTestCase: FolderTestCase {
  /// The `rnn` executable.
  private(set) var executable: URL!

  /// How long `rnn(_:)` lets a command run before it kills it and fails the test (seconds).
  var commandTimeout: Double { 120 }

  override func setUpWithError() throws {
    try super.setUpWithError()
    executable = try rnnExecutable(besides: Self.self)
  }

  /// Runs `rnn arguments` in the test folder; a run longer than `timeout` seconds (by default
  /// `commandTimeout`) is killed and fails the test.
  func rnn(
    _ arguments: [String], input: String = "", environment: [String: String]? = nil, timeout: Double? = nil,
    file: StaticString = #filePath, line: UInt = #line
  ) throws -> CommandResult {
    try runCommand(
      executable, arguments, in: folder, input: input, environment: environment, timeout: timeout ?? commandTimeout,
      file: file, line: line)
  }

  /// Starts `rnn arguments` in the test folder without waiting; `finishCommand` collects it.
  func startRNN(_ arguments: [String], environment: [String: String]? = nil) throws -> RunningCommand {
    try startCommand(executable, arguments, in: folder, environment: environment)
  }

  /// Runs `rnn arguments` and fails the test unless it exits with 0.
  @discardableResult
  func rnnSucceeding(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws
    -> CommandResult
  {
    let result = try rnn(arguments, file: file, line: line)
    XCTAssertEqual(
      result.status, 0, "rnn \(arguments.joined(separator: " "))\n\(result.transcript)", file: file, line: line)
    return result
  }

  /// Runs `rnn arguments` and asserts it failed cleanly (see `assertCleanFailure(_:mentioning:)`).
  func assertCleanFailure(
    _ arguments: [String], mentioning mentions: [String], file: StaticString = #filePath, line: UInt = #line
  ) throws {
    assertCleanFailure(try rnn(arguments, file: file, line: line), mentioning: mentions, file: file, line: line)
  }

  /// Asserts the run failed cleanly: a non-zero exit status (not a signal), an error message on one
  /// line that starts with `Error: ` and contains each of `mentions` (case-insensitive), and nothing
  /// else on standard error but ArgumentParser's usage hint; no crash report.
  func assertCleanFailure(
    _ result: CommandResult, mentioning mentions: [String], file: StaticString = #filePath, line: UInt = #line
  ) {
    let command = "rnn " + result.arguments.joined(separator: " ")
    XCTAssertFalse(result.signaled, "\(command): killed by a signal\n\(result.transcript)", file: file, line: line)
    XCTAssertNotEqual(result.status, 0, "\(command): exit status\n\(result.transcript)", file: file, line: line)
    for crash in ["Stack dump", "Fatal error", "Illegal instruction", "Segmentation fault", "Current stack trace"] {
      XCTAssertFalse(result.stderr.contains(crash), "\(command): crashed\n\(result.transcript)", file: file, line: line)
    }
    let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
    guard let message = lines.first else {
      return XCTFail("\(command): nothing on standard error\n\(result.transcript)", file: file, line: line)
    }
    XCTAssertTrue(message.hasPrefix("Error: "), "\(command): \(message)", file: file, line: line)
    for mention in mentions {
      XCTAssertTrue(
        message.localizedCaseInsensitiveContains(mention), "\(command): \"\(message)\" does not mention \"\(mention)\"",
        file: file, line: line)
    }
    // ArgumentParser follows a validation error with "Usage: ...", "  See 'rnn ... --help' ..."
    // and sometimes "Help: ..."; anything else would be a second message or a trace.
    for extra in lines.dropFirst() {
      XCTAssertTrue(
        extra.hasPrefix("Usage: ") || extra.hasPrefix("Help: ") || extra.hasPrefix("  "),
        "\(command): more than one line of error: \(extra)", file: file, line: line)
    }
  }
}

// MARK: - Tiny training runs, and runs under limits

extension CommandLineTestCase {
  /// `rnn train` of a one-layer LSTM of 16 on `data` into `dir` up to step `steps`, in a second
  /// or so, with no samples; `extra` adds (or, given again, overrides) options.
  func tinyTraining(_ data: String, _ dir: String, steps: Int, _ extra: [String] = []) -> [String] {
    [
      "train", "--data", data, "--checkpoint-dir", dir, "--max-steps", String(steps), "--layers", "1", "--hidden", "16",
      "--embedding", "8", "--seq-length", "10", "--batch-size", "4", "--val-fraction", "0.1", "--test-fraction", "0",
      "--threads", "1", "--sample-length", "0", "--print-every", "5",
    ] + extra
  }

  /// Runs `rnn arguments` in the test folder through `/bin/sh` after the shell commands `setup`
  /// (`ulimit -v 4000000`, `trap '' XFSZ`: limits and ignored signals that `rnn` inherits).
  func rnn(after setup: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws
    -> CommandResult
  {
    var result = try runCommand(
      URL(fileURLWithPath: "/bin/sh"), ["-c", setup + "; exec \"$0\" \"$@\"", executable.path] + arguments, in: folder,
      timeout: commandTimeout, file: file, line: line)
    result.arguments = arguments
    return result
  }
}

// MARK: - A learnable text

/// Sentences "subject verb object. " with each part drawn uniformly from four choices by a seeded
/// generator, until the text has at least `length` characters. Its source entropy is exactly
/// `3 ln 4` nats per sentence (`sourceNats`): no model can do better on average, and one that has
/// learned the words and the sentence frame gets close to it.
struct SentenceText {
  static let subjects = ["the cat", "a dog", "the bird", "my fox"]
  static let verbs = ["sat on", "ran to", "looked at", "slept by"]
  static let objects = ["the mat", "a log", "the tree", "my hat"]

  let text: String
  /// The entropy of the random choices made, in nats.
  let sourceNats: Double

  init(length: Int, seed: UInt64) {
    var generator = RandomGenerator(seed: seed)
    func pick(_ words: [String]) -> String { words[Int(generator.next() % UInt64(words.count))] }
    var text = ""
    var sentences = 0
    while text.unicodeScalars.count < length {
      text += "\(pick(Self.subjects)) \(pick(Self.verbs)) \(pick(Self.objects)). "
      sentences += 1
    }
    self.text = text
    sourceNats = Double(sentences) * 3 * log(4)
  }

  /// The source entropy per character (nats).
  var sourceEntropyRate: Double { sourceNats / Double(text.unicodeScalars.count) }
}

/// Statistics of a text's characters, the baselines a model must beat.
struct CharacterStatistics {
  let text: [Unicode.Scalar]

  init(_ text: String) { self.text = Array(text.unicodeScalars) }

  /// Distinct characters.
  var vocabularySize: Int { Set(text).count }

  /// The entropy (nats) of the character frequencies: the loss of the best model that ignores
  /// context. A model that predicts from context it has learned must beat it.
  var unigramEntropy: Double {
    entropy(of: Dictionary(text.map { ($0, 1) }, uniquingKeysWith: +).values)
  }

  /// The conditional entropy (nats) of a character given the one before it, measured on the text
  /// itself (so optimistic for any model that sees only one character of context).
  var bigramConditionalEntropy: Double {
    var pairs: [UInt64: Int] = [:]  // first scalar << 32 | second scalar -> count
    var firsts: [UInt32: Int] = [:]
    for (a, b) in zip(text, text.dropFirst()) {
      pairs[UInt64(a.value) << 32 | UInt64(b.value), default: 0] += 1
      firsts[a.value, default: 0] += 1
    }
    let total = Double(text.count - 1)
    var nats = 0.0
    for (pair, count) in pairs {
      let first = Double(firsts[UInt32(pair >> 32)]!)
      nats -= Double(count) / total * log(Double(count) / first)
    }
    return nats
  }

  private func entropy<C: Collection>(of counts: C) -> Double where C.Element == Int {
    let total = Double(counts.reduce(0, +))
    return -counts.reduce(0.0) { $0 + Double($1) / total * log(Double($1) / total) }
  }
}

/// The validation part of `text` as `rnn train` splits it: the last `floor(count * fraction)`
/// characters (with no test part).
func validationPart(of text: String, fraction: Double) -> String {
  let scalars = Array(text.unicodeScalars)
  let count = Int(Double(scalars.count) * fraction)
  var result = ""
  result.unicodeScalars.append(contentsOf: scalars[(scalars.count - count)...])
  return result
}
