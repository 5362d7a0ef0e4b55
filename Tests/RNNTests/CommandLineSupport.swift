import Foundation
import XCTest

@testable import RNN

/// What one run of the `rnn` executable did.
struct CommandResult {
  /// The exit status (for a run killed by a signal: the signal number, and `signaled` is true).
  var status: Int32
  var signaled: Bool
  var stdout: String
  var stderr: String

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

/// Runs `executable` with `arguments` in `folder`, capturing its output in files there (no pipe
/// to fill up). A run longer than `timeout` seconds is killed and fails the test.
func runCommand(
  _ executable: URL, _ arguments: [String], in folder: String, timeout: Double = 120,
  file: StaticString = #filePath, line: UInt = #line
) throws -> CommandResult {
  let name = UUID().uuidString
  let outPath = folder + "/.\(name).stdout"
  let errPath = folder + "/.\(name).stderr"
  FileManager.default.createFile(atPath: outPath, contents: nil)
  FileManager.default.createFile(atPath: errPath, contents: nil)
  let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
  let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
  defer {
    try? FileManager.default.removeItem(atPath: outPath)
    try? FileManager.default.removeItem(atPath: errPath)
  }

  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  process.currentDirectoryURL = URL(fileURLWithPath: folder)
  process.standardInput = FileHandle.nullDevice
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let deadline = Date().addingTimeInterval(timeout)
  while process.isRunning && Date() < deadline { usleep(10_000) }
  if process.isRunning {
    process.terminate()
    XCTFail("rnn \(arguments.joined(separator: " ")) ran longer than \(timeout) s; killed", file: file, line: line)
  }
  process.waitUntilExit()
  try out.close()
  try err.close()
  return CommandResult(
    status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
    stdout: try String(contentsOfFile: outPath, encoding: .utf8),
    stderr: try String(contentsOfFile: errPath, encoding: .utf8))
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
