import Foundation
import XCTest

@testable import RNN

final class VocabularyTests: XCTestCase {
  func testBuildingSortsUniqueScalarsByValue() {
    let vocabulary = Vocabulary(building: "hello, world\n😀é")
    XCTAssertEqual(
      vocabulary.scalars,
      ["\n", " ", ",", "d", "e", "h", "l", "o", "r", "w", "é", "😀"])
    XCTAssertEqual(vocabulary.count, 12)
    XCTAssertEqual(vocabulary.id(of: "\n"), 0)
    XCTAssertEqual(vocabulary.id(of: "😀"), 11)
    XCTAssertEqual(vocabulary.id(of: "é"), 10)
    XCTAssertNil(vocabulary.id(of: "z"))
    XCTAssertNil(vocabulary.id(of: "\u{FFFF}"))
    XCTAssertNil(vocabulary.id(of: "🙂"))
    XCTAssertEqual(vocabulary.scalar(for: 5), "h")
  }

  func testRoundTripWithAstralScalarsAndCombiningMarks() throws {
    // "e\u{301}" is one Character but two scalars; tokens are scalars.
    let text = "naïve e\u{301} 😀👍🏽 𝄞 \u{0} \u{10FFFF}\r\n"
    let vocabulary = Vocabulary(building: text)
    let ids = try vocabulary.encode(text)
    XCTAssertEqual(ids.count, text.unicodeScalars.count)
    XCTAssertTrue(ids.allSatisfy { $0 >= 0 && Int($0) < vocabulary.count })
    XCTAssertEqual(vocabulary.decode(ids), text)
    XCTAssertEqual(vocabulary.decode(ids).unicodeScalars.elementsEqual(text.unicodeScalars), true)
  }

  func testExplicitOrderIsKept() throws {
    let vocabulary = try Vocabulary(scalars: ["b", "a", "🎉"])
    XCTAssertEqual(try vocabulary.encode("ab🎉"), [1, 0, 2])
    XCTAssertEqual(vocabulary.decode([2, 0, 1]), "🎉ba")
  }

  func testDuplicateScalarsThrow() {
    XCTAssertThrowsError(try Vocabulary(scalars: ["a", "b", "c", "b"])) { error in
      XCTAssertEqual(error as? VocabularyError, .duplicateScalar("b", first: 1, second: 3))
    }
  }

  func testEncodeNamesFirstUnknownCharacterPositionAndCount() {
    let vocabulary = Vocabulary(building: "abc")
    XCTAssertThrowsError(try vocabulary.encode("abXcYZ😀")) { error in
      XCTAssertEqual(error as? VocabularyError, .unknownCharacters(first: "X", position: 2, count: 4))
      let message = "\(error)"
      XCTAssertTrue(message.contains("\"X\""), message)
      XCTAssertTrue(message.contains("character 2"), message)
      XCTAssertTrue(message.contains("4 characters"), message)
    }
    // Position counts scalars, not Characters or bytes.
    XCTAssertThrowsError(try Vocabulary(building: "ae\u{301}").encode("e\u{301}é")) { error in
      XCTAssertEqual(error as? VocabularyError, .unknownCharacters(first: "é", position: 2, count: 1))
    }
  }

  /// The byte-level vocabulary: U+0000 ... U+00FF, encoding the UTF-8 bytes of a string, giving back
  /// raw bytes exactly and text with ill-formed UTF-8 replaced; unequal to the same scalars as text.
  func testByteVocabularyEncodesAndDecodesBytes() throws {
    let bytes = Vocabulary.bytes
    XCTAssertEqual(bytes.encoding, .bytes)
    XCTAssertEqual(bytes.scalars.map(\.value), Array(0...255))
    XCTAssertEqual(try bytes.encode("aé"), [0x61, 0xC3, 0xA9])
    XCTAssertEqual(bytes.bytes(of: [0x61, 0xFF, 0x00]), [0x61, 0xFF, 0x00])
    XCTAssertEqual(bytes.decode([0x61, 0xC3, 0xA9, 0xFF]), "aé\u{FFFD}")
    XCTAssertNotEqual(bytes, try Vocabulary(scalars: bytes.scalars))
    XCTAssertEqual(Vocabulary(building: "aé").bytes(of: [0, 1]), Array("aé".utf8))
  }

