#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// One safetensors file's contents: float32 tensors in order, and string metadata.
///
/// The format (huggingface safetensors) is an 8-byte little-endian `UInt64` header length `N`,
/// then `N` bytes of UTF-8 JSON, then the data section. The header maps each tensor name to
/// `{"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}` (offsets relative to the data
/// section) and may hold `"__metadata__"`, an object of string to string.
///
/// The writer writes `F32` only, in the order of `tensors`, contiguously, and pads the header
/// with spaces so the data section starts at a multiple of 8 bytes. The reader also converts
/// `F64`, `F16`, `BF16`, `I64`, `I32`, `I16`, `I8`, `U64`, `U32`, `U16`, `U8` and `BOOL` to
/// float32, keeps the tensors in header order, and validates everything before trusting it
/// (see `SafeTensorsError`); no input makes it crash.
///
/// Two values are equal when they hold the same names and shapes in the same order, the same
/// metadata, and bit-identical scalars (so NaN payloads compare equal and `-0.0 != 0.0`), i.e.
/// when they encode to the same bytes.
public struct SafeTensors: Equatable, Sendable {
  /// The tensors, in file order. To be written, names must be distinct and not `__metadata__`.
  public var tensors: [(name: String, tensor: Tensor)]
  /// The header's `__metadata__`; written with keys sorted, omitted when empty.
  public var metadata: [String: String]

  /// The largest header `init(decoding:)` accepts: 100 MB.
  public static let maxHeaderLength = 100_000_000

  /// Wraps `tensors` (kept in order) and `metadata`.
  public init(tensors: [(name: String, tensor: Tensor)] = [], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  /// The first tensor called `name`, or `nil`.
  public subscript(name: String) -> Tensor? {
    tensors.first { $0.name == name }?.tensor
  }

  /// Same names, shapes and order, same metadata, and bit-identical scalars.
  public static func == (lhs: SafeTensors, rhs: SafeTensors) -> Bool {
    guard lhs.metadata == rhs.metadata, lhs.tensors.count == rhs.tensors.count else { return false }
    for (a, b) in zip(lhs.tensors, rhs.tensors) {
      guard a.name == b.name, a.tensor.shape == b.tensor.shape, a.tensor.count == b.tensor.count
      else { return false }
      let same = a.tensor.withUnsafeBufferPointer { pa in
        b.tensor.withUnsafeBufferPointer { pb in
          guard let x = pa.baseAddress, let y = pb.baseAddress else { return true }
          return memcmp(x, y, pa.count * MemoryLayout<Float>.size) == 0
        }
      }
      guard same else { return false }
    }
    return true
  }
}

// MARK: - Writing

extension SafeTensors {
  /// Serialises to bytes.
  ///
  /// - Precondition: names are distinct and not `__metadata__`, and each tensor holds as many
  ///   scalars as its shape says. `write(to:)` checks the same and throws instead.
  public func encoded() -> [UInt8] {
    do {
      try validateForWriting()
    } catch {
      preconditionFailure("\(error)")
    }
    return encodedUnchecked()
  }

  /// Writes atomically: writes a temporary file in the same directory, fsyncs it, renames it
  /// over `path`, and fsyncs the directory.
  ///
  /// A failure before the rename leaves any previous file at `path` intact and removes the
  /// temporary file. The new file has mode `0644` (less the umask).
  /// - Throws: `SafeTensorsError.unwritable(path:reason:)`, or the name and count errors of
  ///   `encoded()`'s precondition.
  public func write(to path: String) throws {
    try write(to: path, failingAt: nil)
  }

  /// Writes several files as nearly at once as POSIX allows: each to its temporary file, synced,
  /// and only then renames them over their paths one right after the other (in order). A failure
  /// or crash before the renames leaves every previous file intact; a crash between two renames
  /// (a rename that frees a large old file can take milliseconds) leaves the first files new, the
  /// rest old and their new contents complete in their temporary files. Throws as `write(to:)`.
  public static func write(_ files: [(contents: SafeTensors, path: String)]) throws {
    for file in files { try file.contents.validateForWriting() }
    try AtomicFile.replace(files.map { ($0.path, $0.contents.encodedUnchecked()) }, failingAt: nil)
  }

