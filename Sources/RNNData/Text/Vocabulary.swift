/// The token set of a character-level model: an ordered list of Unicode scalars, whose index is
/// the token id (`0 ..< V`), and the encoding that says how text maps onto them (see
/// `TextEncoding`: a `utf8` vocabulary's scalars are characters; `Vocabulary.bytes` stands for the
/// 256 byte values).
///
/// Lookup from scalar to id is a dense table for scalars below U+10000 (sized to the largest such
/// scalar in the vocabulary) plus a dictionary for the rest. Two vocabularies are equal when their
/// scalar lists and encodings are equal.
public struct Vocabulary: Equatable, Sendable {
  /// The tokens; `scalars[id]` is the scalar of token `id`.
  public let scalars: [Unicode.Scalar]
  /// How text maps onto the scalars: `utf8` for every vocabulary but `Vocabulary.bytes`.
  public let encoding: TextEncoding
  /// `bmpIDs[s]` is the id of scalar `s` (for `s < bmpIDs.count`), or -1 when `s` is absent.
  private let bmpIDs: [Int32]
  /// Ids of the scalars at or above `bmpIDs.count`.
  private let otherIDs: [UInt32: Int32]

  /// A vocabulary of `scalars` in the given order. Throws `VocabularyError.duplicateScalar` if a
  /// scalar appears twice.
  public init(scalars: [Unicode.Scalar]) throws {
    var firstIndex: [Unicode.Scalar: Int] = [:]
    for (index, scalar) in scalars.enumerated() {
      if let first = firstIndex.updateValue(index, forKey: scalar) {
        throw VocabularyError.duplicateScalar(scalar, first: first, second: index)
      }
    }
    self.init(uniqueScalars: scalars)
  }

  /// The sorted (by scalar value) unique scalars of `text`.
  public init(building text: String) {
    var seen = ScalarSet()
    for scalar in text.unicodeScalars { seen.insert(scalar.value) }
    self.init(uniqueScalars: seen.sortedScalars())
  }

  /// The vocabulary of byte-level models: U+0000 ... U+00FF standing for bytes 0 ... 255, so
  /// token id = byte value.
  public static let bytes = Vocabulary(uniqueScalars: (0...255).map { Unicode.Scalar(UInt8($0)) }, encoding: .bytes)

  /// A vocabulary of scalars already known to be unique.
  init(uniqueScalars scalars: [Unicode.Scalar], encoding: TextEncoding = .utf8) {
    require(scalars.count <= Int(Int32.max), "vocabulary too large")
    let bmpLimit: UInt32 = 0x1_0000
    let largestBMP = scalars.lazy.map(\.value).filter { $0 < bmpLimit }.max()
    var bmpIDs = [Int32](repeating: -1, count: largestBMP.map { Int($0) + 1 } ?? 0)
    var otherIDs: [UInt32: Int32] = [:]
    for (index, scalar) in scalars.enumerated() {
      if scalar.value < bmpLimit {
        bmpIDs[Int(scalar.value)] = Int32(index)
      } else {
        otherIDs[scalar.value] = Int32(index)
      }
    }
    self.scalars = scalars
    self.encoding = encoding
    self.bmpIDs = bmpIDs
    self.otherIDs = otherIDs
  }

  public static func == (lhs: Vocabulary, rhs: Vocabulary) -> Bool {
    lhs.encoding == rhs.encoding && lhs.scalars == rhs.scalars
  }

  /// The number of tokens, `V`.
  public var count: Int { scalars.count }

  /// The id of `scalar`, or nil if it is not in the vocabulary.
  @inlinable
  public func id(of scalar: Unicode.Scalar) -> Int32? {
    let id = id(ofValue: scalar.value)
    return id < 0 ? nil : id
  }

