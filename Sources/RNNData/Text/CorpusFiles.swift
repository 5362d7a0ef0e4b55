#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file to read into a corpus.
struct CorpusFile {
  var path: String
  /// Named in the paths given (not found in a folder): it must not look binary.
  var explicit: Bool
  /// Its size when listed; reading stops there, so the total bounds the corpus.
  var size: Int
  /// The folder it was found in, if any.
  var folder: String?

  /// The files at `paths`: each a file or a folder walked recursively (regular files only, symbolic
  /// links to files followed, links to folders not, sorted by path, hidden entries skipped).
  static func list(_ paths: [String]) throws -> [CorpusFile] {
    var files: [CorpusFile] = []
    for path in paths {
      guard let info = try FileInfo(path) else { throw CorpusError.missingPath(path) }
      if info.isDirectory {
        let found = try regularFiles(under: path)
        if found.isEmpty { throw CorpusError.noTextFiles(folder: path) }
        files += found.map { CorpusFile(path: $0.path, explicit: false, size: $0.size, folder: path) }
      } else if info.isRegular {
        files.append(CorpusFile(path: path, explicit: true, size: info.size, folder: nil))
      } else {
        throw CorpusError.unreadable(path: path, reason: "not a regular file or folder")
      }
    }
    return files
  }

  /// Reads the file in chunks of at most `chunkSize` bytes (stopping at `size`), handing each to
  /// `body` with its offset in the file and whether it is the last. `body` returns how many bytes
  /// it consumed (all of the last chunk); the rest, at most a few bytes, start the next chunk. It
  /// returns nil to stop reading. Holds one chunk in memory, whatever the file's size.
  func readChunks(
    of chunkSize: Int = 1 << 20,
    _ body: (_ bytes: UnsafeBufferPointer<UInt8>, _ offset: Int, _ isLast: Bool) throws -> Int?
  ) throws {
    let fd = try openForReading(path)
    defer { close(fd) }
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunkSize)
    defer { buffer.deallocate() }
    var kept = 0  // bytes carried over at the front of the buffer
    var offset = 0  // file offset of buffer[0]
    var total = 0  // bytes read
    while true {
      var filled = kept
      while filled < chunkSize && total < size {
        let n = read(fd, buffer + filled, min(chunkSize - filled, size - total))
        if n < 0 {
          if errno == EINTR { continue }
          throw CorpusError.unreadable(path: path, reason: errorText(errno))
        }
        if n == 0 { break }
        filled += n
        total += n
      }
      if filled == 0 { return }
      let isLast = filled < chunkSize || total == size
      guard let consumed = try body(UnsafeBufferPointer(start: buffer, count: filled), offset, isLast), !isLast else {
        return
      }
      require(consumed > 0 && consumed <= filled, "a chunk must be consumed, at least in part")
      kept = filled - consumed
      memmove(buffer, buffer + consumed, kept)
      offset += consumed
    }
  }

  /// Reads the file into the free space of a 1-byte `TokenBuffer`, stopping at `size`.
  func fill(_ tokens: TokenBuffer) throws {
    let fd = try openForReading(path)
    defer { close(fd) }
    var total = 0
    while total < size {
      let space = tokens.freeBytes
      let n = read(fd, space.baseAddress, min(space.count, size - total, 1 << 30))
      if n < 0 {
        if errno == EINTR { continue }
        throw CorpusError.unreadable(path: path, reason: errorText(errno))
      }
      if n == 0 { return }
      tokens.didAppend(n)
      total += n
    }
  }
}

private func openForReading(_ path: String) throws -> Int32 {
  let fd = open(path, O_RDONLY | O_CLOEXEC)
  if fd < 0 { throw CorpusError.unreadable(path: path, reason: errorText(errno)) }
  return fd
}

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
