import Foundation
import XCTest

@testable import RNN

final class SafeTensorsTests: XCTestCase {
  // MARK: Helpers

  /// A file from a header string and data bytes, the header length written as given.
  private func file(_ header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    let length = headerLength ?? UInt64(headerBytes.count)
    return withUnsafeBytes(of: length.littleEndian, Array.init) + headerBytes + data
  }

  /// A one-tensor header entry.
  private func entry(_ name: String, _ dtype: String = "F32", shape: String, offsets: String)
    -> String
  {
    #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
  }

  private func assertRejects(
    _ bytes: [UInt8], _ expected: SafeTensorsError,
    maxHeaderLength: Int = SafeTensors.maxHeaderLength,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertThrowsError(
      try SafeTensors(decoding: bytes, maxHeaderLength: maxHeaderLength), file: file, line: line
    ) {
      XCTAssertEqual($0 as? SafeTensorsError, expected, file: file, line: line)
      let description = String(describing: $0)
      XCTAssertFalse(
        description.contains("\n"), "multi-line description: \(description)", file: file, line: line
      )
    }
  }

  /// The reason an error is `headerNotJSON`, or `nil`.
  private func jsonFailure(_ header: String) -> String? {
    do {
      _ = try SafeTensors(decoding: file(header))
      return nil
    } catch SafeTensorsError.headerNotJSON(_, let reason) {
      return reason
    } catch {
      return "wrong error: \(error)"
    }
  }

  private func bits(_ tensor: Tensor?) -> [UInt32] {
    tensor?.scalars.map(\.bitPattern) ?? []
  }

  private func sample() -> SafeTensors {
    let specials: [Float] = [
      Float(bitPattern: 0x7FC0_1234),  // quiet NaN with payload
      Float(bitPattern: 0x7F80_0001),  // signalling NaN
      Float(bitPattern: 0xFFC0_0000),  // negative NaN
      -0.0, 0.0, .infinity, -.infinity, .leastNonzeroMagnitude, -.greatestFiniteMagnitude, 1.5,
    ]
    return SafeTensors(
      tensors: [
        ("specials", Tensor(shape: [2, 5], scalars: specials)),
        ("scalar", Tensor(shape: [], scalars: [42])),
        ("empty", Tensor(shape: [3, 0, 2], scalars: [])),
        ("embedding.weight", Tensor(shape: [3, 1], scalars: [1, 2, 3])),
        ("ü \"quoted\" \\ name", Tensor(shape: [1], scalars: [-1])),
      ],
      metadata: [
        "format": "pt",
        "quote": "she said \"hi\" \\ back",
        "unicode": "naïve 日本語 🎉",
        "control": "line1\nline2\ttab\u{1}",
        "": "",
      ])
  }

  private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("SafeTensorsTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
  }

  // MARK: Round trip and format

  func testRoundTripIsBitExact() throws {
    let original = sample()
    let decoded = try SafeTensors(decoding: original.encoded())
    XCTAssertEqual(decoded, original)
    XCTAssertEqual(decoded.tensors.map(\.name), original.tensors.map(\.name))
    XCTAssertEqual(decoded.metadata, original.metadata)
    for (a, b) in zip(decoded.tensors, original.tensors) {
      XCTAssertEqual(a.tensor.shape, b.tensor.shape)
      XCTAssertEqual(bits(a.tensor), bits(b.tensor), a.name)
    }
    XCTAssertEqual(decoded.encoded(), original.encoded())
  }

  func testEqualityIsBitwise() {
    let nan = SafeTensors(tensors: [("x", Tensor(shape: [1], scalars: [.nan]))])
    XCTAssertEqual(nan, nan)
    let zero = SafeTensors(tensors: [("x", Tensor(shape: [1], scalars: [0]))])
    let negativeZero = SafeTensors(tensors: [("x", Tensor(shape: [1], scalars: [-0.0]))])
    XCTAssertNotEqual(zero, negativeZero)
    let ab = SafeTensors(tensors: [("a", zero.tensors[0].tensor), ("b", zero.tensors[0].tensor)])
    let ba = SafeTensors(tensors: [("b", zero.tensors[0].tensor), ("a", zero.tensors[0].tensor)])
    XCTAssertNotEqual(ab, ba)
    XCTAssertNotEqual(zero, SafeTensors(tensors: zero.tensors, metadata: ["k": "v"]))
    XCTAssertNotEqual(zero, SafeTensors(tensors: [("x", Tensor(shape: [1, 1], scalars: [0]))]))
  }

  func testSubscriptFindsByName() {
    let st = sample()
    XCTAssertEqual(st["embedding.weight"]?.scalars, [1, 2, 3])
    XCTAssertEqual(st["scalar"]?.shape, [])
    XCTAssertNil(st["missing"])
  }