  /// The id of the scalar with value `value`, or -1 if it is not in the vocabulary.
  @usableFromInline
  func id(ofValue value: UInt32) -> Int32 {
    if value < UInt32(truncatingIfNeeded: bmpIDs.count) {
      return bmpIDs.withUnsafeBufferPointer { $0[Int(value)] }
    }
    return otherIDs[value] ?? -1
  }

  /// The scalar of token `id`, which must be in `0 ..< count`.
  public func scalar(for id: Int32) -> Unicode.Scalar {
    require(id >= 0 && Int(id) < scalars.count, "token id \(id) is outside 0..<\(scalars.count)")
    return scalars[Int(id)]
  }

  /// The ids of the scalars of `string` (for `Vocabulary.bytes`: of its UTF-8 bytes, which are
  /// all in it). Throws `VocabularyError.unknownCharacters` naming the first scalar that is not in
  /// the vocabulary, its position and how many such scalars there are.
  public func encode(_ string: String) throws -> [Int32] {
    if encoding == .bytes { return string.utf8.map { Int32($0) } }
    var ids: [Int32] = []
    ids.reserveCapacity(string.utf8.count)
    var firstUnknown: (scalar: Unicode.Scalar, position: Int)?
    var unknownCount = 0
    for (position, scalar) in string.unicodeScalars.enumerated() {
      let id = id(ofValue: scalar.value)
      if id < 0 {
        if firstUnknown == nil { firstUnknown = (scalar, position) }
        unknownCount += 1
      }
      ids.append(id)
    }
    if let first = firstUnknown {
      throw VocabularyError.unknownCharacters(first: first.scalar, position: first.position, count: unknownCount)
    }
    return ids
  }

  /// The text of token ids, each of which must be in `0 ..< count`. For `Vocabulary.bytes`, the
  /// bytes read as UTF-8, ill-formed sequences replaced by U+FFFD (`bytes(of:)` has them exactly).
  public func decode<S: Sequence>(_ ids: S) -> String where S.Element == Int32 {
    if encoding == .bytes { return String(decoding: bytes(of: ids), as: UTF8.self) }
    var view = String.UnicodeScalarView()
    for id in ids { view.append(scalar(for: id)) }
    return String(view)
  }

  /// The output of token ids as bytes: the UTF-8 of their scalars, or for `Vocabulary.bytes` the
  /// bytes themselves. Each id must be in `0 ..< count`.
  public func bytes<S: Sequence>(of ids: S) -> [UInt8] where S.Element == Int32 {
    var out: [UInt8] = []
    for id in ids {
      let scalar = scalar(for: id)
      if encoding == .bytes {
        out.append(UInt8(scalar.value))
      } else {
        out.append(contentsOf: UTF8.encode(scalar)!)
      }
    }
    return out
  }
}

// MARK: - JSON

extension Vocabulary {
  /// The scalars as a JSON array of one-scalar strings, e.g. `["\n"," ","a","\u0000"]`.
  ///
  /// Quotes, backslashes and control characters (C0, DEL, C1, U+2028, U+2029) are escaped; other
  /// scalars are written as UTF-8. The text parses with Python's `json.loads` and with
  /// `init(jsonArray:)`.
  public var jsonArray: String {
    var out: [UInt8] = [UInt8(ascii: "[")]
    for (index, scalar) in scalars.enumerated() {
      if index > 0 { out.append(UInt8(ascii: ",")) }
      out.appendJSONString(String(scalar))
    }
    out.append(UInt8(ascii: "]"))
    return String(decoding: out, as: UTF8.self)
  }

  /// Parses the output of `jsonArray`: a JSON array of strings, each exactly one Unicode scalar,
  /// with no duplicates. Any valid JSON spelling is accepted (whitespace, `\u` escapes, surrogate
  /// pairs).
  public init(jsonArray json: String) throws {
    var json = json
    let strings = try json.withUTF8 { try Vocabulary.readStringArray(UnsafeRawBufferPointer($0)) }
    var scalars: [Unicode.Scalar] = []
    scalars.reserveCapacity(strings.count)
    for (index, string) in strings.enumerated() {
      let view = string.unicodeScalars
      guard view.count == 1, let scalar = view.first else {
        throw VocabularyError.notOneScalar(index: index, value: string)
      }
      scalars.append(scalar)
    }
    try self.init(scalars: scalars)
  }

