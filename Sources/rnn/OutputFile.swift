import Foundation

/// A file an option names for output (`--out`): checked before any work is done, so a bad path
/// fails at once with a message naming the problem, then written whole or not at all.
struct OutputFile {
  let path: String
  /// The option that named it, for messages.
  let option: String

  /// The folder it goes in ("." for a bare name).
  private var folder: String {
    let folder = (path as NSString).deletingLastPathComponent
    return folder.isEmpty ? "." : folder
  }

  /// Checks that `path` can be written: it is not a folder, and its folder exists and is
  /// writable (or it is an existing writable device or pipe, such as `/dev/stdout`).
  init(_ path: String, option: String = "--out") throws {
    self.path = path
    self.option = option
    guard !path.isEmpty, !path.hasSuffix("/") else {
      throw failure("it names no file")
    }
    var info = stat()
    if stat(path, &info) == 0 {
      if info.st_mode & S_IFMT == S_IFDIR {
        throw failure("it is a folder; name a file in it")
      }
      if access(path, W_OK) != 0 { throw failure(String(cString: strerror(errno))) }
      if info.st_mode & S_IFMT != S_IFREG { return }
    }
    guard stat(folder, &info) == 0 else {
      throw failure("folder \(folder) \(errno == ENOENT ? "does not exist" : String(cString: strerror(errno)))")
    }
    guard info.st_mode & S_IFMT == S_IFDIR else { throw failure("\(folder) is not a folder") }
    guard access(folder, W_OK | X_OK) == 0 else {
      throw failure("cannot write in folder \(folder): \(String(cString: strerror(errno)))")
    }
  }

  /// Writes `bytes`: into a temporary file beside the target, renamed over it once complete (a
  /// device or pipe is written directly).
  func write(_ bytes: [UInt8]) throws {
    var info = stat()
    if stat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFREG {
      let fd = open(path, O_WRONLY | O_CLOEXEC)
      guard fd >= 0 else { throw failure(errno) }
      defer { close(fd) }
      try writeAll(bytes, to: fd)
      return
    }
    let temporary = folder + "/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
    guard fd >= 0 else { throw failure(errno) }
    do { try writeAll(bytes, to: fd) } catch {
      close(fd)
      unlink(temporary)
      throw error
    }
    guard close(fd) == 0, rename(temporary, path) == 0 else {
      let code = errno
      unlink(temporary)
      throw failure(code)
    }
  }

  private func writeAll(_ bytes: [UInt8], to fd: Int32) throws {
    try bytes.withUnsafeBytes { buffer in
      var done = 0
      while done < buffer.count {
        let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw failure(n == 0 ? EIO : errno) }
        done += n
      }
    }
  }

  private func failure(_ code: Int32) -> Failure { failure(String(cString: strerror(code))) }

  private func failure(_ reason: String) -> Failure { Failure("cannot write \(option) \(path): \(reason)") }
}
