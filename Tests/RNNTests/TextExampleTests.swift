import Foundation
import XCTest

@testable import Examples
@testable import RNN

/// The text examples: the lexer that labels C source, the toolchain-header locator, and quick
/// runs of `code-tagging` and `line-origin` that only a working model passes.
final class TextExampleTests: XCTestCase {
  /// Each character's label drawn as `.` code, `#` comment, `s` string, newlines kept, under the
  /// snippet line by line: `/*` inside `//`, comment markers inside a string, an escaped quote,
  /// quotes inside a comment, character literals (an escaped quote, a double quote), an
  /// apostrophe inside a string, an unterminated string, a `//` comment continued by a backslash
  /// and a block comment left open at the end of the text.
  func testLexerLabelsEveryRule() {
    let source = #"""
      a = 1; // say "hi" /* here
      s = "/* no */ \" // no";
      /* "quoted" // inside */ c = '\'';
      t = "it's"; u = '"';
      bad = "open
      // line \
      continued
      x; /* open
      still 'open
      """#
    let expected = """
      .......###################
      ....sssssssssssssssssss.
      ########################.....ssss.
      ....ssssss......sss.
      ......sssss
      #########
      #########
      ...#######
      ###########
      """
    let characters = Array(source.unicodeScalars)
    let labels = CodeTagging.labels(characters)
    let drawn = zip(characters, labels).map { character, label -> Character in
      if character == "\n" { return "\n" }
      switch label {
      case .code: return "."
      case .comment: return "#"
      case .string: return "s"
      }
    }
    XCTAssertEqual(String(drawn), expected)

    let newlines = characters.indices.filter { characters[$0] == "\n" }.map { labels[$0] }
    XCTAssertEqual(
      newlines, [.code, .code, .code, .code, .code, .comment, .code, .comment],
      "a newline ends a // comment (unless escaped), an unterminated string, and stays inside /* */")
  }

  func testToolchainHeadersNotFoundNamesTheFoldersSearched() {
    XCTAssertThrowsError(
      try ToolchainHeaders.locate(environment: ["PATH": ""], commonPlaces: ["/nonexistent/usr"])
    ) { error in
      XCTAssertEqual(error as? ToolchainHeadersError, .notFound(searched: ["/nonexistent/usr"]))
      let message = "\(error)"
      XCTAssertTrue(message.contains("/nonexistent/usr"), message)
      XCTAssertFalse(message.contains("\n"), "one line: \(message)")
    }
  }

  func testToolchainHeadersComeFromTheNewestClangVersion() throws {
    let usr = NSTemporaryDirectory() + "TextExampleTests-\(UUID().uuidString)/usr"
    defer { try? FileManager.default.removeItem(atPath: (usr as NSString).deletingLastPathComponent) }
    for (version, names) in [("9", ["old.h"]), ("10", ["b.h", "a.h", "notes.txt"]), ("11", [])] {
      let include = usr + "/lib/clang/\(version)/include"
      try FileManager.default.createDirectory(atPath: include, withIntermediateDirectories: true)
      for name in names { try Data("int x;\n".utf8).write(to: URL(fileURLWithPath: include + "/" + name)) }
    }
    XCTAssertEqual(
      try ToolchainHeaders.locate(environment: ["PATH": ""], commonPlaces: [usr]),
      [usr + "/lib/clang/10/include/a.h", usr + "/lib/clang/10/include/b.h"])
  }

  /// Quick mode reaches 94-98% over seeds 1 to 5 against baselines of 57-73%.
  func testCodeTaggingQuickLearnsTheLexer() throws {
    let result = try CodeTagging.run(ExampleSettings(seed: 1, quick: true)) { _ in }
    XCTAssertGreaterThanOrEqual(result.accuracy, 0.9)
    XCTAssertGreaterThanOrEqual(result.accuracy, try XCTUnwrap(result.baseline) + 0.2)
  }

  /// Quick mode reaches 96-98% over seeds 1 to 5 against a balanced 50%.
  func testLineOriginQuickTellsSwiftFromC() throws {
    let result = try LineOrigin.run(ExampleSettings(seed: 1, quick: true)) { _ in }
    XCTAssertEqual(try XCTUnwrap(result.baseline), 0.5, accuracy: 1e-9)
    XCTAssertGreaterThanOrEqual(result.accuracy, 0.9)
  }
}
