/// The JSON reader and string writer shared by the hand-written JSON formats: the safetensors
/// header (`SafeTensors`) and the vocabulary array (`Vocabulary.jsonArray`).
///
/// The reader is a cursor with the primitives of the RFC 8259 grammar; each format composes them
/// into a parser for its own schema and turns `JSONSyntaxError` into its own error type.

/// Where and why JSON text breaks the grammar.
struct JSONSyntaxError: Error, Equatable {
  /// The UTF-8 byte offset of the problem.
  var offset: Int
  /// What is wrong, e.g. `expected ':'`.
  var reason: String
}

/// A number literal as written: its text, its sign, and whether it is an integer.
struct JSONNumber {
  var text: String
  var isNegative: Bool
  /// No fraction and no exponent.
  var isInteger: Bool
  /// The magnitude if `isInteger` and it fits in `Int`.
  var magnitude: Int?
}

/// A strict RFC 8259 reader over UTF-8 bytes: a byte cursor and the grammar's primitives.
///
/// Every read is bounds-checked against `bytes`, so no input makes it crash. It allocates only for
/// the values it returns (a string copies its bytes once, and only escapes make it build a
/// buffer), never per byte. The bytes must stay valid while the reader is used.
struct JSONReader {
  let bytes: UnsafeRawBufferPointer
  /// What the text is, for messages such as `unexpected end of header`.
  let textName: String
  /// The offset of the next byte to read.
  var position = 0

  init(bytes: UnsafeRawBufferPointer, textName: String = "text") {
    self.bytes = bytes
    self.textName = textName
  }

  /// The next byte, or `nil` at the end.
  func peek() -> UInt8? {
    position < bytes.count ? bytes[position] : nil
  }

  var isAtEnd: Bool { position >= bytes.count }

  /// An error at the current position.
  func error(_ reason: String) -> JSONSyntaxError {
    JSONSyntaxError(offset: position, reason: reason)
  }

