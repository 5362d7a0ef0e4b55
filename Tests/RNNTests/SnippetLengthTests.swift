import Foundation
import XCTest

/// The README's snippets are each at most as long as the same code in PyTorch
/// (`Fixtures/PyTorchEquivalents`, between `# README: NAME` and `# end`), counting the lines that
/// are neither blank nor only a comment, and the README's table states both counts.
final class SnippetLengthTests: XCTestCase {
  private let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

  func testEverySnippetIsAtMostAsLongAsInPyTorch() throws {
    let readme = try String(
      contentsOf: tests.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md"),
      encoding: .utf8)
    let ours = try ["TaxonomyTests.swift", "OwnModelTests.swift"].flatMap {
      try readmeSnippets(in: tests.appendingPathComponent($0).path)
    }
    var theirs: [String: String] = [:]
    for file in ["taxonomy.py", "own_models.py"] {
      let path = tests.appendingPathComponent("Fixtures/PyTorchEquivalents/\(file)").path
      for (name, code) in try pythonSnippets(in: path) { theirs[name] = code }
    }
    XCTAssertEqual(ours.count, 8)
    for (name, code) in ours {
      guard let pytorch = theirs[name] else {
        XCTFail("no PyTorch equivalent of \(name)")
        continue
      }
      let (swift, python) = (codeLines(code, comment: "//"), codeLines(pytorch, comment: "#"))
      XCTAssertLessThanOrEqual(swift, python, "\(name): \(swift) lines, PyTorch \(python)")
      XCTAssertTrue(readme.contains("| \(name) | \(swift) | \(python) |"), "README.md lacks the row of \(name): \(swift), \(python)")
    }
  }

  /// The lines of `code` that are neither blank nor only a comment.
  private func codeLines(_ code: String, comment: String) -> Int {
    code.split(separator: "\n").filter {
      let line = $0.trimmingCharacters(in: .whitespaces)
      return !line.isEmpty && !line.hasPrefix(comment)
    }.count
  }

  /// The code between `# README: NAME` and `# end` in a Python file, by name.
  private func pythonSnippets(in path: String) throws -> [(name: String, code: String)] {
    var snippets: [(name: String, code: String)] = []
    var current: (name: String, lines: [Substring])? = nil
    for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("# README: ") {
        current = (String(trimmed.dropFirst("# README: ".count)), [])
      } else if trimmed == "# end", let snippet = current {
        snippets.append((snippet.name, snippet.lines.joined(separator: "\n")))
        current = nil
      } else {
        current?.lines.append(line)
      }
    }
    return snippets
  }
}
