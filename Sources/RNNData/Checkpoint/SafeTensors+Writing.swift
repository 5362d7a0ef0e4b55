#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension SafeTensors {
  /// Serialises to bytes.
  ///
  /// - Precondition: names are distinct and not `__metadata__`, and each tensor holds as many
  ///   scalars as its shape says. `write(to:)` checks the same and throws instead.
  public func encoded() -> [UInt8] {
    do {
      try validateForWriting()
    } catch {
      fatalError("\(error)")
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