  /// Deletes the temporary files (`.<name>.tmp-<pid>-<random>`) that writes killed before their
  /// rename left in `directory`, if the process that made them is no longer running; returns
  /// their paths. A later write never reads them, so this only reclaims the space.
  public static func removeAbandonedTemporaryFiles(in directory: String) -> [String] {
    AtomicFile.removeAbandonedTemporaries(in: directory)
  }

  /// `write(to:)`, with a simulated failure at `fault` so tests can check the clean-up.
  func write(to path: String, failingAt fault: WriteStep?) throws {
    try validateForWriting()
    try AtomicFile.replace(path, with: encodedUnchecked(), failingAt: fault)
  }

  /// Throws what `encoded()` requires not to hold.
  func validateForWriting() throws {
    var seen = Set<String>()
    for (name, tensor) in tensors {
      if name == SafeTensors.metadataKey { throw SafeTensorsError.reservedName(name) }
      guard seen.insert(name).inserted else { throw SafeTensorsError.duplicateName(name) }
      var expected: Int? = 1  // nil once the product overflows, as the reader would reject it
      for dimension in tensor.shape {
        expected = expected.flatMap {
          let (product, overflow) = $0.multipliedReportingOverflow(by: dimension)
          return overflow ? nil : product
        }
      }
      guard expected == tensor.count else {
        throw SafeTensorsError.scalarCountMismatch(
          name: name, shape: tensor.shape, count: tensor.count)
      }
    }
  }

  static let metadataKey = "__metadata__"

  /// The header JSON, padded with spaces so that `8 + header.count` is a multiple of 8.
  func encodedHeader() -> [UInt8] {
    var header: [UInt8] = []
    header.append(UInt8(ascii: "{"))
    var needsComma = false
    if !metadata.isEmpty {
      header.appendJSONString(SafeTensors.metadataKey)
      header.append(contentsOf: ":{".utf8)
      for (index, (key, value)) in metadata.sorted(by: { $0.key < $1.key }).enumerated() {
        if index > 0 { header.append(UInt8(ascii: ",")) }
        header.appendJSONString(key)
        header.append(UInt8(ascii: ":"))
        header.appendJSONString(value)
      }
      header.append(UInt8(ascii: "}"))
      needsComma = true
    }
    var offset = 0
    for (name, tensor) in tensors {
      if needsComma { header.append(UInt8(ascii: ",")) }
      needsComma = true
      let end = offset + tensor.count * MemoryLayout<Float>.size
      header.appendJSONString(name)
      header.append(contentsOf: #":{"dtype":"F32","shape":["#.utf8)
      header.append(contentsOf: tensor.shape.map(String.init).joined(separator: ",").utf8)
      header.append(contentsOf: #"],"data_offsets":["#.utf8)
      header.append(contentsOf: "\(offset),\(end)]}".utf8)
      offset = end
    }
    header.append(UInt8(ascii: "}"))
    while (8 + header.count) % 8 != 0 { header.append(UInt8(ascii: " ")) }
    return header
  }

  /// `encoded()` without the checks.
  func encodedUnchecked() -> [UInt8] {
    let header = encodedHeader()
    let dataSize = tensors.reduce(0) { $0 + $1.tensor.count * MemoryLayout<Float>.size }
    let total = 8 + header.count + dataSize
    return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
      let out = UnsafeMutableRawBufferPointer(buffer)
      out.storeBytes(of: UInt64(header.count).littleEndian, toByteOffset: 0, as: UInt64.self)
      header.withUnsafeBytes {
        UnsafeMutableRawBufferPointer(rebasing: out[8..<(8 + header.count)]).copyMemory(from: $0)
      }
      var position = 8 + header.count
      for (_, tensor) in tensors {
        tensor.withUnsafeBufferPointer { scalars in
          #if _endian(little)
            let raw = UnsafeRawBufferPointer(scalars)
            UnsafeMutableRawBufferPointer(rebasing: out[position..<(position + raw.count)])
              .copyMemory(from: raw)
          #else
            for (index, value) in scalars.enumerated() {
              out.storeBytes(
                of: value.bitPattern.littleEndian, toByteOffset: position + 4 * index,
                as: UInt32.self)
            }
          #endif
        }
        position += tensor.count * MemoryLayout<Float>.size
      }
      initialized = total
    }
  }
}

// MARK: - Reading

extension SafeTensors {
  /// Parses and validates bytes; throws SafeTensorsError naming the problem.
  public init(decoding bytes: [UInt8]) throws {
    try self.init(decoding: bytes, maxHeaderLength: SafeTensors.maxHeaderLength)
  }

