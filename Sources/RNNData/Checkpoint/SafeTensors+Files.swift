#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

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
