import Foundation
import XCTest

@testable import RNN

/// The reader refuses every malformed file, one rule at a time, and never crashes on hostile input.
extension SafeTensorsTests {
  // MARK: Validation, one rule at a time

  func testRejectsBadFraming() {
    assertRejects([], .truncatedLength(size: 0))
    assertRejects([1, 2, 3, 4, 5, 6, 7], .truncatedLength(size: 7))
    assertRejects([0, 0, 0, 0, 0, 0, 0, 0], .emptyHeader)
    assertRejects(file("{}", headerLength: 0) + [1, 2, 3], .emptyHeader)
    assertRejects(
      file("{}", headerLength: 3), .headerLengthExceedsFile(headerLength: 3, fileSize: 10))
    assertRejects(
      file("{}", headerLength: .max), .headerLengthExceedsFile(headerLength: .max, fileSize: 10))
    assertRejects(
      file("{}      ", headerLength: 8), .headerTooLarge(headerLength: 8, limit: 4),
      maxHeaderLength: 4)
    XCTAssertEqual(
      SafeTensorsError.headerLengthExceedsFile(headerLength: 9_999_999, fileSize: 1234).description,
      "checkpoint header length 9999999 exceeds file size 1234")
  }

  func testRejectsHeaderThatIsNotUTF8() {
    func withBytes(_ bad: [UInt8]) -> [UInt8] {
      let header = Array(#"{"a"#.utf8) + bad + Array(#"":1}"#.utf8)
      return withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header
    }
    assertRejects(withBytes([0xFF]), .headerNotUTF8(offset: 3))
    assertRejects(withBytes([0xC0, 0x80]), .headerNotUTF8(offset: 3))  // overlong NUL
    assertRejects(withBytes([0xE0, 0x80, 0x80]), .headerNotUTF8(offset: 3))  // overlong
    assertRejects(withBytes([0xED, 0xA0, 0x80]), .headerNotUTF8(offset: 3))  // surrogate
    assertRejects(withBytes([0xF4, 0x90, 0x80, 0x80]), .headerNotUTF8(offset: 3))  // above U+10FFFF
    assertRejects(withBytes([0xE2, 0x82]), .headerNotUTF8(offset: 3))  // truncated sequence
    assertRejects(withBytes([0x80]), .headerNotUTF8(offset: 3))  // lone continuation
    let endsMidSequence = Array("{}".utf8) + [0xE2, 0x82]
    assertRejects(
      withUnsafeBytes(of: UInt64(4).littleEndian, Array.init) + endsMidSequence,
      .headerNotUTF8(offset: 2))
  }

  func testRejectsHeaderThatIsNotJSON() {
    let cases: [(String, String)] = [
      (#"{"a":"#, "unexpected end of header"),
      (#"{"a" 1}"#, "expected ':'"),
      (#"{"a":1,}"#, "expected a string key"),
      (#"{"a":1 "b":2}"#, "expected ',' or '}'"),
      ("{} x", "unexpected data after the header object"),
      ("{}{}", "unexpected data after the header object"),
      (#"{"a":[01]}"#, "expected ',' or ']'"),
      (#"{"a":-}"#, "invalid number"),
      (#"{"a":1.}"#, "invalid number"),
      (#"{"a":1e}"#, "invalid number"),
      (#"{"a":tru}"#, "invalid literal"),
      (#"{"a":nul"#, "invalid literal"),
      (#"{"a":'x'}"#, "unexpected byte 0x27"),
      ("{\"a\":\"x\ny\"}", "control character in string"),
      (#"{"a":"\x"}"#, "invalid escape"),
      (#"{"a":"\u12G4"}"#, #"invalid hex digit in \u escape"#),
      (#"{"a":"\ud800"}"#, #"unpaired surrogate in \u escape"#),
      (#"{"a":"\udc00"}"#, #"unpaired surrogate in \u escape"#),
      (#"{"a":"\ud800\u0041"}"#, #"unpaired surrogate in \u escape"#),
      (#"{"a":"abc"#, "unterminated string"),
      ("        ", "unexpected end of header"),
      (
        "{\"a\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}",
        "nesting deeper than 64"
      ),
    ]
    for (header, reason) in cases {
      XCTAssertEqual(jsonFailure(header), reason, header)
    }
    // A syntax error is reported as such even after a schema error earlier in the header.
    assertRejects(
      file(#"{"a":[1],"b":}"#), .headerNotJSON(offset: 13, reason: "unexpected byte 0x7d"))
  }

  func testRejectsHeaderThatIsNotAnObject() {
    assertRejects(file("[1, 2]"), .headerNotObject)
    assertRejects(file(#""x""#), .headerNotObject)
    assertRejects(file("3   "), .headerNotObject)
    assertRejects(file("null"), .headerNotObject)
  }

  func testRejectsDuplicateNames() {
    let a = entry("a", shape: "[1]", offsets: "[0,4]")
    let a2 = entry("a", shape: "[1]", offsets: "[4,8]")
    assertRejects(file("{\(a),\(a2)}", data: Array(repeating: 0, count: 8)), .duplicateName("a"))
    assertRejects(
      file(#"{"__metadata__":{},"__metadata__":{}}"#), .duplicateName("__metadata__"))
    // The same name written with an escape is still the same name.
    assertRejects(
      file(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"\u0061":1}"#),
      .duplicateName("a"))
  }

  func testRejectsMalformedEntries() {
    func rejects(_ entryJSON: String, _ expected: SafeTensorsError, line: UInt = #line) {
      assertRejects(file(#"{"t":"# + entryJSON + "}", data: [0, 0, 0, 0]), expected, line: line)
    }
    func field(_ name: String, _ reason: String) -> SafeTensorsError {
      .invalidField(name: "t", field: name, reason: reason)
    }
    rejects("[1]", .entryNotObject(name: "t"))
    rejects(#""F32""#, .entryNotObject(name: "t"))
    rejects(#"{"shape":[1],"data_offsets":[0,4]}"#, .missingField(name: "t", field: "dtype"))
    rejects(#"{"dtype":"F32","data_offsets":[0,4]}"#, .missingField(name: "t", field: "shape"))
    rejects(#"{"dtype":"F32","shape":[1]}"#, .missingField(name: "t", field: "data_offsets"))
    rejects(
      #"{"dtype":32,"shape":[1],"data_offsets":[0,4]}"#,
      field("dtype", "expected a string, found a number"))
    rejects(
      #"{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}"#,
      field("dtype", "appears more than once"))
    rejects(
      #"{"dtype":"F32","shape":"1","data_offsets":[0,4]}"#,
      field("shape", "expected an array of integers, found a string"))
    rejects(
      #"{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}"#,
      field("shape", "expected an array of integers, found an array holding an array"))
    rejects(
      #"{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}"#,
      field("shape", "dimension 1.0 is not an integer"))
    rejects(
      #"{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}"#,
      field("shape", "dimension 1e0 is not an integer"))
    rejects(
      #"{"dtype":"F32","shape":[1],"data_offsets":{}}"#,
      field("data_offsets", "expected an array of two integers, found an object"))
    rejects(
      #"{"dtype":"F32","shape":[1],"data_offsets":[0]}"#,
      field("data_offsets", "expected two offsets, found 1"))
    rejects(
      #"{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}"#,
      field("data_offsets", "expected two offsets, found 3"))
    rejects(
      #"{"dtype":"F32","shape":[1],"data_offsets":[-1,3]}"#,
      field("data_offsets", "offset -1 is not a non-negative integer"))
    rejects(
      #"{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}"#,
      field("data_offsets", "offset 4.0 is not a non-negative integer"))
    rejects(
      #"{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}"#,
      field("data_offsets", "offset 99999999999999999999 is too large"))
    rejects(
      #"{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}"#,
      .unknownDType(name: "t", dtype: "F8_E4M3"))
    rejects(
      #"{"dtype":"f32","shape":[1],"data_offsets":[0,4]}"#, .unknownDType(name: "t", dtype: "f32"))
    rejects(
      #"{"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]}"#,
      .negativeDimension(name: "t", dimension: "-2"))
    rejects(
      #"{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}"#, .trailingBytes(count: 4, dataSize: 4))
    rejects(
      #"{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}"#,
      .shapeOverflow(name: "t"))
    rejects(
      #"{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}"#,
      .shapeOverflow(name: "t"))
    rejects(
      #"{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]}"#,
      .shapeOverflow(name: "t"))
    rejects(
      #"{"dtype":"F32","shape":[1],"data_offsets":[4,0]}"#,
      .reversedRange(name: "t", begin: 4, end: 0))
    rejects(
      #"{"dtype":"F32","shape":[2],"data_offsets":[0,4]}"#,
      .sizeMismatch(name: "t", expected: 8, actual: 4))
    rejects(
      #"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#,
      .rangeOutOfBounds(name: "t", end: 8, dataSize: 4))
    // A zero-sized dimension keeps later huge dimensions from overflowing, as in `Tensor`.
    assertRejects(
      file(
        #"{"t":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}"#, data: [1]),
      .trailingBytes(count: 1, dataSize: 1))
  }

  func testRejectsBadLayout() {
    let data = [UInt8](repeating: 0, count: 12)
    assertRejects(
      file(
        "{" + entry("a", shape: "[2]", offsets: "[0,8]") + ","
          + entry("b", shape: "[2]", offsets: "[4,12]") + "}", data: data),
      .overlappingRanges(first: "a", second: "b"))
    assertRejects(
      file(
        "{" + entry("a", shape: "[2]", offsets: "[4,12]") + ","
          + entry("b", shape: "[2]", offsets: "[0,8]") + "}", data: data),
      .overlappingRanges(first: "b", second: "a"))
    assertRejects(
      file(
        "{" + entry("a", shape: "[2]", offsets: "[0,8]") + ","
          + entry("b", shape: "[2]", offsets: "[0,8]") + "}", data: data),
      .overlappingRanges(first: "a", second: "b"))
    assertRejects(
      file(
        "{" + entry("a", shape: "[1]", offsets: "[0,4]") + ","
          + entry("b", shape: "[1]", offsets: "[8,12]") + "}", data: data),
      .gap(begin: 4, end: 8))
    assertRejects(
      file(
        "{" + entry("a", shape: "[1]", offsets: "[4,8]") + ","
          + entry("b", shape: "[1]", offsets: "[8,12]") + "}", data: data),
      .gap(begin: 0, end: 4))
    assertRejects(
      file("{" + entry("a", shape: "[2]", offsets: "[0,8]") + "}", data: data),
      .trailingBytes(count: 4, dataSize: 12))
    assertRejects(file("{}", data: [0]), .trailingBytes(count: 1, dataSize: 1))
    // Empty tensors may sit anywhere a range starts or ends.
    let ok = file(
      "{" + entry("a", shape: "[0]", offsets: "[0,0]") + ","
        + entry("b", shape: "[1]", offsets: "[0,4]") + ","
        + entry("c", shape: "[0]", offsets: "[4,4]") + "}", data: [0, 0, 0x80, 0x3F])
    XCTAssertEqual(try SafeTensors(decoding: ok).tensors.map(\.name), ["a", "b", "c"])
  }

  func testRejectsBadMetadata() {
    assertRejects(
      file(#"{"__metadata__":[]}"#), .invalidMetadata(reason: "expected an object, found an array"))
    assertRejects(
      file(#"{"__metadata__":"x"}"#), .invalidMetadata(reason: "expected an object, found a string")
    )
    assertRejects(
      file(#"{"__metadata__":{"epoch":3}}"#),
      .invalidMetadata(reason: #"value of "epoch" is a number, not a string"#))
    assertRejects(
      file(#"{"__metadata__":{"k":null}}"#),
      .invalidMetadata(reason: #"value of "k" is null, not a string"#))
    assertRejects(
      file(#"{"__metadata__":{"k":"1","k":"2"}}"#),
      .invalidMetadata(reason: #"key "k" appears more than once"#))
  }

  func testDescriptionsAreOneLineAndNameTheProblem() {
    let errors: [SafeTensorsError] = [
      .duplicateName("a\nb"), .entryNotObject(name: "x"), .gap(begin: 4, end: 8),
      .invalidField(name: "w", field: "shape", reason: "bad"),
      .unreadable(path: "/p", reason: "No such file"),
    ]
    for error in errors {
      XCTAssertFalse(error.description.contains("\n"), error.description)
    }
    XCTAssertEqual(
      SafeTensorsError.duplicateName("a\nb").description,
      #"checkpoint header names "a\nb" more than once"#)
    XCTAssertEqual(
      SafeTensorsError.gap(begin: 4, end: 8).description,
      "checkpoint data bytes 4..<8 belong to no tensor")
  }

  // MARK: Hostile input

  func testEveryTruncationThrows() throws {
    let bytes = sample().encoded()
    for length in 0..<bytes.count {
      XCTAssertThrowsError(try SafeTensors(decoding: Array(bytes[0..<length])), "length \(length)")
    }
    XCTAssertNoThrow(try SafeTensors(decoding: bytes))
  }

  func testRandomCorruptionNeverCrashes() {
    var generator = SplitMix64(seed: 0x5AFE)
    let valid = sample().encoded()
    var rejected = 0
    var accepted = 0
    for trial in 0..<3000 {
      var bytes = valid
      let flips = 1 + Int(generator.next() % 4)
      for _ in 0..<flips {
        // Bias towards the header, where the parser lives.
        let limit = trial % 2 == 0 ? min(bytes.count, 300) : bytes.count
        let index = Int(generator.next() % UInt64(limit))
        bytes[index] ^= UInt8(truncatingIfNeeded: 1 + generator.next() % 255)
      }
      do {
        _ = try SafeTensors(decoding: bytes)
        accepted += 1
      } catch is SafeTensorsError {
        rejected += 1
      } catch {
        XCTFail("unexpected error type \(error)")
      }
    }
    XCTAssertGreaterThan(rejected, 1000)
    XCTAssertGreaterThan(accepted, 0)
    // Pure garbage, with a plausible header length.
    for _ in 0..<500 {
      let count = Int(generator.next() % 64)
      let garbage = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
      let bytes = withUnsafeBytes(of: UInt64(count).littleEndian, Array.init) + garbage
      XCTAssertThrowsError(try SafeTensors(decoding: bytes))
    }
  }
}