  /// Reads a file (throws SafeTensorsError.unreadable(path:reason:) etc).
  ///
  /// Format problems throw the same errors as `init(decoding:)`.
  public init(contentsOf path: String) throws {
    try self.init(decoding: try AtomicFile.readAll(path))
  }

  /// `init(decoding:)` with another header bound, so tests need not build 100 MB files.
  init(decoding bytes: [UInt8], maxHeaderLength: Int) throws {
    self = try bytes.withUnsafeBytes {
      try SafeTensors.decode($0, maxHeaderLength: maxHeaderLength)
    }
  }

  private static func decode(_ file: UnsafeRawBufferPointer, maxHeaderLength: Int) throws
    -> SafeTensors
  {
    guard file.count >= 8 else { throw SafeTensorsError.truncatedLength(size: file.count) }
    let headerLength = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
    guard headerLength > 0 else { throw SafeTensorsError.emptyHeader }
    guard headerLength <= UInt64(file.count - 8) else {
      throw SafeTensorsError.headerLengthExceedsFile(
        headerLength: headerLength, fileSize: file.count)
    }
    guard headerLength <= UInt64(max(maxHeaderLength, 0)) else {
      throw SafeTensorsError.headerTooLarge(headerLength: headerLength, limit: maxHeaderLength)
    }
    let dataStart = 8 + Int(headerLength)
    let header = UnsafeRawBufferPointer(rebasing: file[8..<dataStart])
    if let offset = firstInvalidUTF8(header) {
      throw SafeTensorsError.headerNotUTF8(offset: offset)
    }

    var parser = HeaderParser(bytes: header)
    let (entries, metadata) = try parser.parse()

    let dataSize = file.count - dataStart
    var layouts: [(dtype: DType, count: Int)] = []
    layouts.reserveCapacity(entries.count)
    for entry in entries {
      layouts.append(try entry.validate(dataSize: dataSize))
    }
    try checkCoverage(entries, dataSize: dataSize)

    var tensors: [(name: String, tensor: Tensor)] = []
    tensors.reserveCapacity(entries.count)
    for (entry, layout) in zip(entries, layouts) {
      let source = UnsafeRawBufferPointer(
        rebasing: file[(dataStart + entry.begin)..<(dataStart + entry.end)])
      let scalars = layout.dtype.convert(source, count: layout.count)
      tensors.append((entry.name, Tensor(shape: entry.shape, scalars: scalars)))
    }
    return SafeTensors(tensors: tensors, metadata: metadata)
  }

