#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A training text as token ids, with the vocabulary that maps them to characters.
///
/// `load` reads UTF-8 files and decodes them straight into ids in one pass over the bytes. Peak
/// memory is one file's bytes plus 4 bytes per character of the whole corpus (the id buffer is
/// reserved from the total file size; pages past the last character are never touched).
public struct Corpus: Sendable {
  /// The whole text, files concatenated in order, as token ids in `0 ..< vocabulary.count`.
  public let text: [Int32]
  /// The vocabulary: the one given to `load`, or the sorted unique characters of the text.
  public let vocabulary: Vocabulary
  /// The files read, in order.
  public let sources: [String]

  public init(text: [Int32], vocabulary: Vocabulary, sources: [String]) {
    self.text = text
    self.vocabulary = vocabulary
    self.sources = sources
  }

  /// Reads and concatenates the files at `paths`.
  ///
  /// Each path is a file or a folder. A folder is walked recursively: regular files only (symbolic
  /// links to files are followed, links to folders are not), sorted by path, skipping hidden entries
  /// (names starting with `.`) and files with a NUL byte in their first 8 KiB. A file given
  /// explicitly must not look binary. With `vocabulary` nil the vocabulary is built from the text.
  public static func load(paths: [String], vocabulary: Vocabulary? = nil) throws -> Corpus {
    var files: [(path: String, explicit: Bool, size: Int, folder: String?)] = []
    for path in paths {
      guard let info = try FileInfo(path) else { throw CorpusError.missingPath(path) }
      if info.isDirectory {
        let found = try regularFiles(under: path)
        if found.isEmpty { throw CorpusError.noTextFiles(folder: path) }
        files += found.map { ($0.path, false, $0.size, path) }
      } else if info.isRegular {
        files.append((path, true, info.size, nil))
      } else {
        throw CorpusError.unreadable(path: path, reason: "not a regular file or folder")
      }
    }

    let capacity = files.reduce(0) { $0 + $1.size }
    var sources: [String] = []
    var foldersWithText: Set<String> = []
    var unknownCount = 0
    var unknownExamples: [Unicode.Scalar] = []
    var firstUnknownPath: String?
    // Scalar value -> id for every possible scalar (4.4 MB). Without a vocabulary the decoder marks
    // the scalars it sees with 0, and ids are assigned once all files are read.
    var idTable = [Int32](repeating: -1, count: 0x11_0000)
    if let vocabulary {
      for (id, scalar) in vocabulary.scalars.enumerated() { idTable[Int(scalar.value)] = Int32(id) }
    }

    var text = try idTable.withUnsafeMutableBufferPointer { table in
      let table = table.baseAddress!
      return try [Int32](unsafeUninitializedCapacity: capacity) { ids, initialized in
        initialized = 0
        adviseHugePages(UnsafeMutableRawBufferPointer(ids))
        for file in files {
          let raw = try readFile(file.path, atMost: file.size)
          defer { raw.deallocate() }
          if let nul = UnsafeRawBufferPointer(rebasing: raw[..<min(raw.count, 8192)]).firstIndex(of: 0) {
            if file.explicit { throw CorpusError.binaryFile(path: file.path, byteOffset: nul) }
            continue
          }
          let bytes = UnsafeBufferPointer(raw.bindMemory(to: UInt8.self))
          let out = UnsafeMutableBufferPointer(rebasing: ids[initialized...])
          let result =
            vocabulary == nil
            ? decodeUTF8(bytes, into: out, mapping: MarkingIdentity(seen: table))
            : decodeUTF8(bytes, into: out, mapping: TableLookup(table: table))
          let count: Int
          switch result {
          case .success(let n):
            count = n
          case .failure(let failure):
            let (line, column) = lineAndColumn(of: failure.offset, in: bytes)
            throw CorpusError.invalidUTF8(
              path: file.path, byteOffset: failure.offset, line: line, column: column, reason: failure.reason)
          }
          let decoded = UnsafeMutableBufferPointer(rebasing: out[..<count])
          initialized += count
          sources.append(file.path)
          if let folder = file.folder { foldersWithText.insert(folder) }

          // With a vocabulary, unknown characters have id -1: look for them only if there are any.
          if vocabulary != nil && decoded.reduce(0, |) < 0 {
            for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars where table[Int(scalar.value)] < 0 {
              if firstUnknownPath == nil { firstUnknownPath = file.path }
              if unknownExamples.count < 5 && !unknownExamples.contains(scalar) { unknownExamples.append(scalar) }
              unknownCount += 1
            }
          }
        }
      }
    }

    for case (_, _, _, let folder?) in files where !foldersWithText.contains(folder) {
      throw CorpusError.noTextFiles(folder: folder)
    }
    if text.isEmpty { throw CorpusError.emptyCorpus(paths: paths) }
    if let firstUnknownPath {
      throw CorpusError.unknownCharacters(count: unknownCount, examples: unknownExamples, firstPath: firstUnknownPath)
    }

    let resolved: Vocabulary
    if let vocabulary {
      resolved = vocabulary
    } else {
      var scalars: [Unicode.Scalar] = []
      for value in idTable.indices where idTable[value] == 0 {
        idTable[value] = Int32(scalars.count)
        scalars.append(Unicode.Scalar(UInt32(value))!)
      }
      resolved = Vocabulary(uniqueScalars: scalars)
      idTable.withUnsafeBufferPointer { table in
        let table = table.baseAddress!
        text.withUnsafeMutableBufferPointer { ids in
          for i in ids.indices { ids[i] = table[Int(ids[i])] }
        }
      }
    }
    return Corpus(text: text, vocabulary: resolved, sources: sources)
  }