  func testWriterProducesExpectedBytes() {
    let st = SafeTensors(
      tensors: [
        ("w", Tensor(shape: [2], scalars: [1, -2])), ("b", Tensor(shape: [], scalars: [0.5])),
      ],
      metadata: ["k": "v\"", "a": "é"])
    let header =
      #"{"__metadata__":{"a":"é","k":"v\""},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
      + #""b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}"#
    var expectedHeader = Array(header.utf8)
    while (8 + expectedHeader.count) % 8 != 0 { expectedHeader.append(0x20) }
    let length = UInt64(expectedHeader.count)
    let expected: [UInt8] =
      (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + expectedHeader
      + [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x3F]
    XCTAssertEqual(st.encoded(), expected)
  }

  func testWriterEscapesControlCharactersLikeVocabulary() throws {
    let awkward = "q\"b\\\u{8}\u{C}\n\r\t\u{1}\u{7F}\u{85}\u{2028}\u{2029}é😀"
    let st = SafeTensors(metadata: ["k": awkward])
    let header = String(decoding: st.encodedHeader(), as: UTF8.self)
    XCTAssertEqual(
      header.trimmingCharacters(in: .whitespaces),
      #"{"__metadata__":{"k":"q\"b\\\b\f\n\r\t\u0001\u007f\u0085\u2028\u2029é😀"}}"#)
    XCTAssertEqual(try SafeTensors(decoding: st.encoded()).metadata, ["k": awkward])
    // A long string of escapes decodes in one pass.
    let many = String(repeating: #"\n\u00e9"#, count: 50_000)
    let decoded = try SafeTensors(decoding: file(#"{"__metadata__":{"k":"\#(many)"}}"#))
    XCTAssertEqual(decoded.metadata["k"], String(repeating: "\né", count: 50_000))
  }

  func testEmptyFileEncodesToPaddedEmptyObject() throws {
    let bytes = SafeTensors().encoded()
    XCTAssertEqual(bytes, [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
    XCTAssertEqual(try SafeTensors(decoding: bytes), SafeTensors())
  }

  func testDataSectionIsEightByteAligned() throws {
    for nameLength in 0..<20 {
      for metadataLength in [0, 1, 3, 7] {
        let st = SafeTensors(
          tensors: [
            (String(repeating: "n", count: nameLength), Tensor(shape: [3], scalars: [1, 2, 3]))
          ],
          metadata: metadataLength == 0 ? [:] : ["k": String(repeating: "v", count: metadataLength)]
        )
        let bytes = st.encoded()
        let headerLength = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual((8 + headerLength) % 8, 0)
        XCTAssertEqual(bytes.count, 8 + headerLength + 12)
        let header = bytes[8..<(8 + headerLength)]
        let close = try XCTUnwrap(header.lastIndex(of: UInt8(ascii: "}")))
        XCTAssertTrue(header[(close + 1)...].allSatisfy { $0 == 0x20 })
        XCTAssertLessThan(header.count - (close - 8 + 1), 8)
      }
    }
  }

  func testParsesHandBuiltFile() throws {
    // Keys out of data order, metadata in the middle, extra fields, whitespace.
    let header = """
      { "bias" : {"dtype":"F32","shape":[2],"data_offsets":[4,12], "extra": [null, true, {"x": 1.5e3}]},
        "__metadata__": {"format": "pt", "esc\\u00e9": "tab\\there \\ud83c\\udf89"},
        "scale": {"shape": [], "data_offsets": [0, 4], "dtype": "F32"} }\u{20}\u{20}
      """
    XCTAssertLessThan(header.utf8.count, 256)
    let bytes: [UInt8] =
      [UInt8(header.utf8.count), 0, 0, 0, 0, 0, 0, 0] + Array(header.utf8)
      + [0x00, 0x00, 0x20, 0x40]  // scale = 2.5
      + [0x00, 0x00, 0x80, 0xBF, 0x00, 0x00, 0x00, 0x00]  // bias = [-1, 0]
    let st = try SafeTensors(decoding: bytes)
    XCTAssertEqual(st.tensors.map(\.name), ["bias", "scale"])
    XCTAssertEqual(st["bias"]?.shape, [2])
    XCTAssertEqual(st["bias"]?.scalars, [-1, 0])
    XCTAssertEqual(st["scale"]?.shape, [])
    XCTAssertEqual(st["scale"]?.scalars, [2.5])
    XCTAssertEqual(st.metadata, ["format": "pt", "escé": "tab\there 🎉"])
  }

  // MARK: Dtype conversion

  func testConvertsOtherDtypes() throws {
    func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
      values.flatMap { value in withUnsafeBytes(of: value.littleEndian, Array.init) }
    }
    let columns: [(dtype: String, data: [UInt8], expected: [Float])] = [
      ("F64", le([1.5, -2, 1e300].map { ($0 as Double).bitPattern }), [1.5, -2, .infinity]),
      (
        "F16", le([0x3C00, 0xC000, 0x7C00, 0x0001, 0x8000, 0x3555] as [UInt16]),
        [1, -2, .infinity, 0x1p-24, -0.0, 0.333251953125]
      ),
      ("BF16", le([0x3F80, 0xC040, 0xFF80] as [UInt16]), [1, -3, -.infinity]),
      ("I64", le([-5, 7, Int64.min] as [Int64]), [-5, 7, -0x1p63]),
      ("I32", le([-100_000, 3] as [Int32]), [-100_000, 3]),
      ("I16", le([-300, 300] as [Int16]), [-300, 300]),
      ("I8", le([-128, 127] as [Int8]), [-128, 127]),
      ("U64", le([UInt64.max, 9] as [UInt64]), [0x1p64, 9]),
      ("U32", le([4_000_000_000] as [UInt32]), [4e9]),
      ("U16", le([65535] as [UInt16]), [65535]),
      ("U8", [0, 255], [0, 255]),
      ("BOOL", [0, 1, 2], [0, 1, 1]),
    ]
    for column in columns {
      let count = column.expected.count
      let bytes = file(
        "{" + entry("t", column.dtype, shape: "[\(count)]", offsets: "[0,\(column.data.count)]")
          + "}",
        data: column.data)
      let st = try SafeTensors(decoding: bytes)
      XCTAssertEqual(bits(st["t"]), column.expected.map(\.bitPattern), column.dtype)
    }
  }

  func testHalfConversionMatchesFloat16ForEveryBitPattern() {
    #if !(os(macOS) && arch(x86_64))
      for pattern in 0...UInt16.max {
        let expected = Float(Float16(bitPattern: pattern))
        let actual = SafeTensors.floatFromHalf(pattern)
        if expected.isNaN {
          XCTAssertTrue(actual.isNaN)
          XCTAssertEqual(actual.bitPattern & 0x8000_0000, expected.bitPattern & 0x8000_0000)
        } else {
          XCTAssertEqual(actual.bitPattern, expected.bitPattern, "pattern \(pattern)")
        }
      }
    #endif
  }

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

  // MARK: Writer checks

  func testWriterRejectsWhatItCannotEncode() throws {
    let directory = try temporaryDirectory()
    let path = directory.appendingPathComponent("bad.safetensors").path
    let one = Tensor(shape: [1], scalars: [1])
    XCTAssertThrowsError(try SafeTensors(tensors: [("a", one), ("a", one)]).write(to: path)) {
      XCTAssertEqual($0 as? SafeTensorsError, .duplicateName("a"))
    }
    XCTAssertThrowsError(try SafeTensors(tensors: [("__metadata__", one)]).write(to: path)) {
      XCTAssertEqual($0 as? SafeTensorsError, .reservedName("__metadata__"))
    }
    var wrong = one
    wrong.scalars.append(2)
    XCTAssertThrowsError(try SafeTensors(tensors: [("w", wrong)]).write(to: path)) {
      XCTAssertEqual($0 as? SafeTensorsError, .scalarCountMismatch(name: "w", shape: [1], count: 2))
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
  }

  // MARK: Files

  func testWriteThenReadFile() throws {
    let directory = try temporaryDirectory()
    let path = directory.appendingPathComponent("model.safetensors").path
    try sample().write(to: path)
    XCTAssertEqual(try SafeTensors(contentsOf: path), sample())
    XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path))), sample().encoded())

    let replacement = SafeTensors(tensors: [("x", Tensor(shape: [1], scalars: [7]))])
    try replacement.write(to: path)
    XCTAssertEqual(try SafeTensors(contentsOf: path), replacement)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
  }

  func testFailedWriteLeavesPreviousFileAndNoJunk() throws {
    let directory = try temporaryDirectory()
    let path = directory.appendingPathComponent("model.safetensors").path
    let old = SafeTensors(tensors: [("old", Tensor(shape: [2], scalars: [1, 2]))])
    try old.write(to: path)
    let oldBytes = try Data(contentsOf: URL(fileURLWithPath: path))
    for step in SafeTensors.WriteStep.allCases {
      XCTAssertThrowsError(try sample().write(to: path, failingAt: step), "\(step)") {
        guard case .unwritable(let failedPath, let reason)? = $0 as? SafeTensorsError else {
          return XCTFail("wrong error \($0)")
        }
        XCTAssertEqual(failedPath, path)
        XCTAssertTrue(reason.hasSuffix("simulated failure"), reason)
      }
      XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), oldBytes, "\(step)")
      XCTAssertEqual(
        try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"],
        "\(step)")
    }
  }

  func testWriteIntoMissingDirectoryThrowsAndCreatesNothing() throws {
    let directory = try temporaryDirectory()
    let path = directory.appendingPathComponent("missing/model.safetensors").path
    XCTAssertThrowsError(try sample().write(to: path)) {
      guard case .unwritable(let failedPath, let reason)? = $0 as? SafeTensorsError else {
        return XCTFail("wrong error \($0)")
      }
      XCTAssertEqual(failedPath, path)
      XCTAssertTrue(reason.hasSuffix("No such file or directory"), reason)
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
  }

  func testWriteOverDirectoryFailsAtRenameAndCleansUp() throws {
    let directory = try temporaryDirectory()
    let target = directory.appendingPathComponent("occupied")
    try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
    try Data([1, 2, 3]).write(to: target.appendingPathComponent("inside"))
    XCTAssertThrowsError(try sample().write(to: target.path)) {
      guard case .unwritable(_, let reason)? = $0 as? SafeTensorsError else {
        return XCTFail("wrong error \($0)")
      }
      XCTAssertTrue(reason.contains("cannot rename"), reason)
    }
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: directory.path), ["occupied"])
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target.path), ["inside"])
    XCTAssertThrowsError(try sample().write(to: directory.path + "/")) {
      XCTAssertEqual(
        $0 as? SafeTensorsError,
        .unwritable(path: directory.path + "/", reason: "path names a directory"))
    }
  }

  func testWriteIntoReadOnlyDirectoryKeepsPreviousFile() throws {
    try XCTSkipIf(geteuid() == 0, "root ignores directory permissions")
    let directory = try temporaryDirectory()
    let path = directory.appendingPathComponent("model.safetensors").path
    let old = SafeTensors(tensors: [("old", Tensor(shape: [1], scalars: [1]))])
    try old.write(to: path)
    XCTAssertEqual(chmod(directory.path, 0o555), 0)
    defer { chmod(directory.path, 0o755) }
    XCTAssertThrowsError(try sample().write(to: path)) {
      guard case .unwritable(_, let reason)? = $0 as? SafeTensorsError else {
        return XCTFail("wrong error \($0)")
      }
      XCTAssertTrue(reason.hasSuffix("Permission denied"), reason)
    }
    XCTAssertEqual(try SafeTensors(contentsOf: path), old)
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
  }

  func testReadErrorsNameThePathAndReason() throws {
    let directory = try temporaryDirectory()
    let missing = directory.appendingPathComponent("nope.safetensors").path
    XCTAssertThrowsError(try SafeTensors(contentsOf: missing)) {
      XCTAssertEqual(
        $0 as? SafeTensorsError, .unreadable(path: missing, reason: "No such file or directory"))
    }
    XCTAssertThrowsError(try SafeTensors(contentsOf: directory.path)) {
      XCTAssertEqual(
        $0 as? SafeTensorsError, .unreadable(path: directory.path, reason: "Is a directory"))
    }
    let corrupt = directory.appendingPathComponent("corrupt.safetensors")
    try Data([1, 2, 3]).write(to: corrupt)
    XCTAssertThrowsError(try SafeTensors(contentsOf: corrupt.path)) {
      XCTAssertEqual($0 as? SafeTensorsError, .truncatedLength(size: 3))
    }
  }

  // MARK: Performance

  func testFiftyMegabytesRoundTripQuickly() throws {
    var generator = SplitMix64(seed: 1)
    let count = 50_000_000 / 4
    var big = Tensor(shape: [count / 1000, 1000])
    big.withUnsafeMutableBufferPointer { buffer in
      for i in stride(from: 0, to: buffer.count, by: 997) {
        buffer[i] = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
      }
    }
    let st = SafeTensors(tensors: [
      ("big", big), ("small", Tensor(shape: [3], scalars: [1, 2, 3])),
    ])
    let start = Date()
    let bytes = st.encoded()
    let decoded = try SafeTensors(decoding: bytes)
    let elapsed = Date().timeIntervalSince(start)
    XCTAssertEqual(
      bytes.count, 8 + bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) } + 4 * (count + 3))
    XCTAssertEqual(decoded, st)
    XCTAssertLessThan(elapsed, 2.0, "50 MB encode + decode took \(elapsed) s")
  }
}

/// A small seeded generator, so failures reproduce.
private struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