  /// Checks that the ranges, sorted, tile the data section exactly.
  private static func checkCoverage(_ entries: [HeaderEntry], dataSize: Int) throws {
    let order = entries.indices.sorted {
      (entries[$0].begin, entries[$0].end) < (entries[$1].begin, entries[$1].end)
    }
    var covered = 0
    var previous = ""
    for index in order {
      let entry = entries[index]
      if entry.begin < covered {
        throw SafeTensorsError.overlappingRanges(first: previous, second: entry.name)
      }
      if entry.begin > covered { throw SafeTensorsError.gap(begin: covered, end: entry.begin) }
      covered = entry.end
      previous = entry.name
    }
    if covered < dataSize {
      throw SafeTensorsError.trailingBytes(count: dataSize - covered, dataSize: dataSize)
    }
  }

  /// The first byte offset at which `bytes` stops being well-formed UTF-8 (no overlong forms,
  /// surrogates or scalars above U+10FFFF), or `nil`.
  static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? {
    var i = 0
    let n = bytes.count
    while i < n {
      let lead = bytes[i]
      if lead < 0x80 {
        i += 1
        continue
      }
      let length: Int
      var low: UInt8 = 0x80  // allowed range of the second byte
      var high: UInt8 = 0xBF
      switch lead {
      case 0xC2...0xDF: length = 2
      case 0xE0:
        length = 3
        low = 0xA0
      case 0xE1...0xEC, 0xEE...0xEF: length = 3
      case 0xED:
        length = 3
        high = 0x9F
      case 0xF0:
        length = 4
        low = 0x90
      case 0xF1...0xF3: length = 4
      case 0xF4:
        length = 4
        high = 0x8F
      default: return i
      }
      guard i + length <= n else { return i }
      guard (low...high).contains(bytes[i + 1]) else { return i }
      for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 { return i }
      i += length
    }
    return nil
  }
}

// MARK: - Header entries and dtypes

extension SafeTensors {
  /// One tensor's entry as read from the header, not yet checked against the data section.
  struct HeaderEntry {
    var name: String
    var dtype: String
    var shape: [Int]
    var begin: Int
    var end: Int

    /// Checks dtype, shape and range on their own; returns the dtype and element count.
    func validate(dataSize: Int) throws -> (dtype: DType, count: Int) {
      guard let type = DType(rawValue: dtype) else {
        throw SafeTensorsError.unknownDType(name: name, dtype: dtype)
      }
      var count = 1
      for dimension in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        guard !overflow else { throw SafeTensorsError.shapeOverflow(name: name) }
        count = product
      }
      let (byteCount, overflow) = count.multipliedReportingOverflow(by: type.size)
      guard !overflow else { throw SafeTensorsError.shapeOverflow(name: name) }
      guard begin <= end else {
        throw SafeTensorsError.reversedRange(name: name, begin: begin, end: end)
      }
      guard end - begin == byteCount else {
        throw SafeTensorsError.sizeMismatch(name: name, expected: byteCount, actual: end - begin)
      }
      guard end <= dataSize else {
        throw SafeTensorsError.rangeOutOfBounds(name: name, end: end, dataSize: dataSize)
      }
      return (type, count)
    }
  }

  /// The element types the reader converts to float32.
  enum DType: String {
    case f64 = "F64"
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u64 = "U64"
    case u32 = "U32"
    case u16 = "U16"
    case u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    var size: Int {
      switch self {
      case .f64, .i64, .u64: return 8
      case .f32, .i32, .u32: return 4
      case .f16, .bf16, .i16, .u16: return 2
      case .i8, .u8, .bool: return 1
      }
    }