  func testJSONEscapesControlCharactersQuotesAndBackslash() throws {
    let vocabulary = try Vocabulary(
      scalars: ["\n", " ", "a", "\u{0}", "\"", "\\", "\t", "\u{1F}", "\u{7F}", "/", "é", "😀"])
    XCTAssertEqual(
      vocabulary.jsonArray,
      #"["\n"," ","a","\u0000","\"","\\","\t","\u001f","\u007f","/","é","😀"]"#)
    XCTAssertEqual(try Vocabulary(jsonArray: vocabulary.jsonArray), vocabulary)
  }

  func testJSONRoundTripOfEveryASCIIAndSomeAstralScalars() throws {
    var scalars = (0..<128).map { Unicode.Scalar(UInt8($0)) }
    scalars += ["\u{80}", "\u{9F}", "\u{A0}", "\u{2028}", "\u{2029}", "\u{FFFD}", "\u{FFFF}", "\u{10000}", "\u{10FFFF}"]
    let vocabulary = try Vocabulary(scalars: scalars)
    let json = vocabulary.jsonArray
    XCTAssertFalse(json.unicodeScalars.contains { $0.value < 0x20 }, "raw control character in \(json)")
    XCTAssertEqual(try Vocabulary(jsonArray: json), vocabulary)
  }

  func testJSONParsesWithPython() throws {
    let scalars: [Unicode.Scalar] = ["\u{0}", "\n", "\"", "\\", "\u{7F}", "\u{2028}", "é", "😀", "\u{10FFFF}"]
    let vocabulary = try Vocabulary(scalars: scalars)
    let python = ["/usr/bin/python3", "/usr/local/bin/python3"] + pathPythons()
    guard let executable = python.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
      throw XCTSkip("python3 not found")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = [
      "-c",
      "import json,sys; a=json.loads(sys.stdin.buffer.read().decode('utf-8')); "
        + "print(','.join('%x' % ord(s) for s in a) if all(len(s)==1 for s in a) else 'bad')",
    ]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    input.fileHandleForWriting.write(Data(vocabulary.jsonArray.utf8))
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0)
    XCTAssertEqual(
      String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
      scalars.map { String($0.value, radix: 16) }.joined(separator: ","))
  }

  func testJSONAcceptsWhitespaceEscapesAndSurrogatePairs() throws {
    let vocabulary = try Vocabulary(
      jsonArray: " [ \"\\u0041\" ,\n\"\\ud83d\\ude00\", \"\\/\",\"\\b\",\"\\f\",\"\\r\" ] \n")
    XCTAssertEqual(vocabulary.scalars, ["A", "😀", "/", "\u{8}", "\u{C}", "\r"])
    XCTAssertEqual(try Vocabulary(jsonArray: "[]").count, 0)
  }

  func testInvalidJSONIsRejected() {
    let malformed = [
      "",  // nothing
      "{}",  // not an array
      "[\"a\"",  // unterminated array
      "[\"a\",]",  // trailing comma
      "[\"a\" \"b\"]",  // missing comma
      "[a]",  // not a string
      "[1]",  // not a string
      "[\"a\"] x",  // trailing text
      "[\"a]",  // unterminated string
      "[\"\\x\"]",  // bad escape
      "[\"\\u12\"]",  // short \u escape
      "[\"\\ud83d\"]",  // lone high surrogate
      "[\"\\ude00\"]",  // lone low surrogate
      "[\"\\ud83d\\u0041\"]",  // high surrogate followed by a non-surrogate
      "[\"\n\"]",  // raw control character in a string
      "[[\"a\"]]",  // nested array
    ]
    for json in malformed {
      XCTAssertThrowsError(try Vocabulary(jsonArray: json), json.debugDescription) { error in
        guard case .malformedJSON = error as? VocabularyError else {
          return XCTFail("\(json.debugDescription): unexpected error \(error)")
        }
      }
    }
    let positioned = try? Vocabulary(jsonArray: "[\"a\",\"b\"x]")
    XCTAssertNil(positioned)
    XCTAssertThrowsError(try Vocabulary(jsonArray: "[\"a\",\"b\"x]")) { error in
      XCTAssertEqual(
        error as? VocabularyError,
        .malformedJSON(reason: "expected ',' or ']' after an array element", offset: 8))
    }
  }

  func testJSONElementsMustBeOneScalarAndUnique() {
    XCTAssertThrowsError(try Vocabulary(jsonArray: #"["a","bc"]"#)) { error in
      XCTAssertEqual(error as? VocabularyError, .notOneScalar(index: 1, value: "bc"))
    }
    XCTAssertThrowsError(try Vocabulary(jsonArray: #"["a",""]"#)) { error in
      XCTAssertEqual(error as? VocabularyError, .notOneScalar(index: 1, value: ""))
    }
    // One Character, two scalars.
    XCTAssertThrowsError(try Vocabulary(jsonArray: "[\"e\u{301}\"]")) { error in
      XCTAssertEqual(error as? VocabularyError, .notOneScalar(index: 0, value: "e\u{301}"))
    }
    XCTAssertThrowsError(try Vocabulary(jsonArray: #"["a","\u0061"]"#)) { error in
      XCTAssertEqual(error as? VocabularyError, .duplicateScalar("a", first: 0, second: 1))
    }
  }

  private func pathPythons() -> [String] {
    (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/python3" }
  }
}
