#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

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