    /// `count` elements of this type, little-endian in `source` (`count * size` bytes), as float32.
    func convert(_ source: UnsafeRawBufferPointer, count: Int) -> [Float] {
      [Float](unsafeUninitializedCapacity: count) { out, initialized in
        func map<T: FixedWidthInteger>(_: T.Type, _ transform: (T) -> Float) {
          for i in 0..<count {
            let raw = source.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)
            out[i] = transform(T(littleEndian: raw))
          }
        }
        switch self {
        case .f32:
          #if _endian(little)
            UnsafeMutableRawBufferPointer(out).copyMemory(
              from: UnsafeRawBufferPointer(rebasing: source[0..<(count * 4)]))
          #else
            map(UInt32.self) { Float(bitPattern: $0) }
          #endif
        case .f64: map(UInt64.self) { Float(Double(bitPattern: $0)) }
        case .f16: map(UInt16.self, SafeTensors.floatFromHalf)
        case .bf16: map(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
        case .i64: map(Int64.self) { Float($0) }
        case .i32: map(Int32.self) { Float($0) }
        case .i16: map(Int16.self) { Float($0) }
        case .i8: map(Int8.self) { Float($0) }
        case .u64: map(UInt64.self) { Float($0) }
        case .u32: map(UInt32.self) { Float($0) }
        case .u16: map(UInt16.self) { Float($0) }
        case .u8: map(UInt8.self) { Float($0) }
        case .bool: map(UInt8.self) { $0 == 0 ? 0 : 1 }
        }
        initialized = count
      }
    }
  }

  /// IEEE 754 binary16 bits to float32 (exact; keeps signed zeros, infinities and NaN payloads).
  static func floatFromHalf(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    switch exponent {
    case 0x1F:
      return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    case 0:
      let magnitude = Float(mantissa) * 0x1p-24
      return sign == 0 ? magnitude : -magnitude
    default:
      return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
  }
}

// MARK: - Header JSON

extension SafeTensors {
  /// The header's schema read with `JSONReader`, so it can keep key order, see duplicate keys,
  /// read integers exactly, and bound its nesting depth.
  ///
  /// `parse()` first checks the whole header against the JSON grammar, so a syntax error anywhere
  /// is reported as such (`headerNotJSON`), then reads the schema.
  struct HeaderParser {
    var reader: JSONReader

    /// Deeper nesting is rejected; a valid header needs 3 levels.
    static let maxDepth = 64

    init(bytes: UnsafeRawBufferPointer) {
      reader = JSONReader(bytes: bytes, textName: "header")
    }

    /// The tensor entries in header order, and the metadata.
    mutating func parse() throws -> (entries: [HeaderEntry], metadata: [String: String]) {
      do {
        try validateSyntax()
        return try readHeader()
      } catch let error as JSONSyntaxError {
        throw SafeTensorsError.headerNotJSON(offset: error.offset, reason: error.reason)
      }
    }

    /// Checks that the header is one JSON value, an object, with only whitespace after it.
    private mutating func validateSyntax() throws {
      reader.position = 0
      reader.skipWhitespace()
      let first = reader.peek()
      try reader.skipValue(depth: 0, maxDepth: HeaderParser.maxDepth)
      reader.skipWhitespace()
      guard reader.isAtEnd else { throw reader.error("unexpected data after the header object") }
      guard first == UInt8(ascii: "{") else { throw SafeTensorsError.headerNotObject }
    }

    // MARK: Schema

    /// The entries and metadata of a header that passed `validateSyntax()`.
    private mutating func readHeader() throws -> (entries: [HeaderEntry], metadata: [String: String]) {
      reader.position = 0
      try reader.expect(UInt8(ascii: "{"))
      var entries: [HeaderEntry] = []
      var names = Set<String>()
      var metadata: [String: String]? = nil
      if reader.consume(UInt8(ascii: "}")) { return ([], [:]) }
      repeat {
        let key = try reader.readKey()
        if key == SafeTensors.metadataKey {
          guard metadata == nil else { throw SafeTensorsError.duplicateName(key) }
          metadata = try readMetadata()
        } else {
          guard names.insert(key).inserted else { throw SafeTensorsError.duplicateName(key) }
          entries.append(try readEntry(name: key))
        }
      } while try reader.nextMember(closing: UInt8(ascii: "}"))
      return (entries, metadata ?? [:])
    }