  /// A JSON array of strings and nothing else (but whitespace), read strictly per RFC 8259.
  private static func readStringArray(_ bytes: UnsafeRawBufferPointer) throws -> [String] {
    var reader = JSONReader(bytes: bytes)
    do throws(JSONSyntaxError) {
      try reader.expect(UInt8(ascii: "["), "expected '[' at the start of the array")
      var strings: [String] = []
      if !reader.consume(UInt8(ascii: "]")) {
        repeat {
          reader.skipWhitespace()
          strings.append(try reader.readString())
        } while try reader.nextMember(
          closing: UInt8(ascii: "]"), "expected ',' or ']' after an array element")
      }
      reader.skipWhitespace()
      guard reader.isAtEnd else { throw reader.error("unexpected text after the array") }
      return strings
    } catch {
      throw VocabularyError.malformedJSON(reason: error.reason, offset: error.offset)
    }
  }
}

// MARK: - Errors

/// Errors from building a vocabulary, parsing its JSON or encoding text with it.
public enum VocabularyError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A scalar appears twice in the list, at indices `first` and `second`.
  case duplicateScalar(Unicode.Scalar, first: Int, second: Int)
  /// Text has `count` scalars not in the vocabulary; the first is at scalar offset `position`.
  case unknownCharacters(first: Unicode.Scalar, position: Int, count: Int)
  /// The vocabulary JSON is not an array of strings; `offset` is the UTF-8 byte offset of the problem.
  case malformedJSON(reason: String, offset: Int)
  /// Element `index` of the vocabulary JSON array is not exactly one Unicode scalar.
  case notOneScalar(index: Int, value: String)

  public var description: String {
    switch self {
    case .duplicateScalar(let scalar, let first, let second):
      return "vocabulary lists \(scalar.readable) twice (at indices \(first) and \(second))"
    case .unknownCharacters(let first, let position, let count):
      return "\(count) character\(count == 1 ? " is" : "s are") not in the vocabulary; the first is "
        + "\(first.readable) at character \(position)"
    case .malformedJSON(let reason, let offset):
      return "vocabulary JSON is malformed at byte \(offset): \(reason)"
    case .notOneScalar(let index, let value):
      return "vocabulary JSON element \(index) (\(value.debugDescription)) is "
        + "\(value.unicodeScalars.count) Unicode scalars, not exactly one"
    }
  }
}

// MARK: - Helpers shared by the text readers

extension Unicode.Scalar {
  /// A form for error messages that shows invisible characters: `"a" (U+0061)`, `"\n" (U+000A)`.
  var readable: String {
    let hex = String(value, radix: 16, uppercase: true)
    return "\"\(escaped(asASCII: false))\" (U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex))"
  }
}

/// A set of Unicode scalar values as a bitmap over `0 ... 0x10FFFF` (136 KiB).
struct ScalarSet {
  private var words = [UInt64](repeating: 0, count: 0x11_0000 / 64)

  @inline(__always)
  mutating func insert(_ value: UInt32) {
    words.withUnsafeMutableBufferPointer { $0[Int(value >> 6)] |= 1 << UInt64(value & 63) }
  }

  /// The members in increasing order.
  func sortedScalars() -> [Unicode.Scalar] {
    var result: [Unicode.Scalar] = []
    for (index, word) in words.enumerated() where word != 0 {
      var w = word
      while w != 0 {
        let bit = w.trailingZeroBitCount
        result.append(Unicode.Scalar(UInt32(index * 64 + bit))!)
        w &= w - 1
      }
    }
    return result
  }
}