  /// Contiguous splits of `count` tokens: train first, then validation, then test (each a tail).
  ///
  /// Validation and test get `floor(count * fraction)` tokens; train gets the rest. The caller
  /// validates the fractions (each in `0 ..< 1`, sum below 1).
  public static func split(
    count: Int, valFraction: Double, testFraction: Double
  ) -> (train: Range<Int>, validation: Range<Int>, test: Range<Int>) {
    precondition(count >= 0, "negative count")
    precondition(
      valFraction >= 0 && testFraction >= 0 && valFraction + testFraction < 1,
      "invalid split fractions \(valFraction), \(testFraction)")
    let validationCount = Int(Double(count) * valFraction)
    let testCount = Int(Double(count) * testFraction)
    let trainEnd = count - validationCount - testCount
    return (0..<trainEnd, trainEnd..<(trainEnd + validationCount), (trainEnd + validationCount)..<count)
  }
}

// MARK: - Files

/// What `stat` says about a path.
private struct FileInfo {
  var isDirectory: Bool
  var isRegular: Bool
  var isSymbolicLink: Bool
  var size: Int

  /// `stat` (or `lstat` with `followLinks` false) of `path`; nil if the path does not exist.
  init?(_ path: String, followLinks: Bool = true) throws {
    var info = stat()
    if (followLinks ? stat(path, &info) : lstat(path, &info)) != 0 {
      let code = errno
      if code == ENOENT || code == ENOTDIR { return nil }
      throw CorpusError.unreadable(path: path, reason: errorText(code))
    }
    let kind = info.st_mode & S_IFMT
    isDirectory = kind == S_IFDIR
    isRegular = kind == S_IFREG
    isSymbolicLink = kind == S_IFLNK
    size = Int(info.st_size)
  }
}

private func errorText(_ code: Int32) -> String {
  String(cString: strerror(code))
}

/// The regular files under `folder`, recursively, sorted by path (bytewise), without hidden entries.
private func regularFiles(under folder: String) throws -> [(path: String, size: Int)] {
  var result: [(path: String, size: Int)] = []
  var pending = [folder]
  while let directory = pending.popLast() {
    guard let handle = opendir(directory) else {
      throw CorpusError.unreadable(path: directory, reason: errorText(errno))
    }
    defer { closedir(handle) }
    let prefix = directory.hasSuffix("/") ? directory : directory + "/"
    while let entry = readdir(handle) {
      let name = withUnsafePointer(to: &entry.pointee.d_name) {
        String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
      }
      if name.hasPrefix(".") { continue }  // hidden, and "." and ".."
      let path = prefix + name
      guard let link = try FileInfo(path, followLinks: false) else { continue }
      if link.isDirectory {
        pending.append(path)
      } else if link.isRegular {
        result.append((path, link.size))
      } else if link.isSymbolicLink, let target = try FileInfo(path), target.isRegular {
        result.append((path, target.size))
      }
    }
  }
  result.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
  return result
}

/// The first `limit` bytes of the file at `path` (fewer if it is shorter). The caller deallocates.
private func readFile(_ path: String, atMost limit: Int) throws -> UnsafeMutableRawBufferPointer {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  if fd < 0 { throw CorpusError.unreadable(path: path, reason: errorText(errno)) }
  defer { close(fd) }
  let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(limit, 1), alignment: 16)
  adviseHugePages(buffer)
  var filled = 0
  while filled < limit {
    let n = read(fd, buffer.baseAddress! + filled, min(limit - filled, 1 << 30))
    if n < 0 {
      if errno == EINTR { continue }
      let code = errno
      buffer.deallocate()
      throw CorpusError.unreadable(path: path, reason: errorText(code))
    }
    if n == 0 { break }
    filled += n
  }
  return UnsafeMutableRawBufferPointer(rebasing: buffer[..<filled])
}

/// Asks Linux to back the whole 2 MiB pages inside `buffer` with huge pages: faulting in hundreds
/// of megabytes of fresh memory otherwise costs more than decoding it.
private func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
  #if os(Linux)
    let hugePage = 2 << 20
    guard buffer.count >= 2 * hugePage, let base = buffer.baseAddress else { return }
    let start = (Int(bitPattern: base) + hugePage - 1) & ~(hugePage - 1)
    let end = (Int(bitPattern: base) + buffer.count) & ~(hugePage - 1)
    if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
  #endif
}

// MARK: - UTF-8

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

/// Writes `table[value]` (`table` covers `0 ... 0x10FFFF`).
struct TableLookup: ScalarMapping {
  let table: UnsafePointer<Int32>
  init(table: UnsafeMutablePointer<Int32>) { self.table = UnsafePointer(table) }
  @inline(__always) func callAsFunction(_ value: UInt32) -> Int32 { table[Int(value)] }
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
  precondition(out.count >= n, "output buffer too small")
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

/// The 1-based line and column (in characters) of byte `offset`, counting the valid UTF-8 before it.
func lineAndColumn(of offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> (line: Int, column: Int) {
  var line = 1
  var column = 1
  for b in bytes[..<offset] {
    if b == 0x0A {
      line += 1
      column = 1
    } else if b & 0xC0 != 0x80 {
      column += 1
    }
  }
  return (line, column)
}