    private mutating func readMetadata() throws -> [String: String] {
      guard reader.peek() == UInt8(ascii: "{") else {
        throw SafeTensorsError.invalidMetadata(
          reason: "expected an object, found \(reader.kindOfValue())")
      }
      reader.position += 1
      var metadata: [String: String] = [:]
      if reader.consume(UInt8(ascii: "}")) { return metadata }
      repeat {
        let key = try reader.readKey()
        guard reader.peek() == UInt8(ascii: "\"") else {
          throw SafeTensorsError.invalidMetadata(
            reason: "value of \(key.debugDescription) is \(reader.kindOfValue()), not a string")
        }
        let value = try reader.readString()
        guard metadata.updateValue(value, forKey: key) == nil else {
          throw SafeTensorsError.invalidMetadata(
            reason: "key \(key.debugDescription) appears more than once")
        }
      } while try reader.nextMember(closing: UInt8(ascii: "}"))
      return metadata
    }

    private mutating func readEntry(name: String) throws -> HeaderEntry {
      guard reader.peek() == UInt8(ascii: "{") else {
        throw SafeTensorsError.entryNotObject(name: name)
      }
      reader.position += 1
      var dtype: String? = nil
      var shape: [Int]? = nil
      var offsets: (begin: Int, end: Int)? = nil
      if !reader.consume(UInt8(ascii: "}")) {
        repeat {
          let field = try reader.readKey()
          func invalid(_ reason: String) -> SafeTensorsError {
            .invalidField(name: name, field: field, reason: reason)
          }
          switch field {
          case "dtype":
            guard dtype == nil else { throw invalid("appears more than once") }
            guard reader.peek() == UInt8(ascii: "\"") else {
              throw invalid("expected a string, found \(reader.kindOfValue())")
            }
            dtype = try reader.readString()
          case "shape":
            guard shape == nil else { throw invalid("appears more than once") }
            shape = try readIntegers { number in
              guard number.isInteger else {
                throw invalid("dimension \(number.text) is not an integer")
              }
              if number.isNegative && number.magnitude != 0 {
                throw SafeTensorsError.negativeDimension(name: name, dimension: number.text)
              }
              guard let value = number.magnitude else {
                throw SafeTensorsError.shapeOverflow(name: name)
              }
              return value
            } orElse: {
              invalid("expected an array of integers, found \($0)")
            }
          case "data_offsets":
            guard offsets == nil else { throw invalid("appears more than once") }
            let values = try readIntegers { number in
              guard number.isInteger, !number.isNegative || number.magnitude == 0 else {
                throw invalid("offset \(number.text) is not a non-negative integer")
              }
              guard let value = number.magnitude else {
                throw invalid("offset \(number.text) is too large")
              }
              return value
            } orElse: {
              invalid("expected an array of two integers, found \($0)")
            }
            guard values.count == 2 else {
              throw invalid("expected two offsets, found \(values.count)")
            }
            offsets = (values[0], values[1])
          default:
            try reader.skipValue(depth: 2, maxDepth: HeaderParser.maxDepth)
          }
        } while try reader.nextMember(closing: UInt8(ascii: "}"))
      }
      guard let dtype else { throw SafeTensorsError.missingField(name: name, field: "dtype") }
      guard let shape else { throw SafeTensorsError.missingField(name: name, field: "shape") }
      guard let offsets else {
        throw SafeTensorsError.missingField(name: name, field: "data_offsets")
      }
      return HeaderEntry(
        name: name, dtype: dtype, shape: shape, begin: offsets.begin, end: offsets.end)
    }

