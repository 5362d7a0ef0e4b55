import Foundation
import XCTest

@testable import RNN

/// `rnn visualize` end to end (a tiny model trained on generated code-like text), and the text
/// properties and correlation it uses.
final class VisualizeTests: CommandLineTestCase {
  /// Lines such as `let a = f("xy", [b, (c)]) // note` drawn by a seeded generator: strings,
  /// nested brackets and comments for the properties to find.
  private func codeText(lines: Int, seed: UInt64) -> String {
    var generator = RandomGenerator(seed: seed)
    func pick(_ words: [String]) -> String { words[Int(generator.next() % UInt64(words.count))] }
    var text = ""
    for _ in 0..<lines {
      let name = pick(["a", "b", "total", "x"])
      let value = pick(["\"hi\"", "\"a \\\"b\\\" c\"", "f(\(pick(["1", "x", "\"s\""])))", "[g(y), (z)]", "{ h() }"])
      text += "let \(name) = \(value)\(pick(["", " // note", " /* t */"]))\n"
    }
    return text
  }

  private func trainTinyModel(on data: String) throws -> String {
    try rnnSucceeding([
      "train", "--data", data, "--checkpoint-dir", "ckpt", "--max-steps", "100", "--layers", "2", "--hidden", "16",
      "--embedding", "8", "--seq-length", "25", "--batch-size", "8", "--learning-rate", "1e-2", "--val-fraction", "0.1",
      "--test-fraction", "0", "--threads", "1", "--print-every", "50", "--sample-length", "0",
    ])
    return "ckpt/latest.safetensors"
  }

  /// The JSON object in `<script type="application/json" id="data">` of `page`.
  private func pageData(_ page: String) throws -> [String: Any] {
    let start = try XCTUnwrap(page.range(of: "<script type=\"application/json\" id=\"data\">"))
    let end = try XCTUnwrap(page.range(of: "</script>", range: start.upperBound..<page.endIndex))
    let json = String(page[start.upperBound..<end.lowerBound])
    return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
  }

  func testVisualizeWritesAPageWithTheDataAndTheNeuronsFound() throws {
    let text = codeText(lines: 400, seed: 3)
    let data = try write("code.txt", text)
    let checkpoint = try trainTinyModel(on: data)
    let result = try rnnSucceeding([
      "visualize", "--checkpoint", checkpoint, "--data", data, "--out", "page.html", "--characters", "500",
      "--offset", "7", "--threads", "1",
    ])
    XCTAssertTrue(result.stdout.contains("inside a string"), result.transcript)
    let page = try String(contentsOfFile: folder + "/page.html", encoding: .utf8)
    let passage = String(String.UnicodeScalarView(Array(text.unicodeScalars)[7..<507]))
    XCTAssertTrue(page.contains(escapeHTMLForTest(passage)), "the page lacks the escaped passage")
    XCTAssertFalse(page.contains("http://") || page.contains("https://"), "the page refers to the network")
    // Nothing in the data closes the script early.
    let scriptStart = try XCTUnwrap(page.range(of: "id=\"data\">"))
    let afterData = page[scriptStart.upperBound...]
    let firstClose = try XCTUnwrap(afterData.range(of: "</"))
    XCTAssertTrue(afterData[firstClose.lowerBound...].hasPrefix("</script>"))

    let object = try pageData(page)
    XCTAssertEqual(object["characters"] as? Int, 500)
    XCTAssertEqual(object["layers"] as? Int, 2)
    XCTAssertEqual(object["hidden"] as? Int, 16)
    XCTAssertEqual((object["text"] as? [String])?.joined(), passage)
    let activations = try XCTUnwrap(object["activations"] as? [String: [[Double]]])
    XCTAssertEqual(Set(activations.keys), ["0h", "0c", "1h", "1c"])
    for (key, neurons) in activations {
      XCTAssertEqual(neurons.count, 16, key)
      XCTAssertTrue(neurons.allSatisfy { $0.count == 500 && $0.allSatisfy { abs($0) <= 100 } }, key)
    }
    let guesses = try XCTUnwrap(object["guesses"] as? [[[Any]]])
    XCTAssertEqual(guesses.count, 500)
    let firstProbabilities = guesses[0].compactMap { $0.last as? Double }
    XCTAssertEqual(firstProbabilities.count, 5)
    XCTAssertEqual(firstProbabilities, firstProbabilities.sorted(by: >))
    XCTAssertLessThanOrEqual(firstProbabilities.reduce(0, +), 1.0001)

    let properties = try XCTUnwrap(object["properties"] as? [[String: Any]])
    XCTAssertEqual(
      properties.compactMap { $0["name"] as? String },
      ["inside a string", "bracket depth", "position in the line", "inside a comment"])
    for property in properties {
      let neurons = try XCTUnwrap(property["neurons"] as? [[String: Any]])
      XCTAssertEqual(neurons.count, 5, "\(property["name"]!)")
      let rs = neurons.compactMap { $0["r"] as? Double }
      XCTAssertEqual(rs.map(abs), rs.map(abs).sorted(by: >))
      XCTAssertTrue(rs.allSatisfy { abs($0) <= 1 })
    }
  }

  func testVisualizeFailsCleanlyOnBadInput() throws {
    let data = try write("code.txt", codeText(lines: 100, seed: 4))
    let checkpoint = try trainTinyModel(on: data)
    try assertCleanFailure(
      ["visualize", "--checkpoint", "missing.safetensors", "--data", data, "--out", "p.html"],
      mentioning: ["missing.safetensors"])
    let junk = try write("junk.safetensors", "not a checkpoint")
    try assertCleanFailure(
      ["visualize", "--checkpoint", junk, "--data", data, "--out", "p.html"], mentioning: ["junk.safetensors"])
    let foreign = try write("foreign.txt", "let a = \"\u{00E9}t\u{00E9}\"\n")
    try assertCleanFailure(
      ["visualize", "--checkpoint", checkpoint, "--data", foreign, "--out", "p.html"], mentioning: ["vocabulary"])
    let short = try write("short.txt", "x")
    try assertCleanFailure(
      ["visualize", "--checkpoint", checkpoint, "--data", short, "--out", "p.html"], mentioning: ["at least 2"])
    try assertCleanFailure(
      ["visualize", "--checkpoint", checkpoint, "--data", data, "--out", "p.html", "--characters", "1"],
      mentioning: ["--characters"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/p.html"))
  }

  // MARK: - Text properties and correlation

  func testInsideStringFollowsQuotesAndEscapes() {
    let text = Array(#"a"b\"c"d"#.unicodeScalars)  // a " b \ " c " d
    XCTAssertEqual(TextProperty.insideString.values(of: text), [0, 1, 1, 1, 1, 1, 0, 0])
  }

  func testBracketDepthLinePositionAndComments() {
    let text = Array("f([x], \"(\")\n// (c\"\n/* [ */g{".unicodeScalars)
    let properties = TextProperties(text)
    // f ( [ x ] , ␣ " ( " ) ↵ / / ␣ ( c " ↵ / * ␣ [ ␣ * / g {
    XCTAssertEqual(
      properties.bracketDepth, [0, 1, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    XCTAssertEqual(
      properties.insideString, [0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    XCTAssertEqual(
      properties.insideComment, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0])
    XCTAssertEqual(Array(properties.linePosition.prefix(14)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 1, 2])
  }

  func testPearsonCorrelation() throws {
    XCTAssertEqual(try XCTUnwrap(pearsonCorrelation([1, 2, 3, 4], [2, 4, 6, 8])), 1, accuracy: 1e-12)
    XCTAssertEqual(
      try XCTUnwrap(pearsonCorrelation([1, 2, 3, 4], [1, 0, 0, -3])), -0.894427190999916, accuracy: 1e-12)
    XCTAssertNil(pearsonCorrelation([1, 1, 1], [1, 2, 3]))
    let a = NeuronID(layer: 0, kind: .h, index: 0)
    let b = NeuronID(layer: 1, kind: .c, index: 3)
    let found = strongestCorrelations(
      with: [0, 1, 0, 1], among: [(a, [0.1, 0.2, 0.1, 0.3]), (b, [1, -1, 1, -1])], count: 1)
    XCTAssertEqual(found.map(\.neuron), [b])
    XCTAssertEqual(found.first?.r ?? 0, -1, accuracy: 1e-9)
  }

  private func escapeHTMLForTest(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
      .replacingOccurrences(of: "'", with: "&#39;")
  }
}
