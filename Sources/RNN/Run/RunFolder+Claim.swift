import Foundation

/// Making a run folder ready for one run: created, locked against a second run, and holding no
/// other run's checkpoints.
extension RunFolder {
  /// The lock file's name (see `lock(holder:)`).
  public static let lockFileName = ".lock"

  /// Creates the folder (each missing component, so that a failure names the component and the
  /// system's reason) and checks that it is writable, before any work is done.
  public func create() throws(RunFolderError) {
    var component = path.hasPrefix("/") ? "/" : ""
    for part in path.split(separator: "/") {
      component += (component.isEmpty || component == "/" ? "" : "/") + part
      var status = stat()
      if stat(component, &status) == 0 {
        guard status.st_mode & S_IFMT == S_IFDIR else { throw .notAFolder(folder: path, component: component) }
      } else if mkdir(component, 0o755) != 0 && errno != EEXIST {
        throw .uncreatable(folder: path, component: component, reason: String(cString: strerror(errno)))
      }
    }
    guard access(path, W_OK) == 0 else { throw .notWritable(folder: path, reason: String(cString: strerror(errno))) }
  }

  /// Locks the folder for the rest of this process: an exclusive `flock` on `<folder>/.lock`,
  /// with `holder` (e.g. the pid and command line) written into the file, so that a second run on
  /// the folder is refused naming the first (`RunFolderError.inUse`). The kernel drops the lock
  /// when the process exits, however it ends (kill -9 included), so a stale file never blocks a
  /// later run. Returns nil when locked; on a file system without locks, the system's reason, the
  /// folder unlocked.
  public func lock(holder: String) throws(RunFolderError) -> String? {
    let file = path + "/" + Self.lockFileName
    let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .unlockable(folder: path, path: file, reason: String(cString: strerror(errno))) }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let error = errno
      let other = (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
      close(fd)
      switch error {
      case EWOULDBLOCK: throw .inUse(folder: path, holder: other.map { $0.isEmpty ? "starting" : $0 } ?? "unknown")
      case ENOLCK, EOPNOTSUPP, EINVAL: return String(cString: strerror(error))
      default: throw .unlockable(folder: path, path: file, reason: String(cString: strerror(error)))
      }
    }
    let bytes = Array((holder + "\n").utf8)
    // What it says is for messages only: a failed write leaves the lock held all the same.
    if ftruncate(fd, 0) == 0 { _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
    // fd stays open, unclosed, for as long as the process runs: closing it would release the lock.
    return nil
  }

  /// Makes sure this run writes over no other run's checkpoints: when the folder holds a
  /// `latest.safetensors` that is not of the run being continued (`resumed`, read from
  /// `resumedPath`; nil for a new run), throws `RunFolderError.anotherRun`, or with `overwrite`
  /// deletes that run's files (models, training states, `metrics.jsonl`, samples) and returns true.
  public func claim(continuing resumed: Checkpoint?, from resumedPath: String?, overwrite: Bool) throws(RunFolderError)
    -> Bool
  {
    guard FileManager.default.fileExists(atPath: latest) else { return false }
    // Resuming `latest` itself (the usual case): it is the run, and is not read a second time.
    if resumed != nil, let resumedPath, Self.sameFile(resumedPath, latest) { return false }
    let other = try? Checkpoint(contentsOf: latest)
    if let resumed, let other, other.run == resumed.run { return false }
    guard overwrite else { throw .anotherRun(folder: path, step: other?.step) }
    let files = FileManager.default
    let names = (try? files.contentsOfDirectory(atPath: path)) ?? []
    let runFiles = names.filter { name in
      name == MetricsLog.fileName || name == "samples"
        || (name.hasSuffix(".safetensors") && ["latest.", "best.", "step-"].contains { name.hasPrefix($0) })
    }
    for name in runFiles {
      do { try files.removeItem(atPath: path + "/" + name) } catch {
        throw .undeletable(path: path + "/" + name, reason: error.localizedDescription)
      }
    }
    return true
  }

  /// Whether two paths name the same file (device and inode).
  private static func sameFile(_ a: String, _ b: String) -> Bool {
    var first = stat()
    var second = stat()
    return stat(a, &first) == 0 && stat(b, &second) == 0 && first.st_dev == second.st_dev
      && first.st_ino == second.st_ino
  }
}