    /// An array of numbers, each turned into an `Int` by `convert`; `wrongType` builds the error
    /// for anything else (given the kind of value found).
    private mutating func readIntegers(
      _ convert: (JSONNumber) throws -> Int, orElse wrongType: (String) -> SafeTensorsError
    ) throws -> [Int] {
      guard reader.peek() == UInt8(ascii: "[") else { throw wrongType(reader.kindOfValue()) }
      reader.position += 1
      var values: [Int] = []
      if reader.consume(UInt8(ascii: "]")) { return values }
      repeat {
        reader.skipWhitespace()
        guard let byte = reader.peek(), byte == UInt8(ascii: "-") || (0x30...0x39).contains(byte)
        else {
          throw wrongType("an array holding \(reader.kindOfValue())")
        }
        values.append(try convert(try reader.readNumber()))
      } while try reader.nextMember(closing: UInt8(ascii: "]"))
      return values
    }
  }
}

// MARK: - File system

/// POSIX `write`, out of reach of `SafeTensors.write(to:)` for name lookup.
private func writeToDescriptor(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
  write(fd, buffer, count)
}

extension SafeTensors {
  /// The steps of an atomic write, named so tests can simulate a failure at each.
  enum WriteStep: CaseIterable {
    case create, write, sync, close, rename
  }

  /// Whole-file reads and atomic whole-file writes with POSIX calls; errors carry `strerror`.
  enum AtomicFile {
    /// The whole file at `path`.
    static func readAll(_ path: String) throws -> [UInt8] {
      func failure() -> SafeTensorsError {
        .unreadable(path: path, reason: String(cString: strerror(errno)))
      }
      // Non-blocking, so that opening a pipe with no writer does not wait (regular files ignore it).
      let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
      guard fd >= 0 else { throw failure() }
      defer { close(fd) }
      var status = stat()
      guard fstat(fd, &status) == 0 else { throw failure() }
      // A device or pipe (/dev/zero) could be endless: only files (a folder fails to read below).
      let kind = status.st_mode & S_IFMT
      guard kind == S_IFREG || kind == S_IFDIR else {
        throw SafeTensorsError.unreadable(path: path, reason: "not a regular file")
      }
      // One byte more than the size, so a file that did not grow is read in one pass.
      var capacity = max(Int(status.st_size), 0) + 1
      var bytes: [UInt8] = []
      while true {
        var failed = false
        let chunk = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
          initialized = 0
          while initialized < capacity {
            let n = read(fd, buffer.baseAddress.map { $0 + initialized }, capacity - initialized)
            if n > 0 {
              initialized += n
            } else if n == 0 || errno != EINTR {
              failed = n < 0
              return
            }
          }
        }
        if failed { throw failure() }
        bytes.append(contentsOf: chunk)
        if chunk.count < capacity { return bytes }
        capacity = 1 << 20
      }
    }

    /// Replaces `path` with `bytes` via a temporary file and a rename; see `SafeTensors.write(to:)`.
    static func replace(_ path: String, with bytes: [UInt8], failingAt fault: WriteStep?) throws {
      try replace([(path, bytes)], failingAt: fault)
    }

    /// Replaces each file: writes and syncs every temporary file first, then renames them over
    /// their paths one right after the other, then syncs the directories. A failure before the
    /// renames removes the temporary files and leaves every previous file intact.
    static func replace(_ files: [(path: String, bytes: [UInt8])], failingAt fault: WriteStep?) throws {
      var temporaries: [String] = []
      do {
        for file in files { temporaries.append(try writeTemporary(for: file.path, file.bytes, failingAt: fault)) }
      } catch {
        for temporary in temporaries { unlink(temporary) }
        throw error
      }
      for (index, (file, temporary)) in zip(files, temporaries).enumerated() {
        guard fault != .rename, rename(temporary, file.path) == 0 else {
          let reason = fault == .rename ? "simulated failure" : String(cString: strerror(errno))
          for pending in temporaries[index...] { unlink(pending) }
          throw SafeTensorsError.unwritable(path: file.path, reason: "cannot rename \(temporary) over it: \(reason)")
        }
      }
      for path in files.map(\.path) { try syncDirectory(of: path) }
    }

