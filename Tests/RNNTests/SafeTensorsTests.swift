import Foundation
import XCTest

@testable import RNN
@testable import RNNData

/// The safetensors reader and writer: round trips, the exact bytes, dtypes. Validation is in
/// `SafeTensorsValidationTests.swift`, files in `SafeTensorsFileTests.swift`.
final class SafeTensorsTests: XCTestCase {
  // MARK: Helpers

  /// A file from a header string and data bytes, the header length written as given.
  func file(_ header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    let length = headerLength ?? UInt64(headerBytes.count)
    return withUnsafeBytes(of: length.littleEndian, Array.init) + headerBytes + data
  }

  /// A one-tensor header entry.
  func entry(_ name: String, _ dtype: String = "F32", shape: String, offsets: String)
    -> String
  {
    #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
  }

  func assertRejects(
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
  func jsonFailure(_ header: String) -> String? {
    do {
      _ = try SafeTensors(decoding: file(header))
      return nil
    } catch SafeTensorsError.headerNotJSON(_, let reason) {
      return reason
    } catch {
      return "wrong error: \(error)"
    }
  }

  func bits(_ tensor: Tensor?) -> [UInt32] {
    tensor?.scalars.map(\.bitPattern) ?? []
  }

  func sample() -> SafeTensors {
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

  func temporaryDirectory() throws -> URL {
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
}

/// A small seeded generator, so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
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
