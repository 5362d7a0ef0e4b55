import Foundation

/// One training run per checkpoint folder: a run holds an exclusive `flock` on `<folder>/.lock`
/// until its process ends, and writes its pid and command line into the file, so that a second
/// run on the folder is refused naming the first. The kernel drops the lock when the process
/// exits, however it ends (kill -9 included), so a stale file never blocks a later run.
enum RunFolderLock {
  static let fileName = ".lock"

  /// Locks `folder` for the rest of this process, or throws naming the run that holds it. On a
  /// file system without locks, says so and goes on unlocked.
  static func acquire(_ folder: String) throws {
    let path = folder + "/" + fileName
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw Failure("cannot lock checkpoint folder \(folder): \(path): \(String(cString: strerror(errno)))")
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let error = errno
      let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
      close(fd)
      switch error {
      case EWOULDBLOCK:
        throw Failure(
          "checkpoint folder \(folder) is in use by another run (\(holder.map { $0.isEmpty ? "starting" : $0 } ?? "unknown")); "
            + "wait for it to end or pass another --checkpoint-dir")
      case ENOLCK, EOPNOTSUPP, EINVAL:
        say(
          "Warning: cannot lock checkpoint folder \(folder) (\(String(cString: strerror(error)))); nothing stops a second run from writing it."
        )
        return
      default:
        throw Failure("cannot lock checkpoint folder \(folder): \(path): \(String(cString: strerror(error)))")
      }
    }
    let holder = Array("pid \(getpid()): rnn \(CommandLine.arguments.dropFirst().joined(separator: " "))\n".utf8)
    // What it says is for messages only: a failed write leaves the lock held all the same.
    if ftruncate(fd, 0) == 0 { _ = holder.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
    // fd stays open, unclosed, for as long as the process runs: closing it would release the lock.
  }
}