    /// The directory part of `path`, with its slash ("" for a bare name), and the file name.
    private static func split(_ path: String) -> (directory: String, name: String) {
      let slash = path.lastIndex(of: "/")
      return (slash.map { String(path[...$0]) } ?? "", slash.map { String(path[path.index(after: $0)...]) } ?? path)
    }

    /// The temporary file a write of `path` goes through: hidden, beside it, named after it and
    /// the writing process, `.<name>.tmp-<pid>-<random>`.
    private static func temporaryPath(for path: String) -> String {
      let (directory, name) = split(path)
      return directory + "." + name + ".tmp-\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    /// Writes `bytes` to a new temporary file beside `path`, fsyncs and closes it; returns its path.
    /// On failure the temporary file is removed.
    private static func writeTemporary(for path: String, _ bytes: [UInt8], failingAt fault: WriteStep?) throws -> String {
      guard !split(path).name.isEmpty else {
        throw SafeTensorsError.unwritable(path: path, reason: "path names a directory")
      }
      let temporary = temporaryPath(for: path)
      var fd: Int32 = -1
      var created = false
      func fail(_ step: WriteStep, _ what: String) -> SafeTensorsError {
        let reason = fault == step ? "simulated failure" : String(cString: strerror(errno))
        if fd >= 0 { close(fd) }
        if created { unlink(temporary) }
        return .unwritable(path: path, reason: "\(what): \(reason)")
      }

      fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
      created = fd >= 0
      guard fd >= 0, fault != .create else { throw fail(.create, "cannot create \(temporary)") }

      var written = 0
      while written < bytes.count {
        let n = bytes.withUnsafeBytes {
          writeToDescriptor(fd, $0.baseAddress.map { $0 + written }, $0.count - written)
        }
        if n > 0 {
          written += n
        } else if n == 0 {
          errno = EIO  // no progress and no error: give up rather than spin
          break
        } else if errno != EINTR {
          break
        }
      }
      guard written == bytes.count, fault != .write else {
        throw fail(.write, "cannot write \(temporary)")
      }
      guard fsync(fd) == 0, fault != .sync else { throw fail(.sync, "cannot sync \(temporary)") }
      let closed = close(fd) == 0
      fd = -1
      guard closed, fault != .close else { throw fail(.close, "cannot close \(temporary)") }
      return temporary
    }

    /// Makes a rename in the directory of `path` durable. Some file systems cannot sync
    /// directories (EINVAL); that is fine.
    private static func syncDirectory(of path: String) throws {
      let prefix = split(path).directory
      let directory = prefix.isEmpty ? "." : prefix
      let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
      guard directoryFD >= 0 else {
        let reason = String(cString: strerror(errno))
        throw SafeTensorsError.unwritable(
          path: path, reason: "written, but cannot open directory \(directory): \(reason)")
      }
      let synced = fsync(directoryFD) == 0 || errno == EINVAL
      let reason = String(cString: strerror(errno))
      close(directoryFD)
      guard synced else {
        throw SafeTensorsError.unwritable(
          path: path, reason: "written, but cannot sync directory \(directory): \(reason)")
      }
    }

    /// Deletes the temporary files in `directory` that writes by processes no longer running left
    /// behind (a write killed before its rename); returns their paths. Files of running
    /// processes, which may still be writing, are left alone.
    static func removeAbandonedTemporaries(in directory: String) -> [String] {
      guard let handle = opendir(directory) else { return [] }
      defer { closedir(handle) }
      let prefix = directory.hasSuffix("/") ? directory : directory + "/"
      var removed: [String] = []
      while let entry = readdir(handle) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
          String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
        }
        guard name.hasPrefix("."), let marker = name.ranges(of: ".tmp-").last else { continue }
        let parts = name[marker.upperBound...].split(separator: "-")
        guard parts.count == 2, let pid = Int32(parts[0]), pid > 0, kill(pid, 0) != 0, errno == ESRCH else { continue }
        if unlink(prefix + name) == 0 { removed.append(prefix + name) }
      }
      return removed
    }
  }
}
