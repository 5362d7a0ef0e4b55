/// Where and why UTF-8 decoding failed.
struct UTF8DecodingFailure: Error {
  /// The offset of the first byte of the ill-formed sequence.
  var offset: Int
  var reason: String
}

/// What the decoder writes for each scalar value.
protocol ScalarMapping {
  func callAsFunction(_ value: UInt32) -> Int32
}

/// Writes the scalar value itself.
struct Identity: ScalarMapping {
  @inline(__always) func callAsFunction(_ value: UInt32) -> Int32 { Int32(bitPattern: value) }
}

/// Writes the scalar value and sets `seen[value]` to 0 (`seen` covers `0 ... 0x10FFFF`).
struct MarkingIdentity: ScalarMapping {
  let seen: UnsafeMutablePointer<Int32>
  @inline(__always) func callAsFunction(_ value: UInt32) -> Int32 {
    seen[Int(value)] = 0
    return Int32(bitPattern: value)
  }
}

/// Decodes strict UTF-8 (Unicode Table 3-7: no overlong forms, no surrogates, nothing past
/// U+10FFFF) into scalar values.
func decodeUTF8(
  _ bytes: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<Int32>
) -> Result<Int, UTF8DecodingFailure> {
  decodeUTF8(bytes, into: out, mapping: Identity())
}

/// Decodes strict UTF-8 (Unicode Table 3-7: no overlong forms, no surrogates, nothing past
/// U+10FFFF), writing `mapping(scalar value)` for each scalar. `out` must hold at least
/// `bytes.count` values. Returns the number of scalars written.
func decodeUTF8<Mapping: ScalarMapping>(
  _ bytes: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<Int32>, mapping: Mapping
) -> Result<Int, UTF8DecodingFailure> {
  let n = bytes.count
  guard n > 0, let p = bytes.baseAddress, let q = out.baseAddress else { return .success(0) }
  require(out.count >= n, "output buffer too small")
  var i = 0
  var o = 0

  @inline(__always) func isContinuation(_ b: UInt8) -> Bool { b & 0xC0 == 0x80 }
  func failure(_ reason: String) -> Result<Int, UTF8DecodingFailure> {
    .failure(UTF8DecodingFailure(offset: i, reason: reason))
  }
  func hex(_ b: UInt8) -> String {
    let digits = String(b, radix: 16, uppercase: true)
    return "0x" + (digits.count == 1 ? "0" : "") + digits
  }

  while i < n {
    // ASCII fast path: 8 bytes at a time.
    while i &+ 8 <= n {
      let word = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
      if word & 0x8080_8080_8080_8080 != 0 { break }
      for j in 0..<8 { q[o &+ j] = mapping(UInt32(p[i &+ j])) }
      i &+= 8
      o &+= 8
    }
    if i >= n { break }
    let b0 = p[i]
    if b0 < 0x80 {
      q[o] = mapping(UInt32(b0))
      i &+= 1
      o &+= 1
      continue
    }
    let length: Int
    var lower: UInt8 = 0x80  // allowed range of the second byte
    var upper: UInt8 = 0xBF
    var rangeReason = ""
    switch b0 {
    case 0x80...0xBF: return failure("unexpected continuation byte \(hex(b0))")
    case 0xC0, 0xC1: return failure("overlong encoding (lead byte \(hex(b0)))")
    case 0xC2...0xDF: length = 2
    case 0xE0: length = 3; lower = 0xA0; rangeReason = "overlong encoding"
    case 0xED: length = 3; upper = 0x9F; rangeReason = "encoded surrogate (U+D800...U+DFFF)"
    case 0xE1...0xEF: length = 3
    case 0xF0: length = 4; lower = 0x90; rangeReason = "overlong encoding"
    case 0xF4: length = 4; upper = 0x8F; rangeReason = "code point beyond U+10FFFF"
    case 0xF1...0xF3: length = 4
    default: return failure("invalid byte \(hex(b0))")
    }
    // Every byte after the lead must be a continuation byte.
    for k in 1..<length where i + k >= n || !isContinuation(p[i + k]) {
      return failure(
        i + k >= n
          ? "incomplete \(length)-byte sequence at end of file"
          : "incomplete \(length)-byte sequence (byte \(hex(p[i + k])) is not a continuation byte)")
    }
    let b1 = p[i + 1]
    if b1 < lower || b1 > upper { return failure("\(rangeReason) (bytes \(hex(b0)) \(hex(b1)))") }
    var value = UInt32(b0) & (0xFF >> UInt32(length + 1))
    for k in 1..<length { value = value << 6 | UInt32(p[i + k] & 0x3F) }
    q[o] = mapping(value)
    i &+= length
    o &+= 1
  }
  return .success(o)
}

/// A 1-based line and column (in characters) in UTF-8 text, moved forward over its bytes.
struct TextPosition: Equatable {
  var line = 1
  var column = 1

  /// Moves past `bytes`: a newline starts the next line, every byte but a continuation byte is
  /// one more column.
  mutating func advance(over bytes: UnsafeBufferPointer<UInt8>) {
    for b in bytes {
      if b == 0x0A {
        line += 1
        column = 1
      } else if b & 0xC0 != 0x80 {
        column += 1
      }
    }
  }
}

/// The length of the longest prefix of `bytes` that does not end inside a multi-byte sequence: a
/// chunk of a file is decoded up to there, and the rest is carried to the next chunk.
func completeSequencesLength(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
  let n = bytes.count
  var lead = n - 1
  while lead >= 0, lead > n - 4, bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
  guard lead >= 0 else { return n }
  let b = bytes[lead]
  let length = b >= 0xF0 ? 4 : (b >= 0xE0 ? 3 : (b >= 0xC0 ? 2 : 1))
  return lead + length > n ? lead : n
}