  mutating func skipWhitespace() {
    while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
      position += 1
    }
  }

  /// Skips whitespace, then consumes `byte` if it is next.
  mutating func consume(_ byte: UInt8) -> Bool {
    skipWhitespace()
    guard peek() == byte else { return false }
    position += 1
    return true
  }

  /// Skips whitespace, then consumes `byte` or throws `reason` (by default `expected 'byte'`).
  mutating func expect(_ byte: UInt8, _ reason: String? = nil) throws(JSONSyntaxError) {
    guard consume(byte) else {
      throw error(reason ?? "expected '\(Character(Unicode.Scalar(byte)))'")
    }
  }

  /// After a member of an object or array: `true` on a comma, `false` on `closing`; otherwise
  /// throws `reason` (by default `expected ',' or 'closing'`).
  mutating func nextMember(closing: UInt8, _ reason: String? = nil) throws(JSONSyntaxError) -> Bool {
    if consume(UInt8(ascii: ",")) { return true }
    if consume(closing) { return false }
    throw error(reason ?? "expected ',' or '\(Character(Unicode.Scalar(closing)))'")
  }

  /// An object key and its colon, with the whitespace around them.
  mutating func readKey() throws(JSONSyntaxError) -> String {
    skipWhitespace()
    guard peek() == UInt8(ascii: "\"") else { throw error("expected a string key") }
    let key = try readString()
    try expect(UInt8(ascii: ":"))
    skipWhitespace()
    return key
  }

  /// Skips one value of any kind, after whitespace; arrays and objects may nest `maxDepth` deep
  /// below `depth`.
  mutating func skipValue(depth: Int, maxDepth: Int) throws(JSONSyntaxError) {
    skipWhitespace()
    guard let byte = peek() else { throw error("unexpected end of \(textName)") }
    switch byte {
    case UInt8(ascii: "{"), UInt8(ascii: "["):
      guard depth < maxDepth else { throw error("nesting deeper than \(maxDepth)") }
      let closing = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
      position += 1
      if consume(closing) { return }
      repeat {
        if closing == UInt8(ascii: "}") { _ = try readKey() }
        try skipValue(depth: depth + 1, maxDepth: maxDepth)
      } while try nextMember(closing: closing)
    case UInt8(ascii: "\""): _ = try readString()
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try readNumber()
    case UInt8(ascii: "t"): try readLiteral("true")
    case UInt8(ascii: "f"): try readLiteral("false")
    case UInt8(ascii: "n"): try readLiteral("null")
    default: throw error("unexpected byte 0x\(String(byte, radix: 16))")
    }
  }

  /// A name for the value starting at the current position, for messages: `an object`, ...
  func kindOfValue() -> String {
    switch peek() {
    case UInt8(ascii: "{"): return "an object"
    case UInt8(ascii: "["): return "an array"
    case UInt8(ascii: "\""): return "a string"
    case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
    case UInt8(ascii: "n"): return "null"
    default: return "a number"
    }
  }

  /// `true`, `false` or `null`.
  mutating func readLiteral(_ word: StaticString) throws(JSONSyntaxError) {
    let count = word.utf8CodeUnitCount
    guard count <= bytes.count - position else { throw error("invalid literal") }
    for i in 0..<count where bytes[position + i] != word.utf8Start[i] {
      throw error("invalid literal")
    }
    position += count
  }

  // MARK: Strings

  /// A string literal starting at its opening quote, with all escapes decoded (`\u` surrogate
  /// pairs must pair up). Bytes that are not valid UTF-8 are replaced with U+FFFD.
  mutating func readString() throws(JSONSyntaxError) -> String {
    guard peek() == UInt8(ascii: "\"") else { throw error("expected a string") }
    position += 1
    var start = position
    var decoded: [UInt8]? = nil  // only allocated once an escape appears
    while true {
      guard let byte = peek() else { throw error("unterminated string") }
      switch byte {
      case UInt8(ascii: "\""):
        let tail = UnsafeRawBufferPointer(rebasing: bytes[start..<position])
        position += 1
        guard var result = decoded else { return String(decoding: tail, as: UTF8.self) }
        result.append(contentsOf: tail)
        return String(decoding: result, as: UTF8.self)
      case UInt8(ascii: "\\"):
        var result = decoded ?? []
        decoded = nil  // keep `result` uniquely referenced while it grows
        result.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
        try readEscape(into: &result)
        decoded = result
        start = position
      case 0..<0x20:
        throw error("control character in string")
      default:
        position += 1
      }
    }
  }

  /// One escape sequence starting at the backslash, appended as UTF-8.
  private mutating func readEscape(into result: inout [UInt8]) throws(JSONSyntaxError) {
    position += 1
    guard let byte = peek() else { throw error("unterminated string") }
    position += 1
    switch byte {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): result.append(byte)
    case UInt8(ascii: "b"): result.append(0x08)
    case UInt8(ascii: "f"): result.append(0x0C)
    case UInt8(ascii: "n"): result.append(0x0A)
    case UInt8(ascii: "r"): result.append(0x0D)
    case UInt8(ascii: "t"): result.append(0x09)
    case UInt8(ascii: "u"):
      var value = try readHex4()
      if (0xDC00...0xDFFF).contains(value) { throw error("unpaired surrogate in \\u escape") }
      if (0xD800...0xDBFF).contains(value) {
        guard bytes.count - position >= 2, bytes[position] == UInt8(ascii: "\\"),
          bytes[position + 1] == UInt8(ascii: "u")
        else { throw error("unpaired surrogate in \\u escape") }
        position += 2
        let low = try readHex4()
        guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate in \\u escape") }
        value = 0x10000 + (value - 0xD800) << 10 + (low - 0xDC00)
      }
      guard let scalar = Unicode.Scalar(value) else { throw error("invalid \\u escape") }
      UTF8.encode(scalar) { result.append($0) }
    default:
      position -= 1
      throw error("invalid escape")
    }
  }

  /// The four hex digits of a `\u` escape.
  private mutating func readHex4() throws(JSONSyntaxError) -> UInt32 {
    guard bytes.count - position >= 4 else { throw error("truncated \\u escape") }
    var value: UInt32 = 0
    for _ in 0..<4 {
      let byte = bytes[position]
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: throw error("invalid hex digit in \\u escape")
      }
      value = value << 4 | UInt32(digit)
      position += 1
    }
    return value
  }

  // MARK: Numbers

  /// A number literal, checked against the JSON grammar; integers are read exactly.
  mutating func readNumber() throws(JSONSyntaxError) -> JSONNumber {
    let start = position
    let isNegative = peek() == UInt8(ascii: "-")
    if isNegative { position += 1 }
    func isDigit(_ byte: UInt8?) -> Bool { byte.map { (0x30...0x39).contains($0) } ?? false }
    guard isDigit(peek()) else { throw error("invalid number") }
    var magnitude: Int? = 0
    if peek() == UInt8(ascii: "0") {
      position += 1
    } else {
      while let byte = peek(), isDigit(byte) {
        if let m = magnitude {
          let (times10, o1) = m.multipliedReportingOverflow(by: 10)
          let (sum, o2) = times10.addingReportingOverflow(Int(byte - 0x30))
          magnitude = o1 || o2 ? nil : sum
        }
        position += 1
      }
    }
    var isInteger = true
    if peek() == UInt8(ascii: ".") {
      position += 1
      guard isDigit(peek()) else { throw error("invalid number") }
      while isDigit(peek()) { position += 1 }
      isInteger = false
    }
    if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
      position += 1
      if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
      guard isDigit(peek()) else { throw error("invalid number") }
      while isDigit(peek()) { position += 1 }
      isInteger = false
    }
    let text = String(
      decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    return JSONNumber(
      text: text, isNegative: isNegative, isInteger: isInteger,
      magnitude: isInteger ? magnitude : nil)
  }
}

// MARK: - Writing

/// `string` as a JSON string literal (see `appendJSONString`). With `safeInHTMLScript`, `<`, `>`,
/// `&` and `/` are escaped too (`\u003c` ...), so the literal can sit inside an HTML `<script>`
/// element without ending it.
public func jsonStringLiteral(_ string: String, safeInHTMLScript: Bool = false) -> String {
  var bytes: [UInt8] = []
  bytes.appendJSONString(string, safeInHTMLScript: safeInHTMLScript)
  return String(decoding: bytes, as: UTF8.self)
}

/// `numbers` as a JSON array: `[19, 13]`.
public func jsonArray(_ numbers: [Int]) -> String {
  "[" + numbers.map(String.init).joined(separator: ", ") + "]"
}

extension [UInt8] {
  /// Appends `string` as a JSON string literal.
  ///
  /// Quotes, backslashes and control characters (C0, DEL, C1, U+2028, U+2029) are escaped, with
  /// the short forms `\n \r \t \b \f` where JSON has them and `\u00xx` (lowercase) otherwise;
  /// with `safeInHTMLScript` also `<`, `>`, `&` and `/`; everything else is written as raw UTF-8.
  /// The result parses with `JSONReader.readString()` and with Python's `json.loads`.
  mutating func appendJSONString(_ string: String, safeInHTMLScript: Bool = false) {
    append(UInt8(ascii: "\""))
    for scalar in string.unicodeScalars {
      let value = scalar.value
      switch value {
      case 0x22: append(contentsOf: #"\""#.utf8)
      case 0x5C: append(contentsOf: #"\\"#.utf8)
      case 0x0A: append(contentsOf: #"\n"#.utf8)
      case 0x0D: append(contentsOf: #"\r"#.utf8)
      case 0x09: append(contentsOf: #"\t"#.utf8)
      case 0x08: append(contentsOf: #"\b"#.utf8)
      case 0x0C: append(contentsOf: #"\f"#.utf8)
      case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029: appendUnicodeEscape(value)
      case 0x26, 0x2F, 0x3C, 0x3E:  // & / < >
        if safeInHTMLScript { appendUnicodeEscape(value) } else { append(UInt8(truncatingIfNeeded: value)) }
      case 0..<0x80: append(UInt8(truncatingIfNeeded: value))
      default: UTF8.encode(scalar) { append($0) }
      }
    }
    append(UInt8(ascii: "\""))
  }

  /// Appends `\uXXXX` (lowercase hex) for a scalar value below 0x10000.
  private mutating func appendUnicodeEscape(_ value: UInt32) {
    let hex: StaticString = "0123456789abcdef"
    append(contentsOf: #"\u"#.utf8)
    for shift in stride(from: 12, through: 0, by: -4) {
      append(hex.utf8Start[Int(value >> UInt32(shift) & 0xF)])
    }
  }
}
