/// Why a run folder could not be made ready, or one of its files kept or removed. Each
/// `description` is one line; `rnn train` adds what to do.
public enum RunFolderError: Error, Equatable, CustomStringConvertible {
  /// A file was not written (`reason`: the system's).
  case unwritable(path: String, reason: String)
  /// A file was not deleted.
  case undeletable(path: String, reason: String)
  /// `component` of the folder's path is a file.
  case notAFolder(folder: String, component: String)
  /// `component` of the folder's path could not be created.
  case uncreatable(folder: String, component: String, reason: String)
  /// The folder exists but cannot be written.
  case notWritable(folder: String, reason: String)
  /// Its lock file could not be opened or locked.
  case unlockable(folder: String, path: String, reason: String)
  /// Another process holds its lock; `holder` is what that run wrote in the lock file.
  case inUse(folder: String, holder: String)
  /// It holds another run's `latest.safetensors` (at `step`; nil: a file that does not load).
  case anotherRun(folder: String, step: Int?)

  public var description: String {
    switch self {
    case .unwritable(let path, let reason): "cannot write \(path): \(reason)"
    case .undeletable(let path, let reason): "cannot delete old checkpoint \(path): \(reason)"
    case .notAFolder(let folder, let component):
      "cannot create checkpoint folder \(folder): \(component) is a file, not a folder"
    case .uncreatable(let folder, let component, let reason):
      "cannot create checkpoint folder \(folder): \(component): \(reason)"
    case .notWritable(let folder, let reason): "checkpoint folder \(folder) is not writable: \(reason)"
    case .unlockable(let folder, let path, let reason): "cannot lock checkpoint folder \(folder): \(path): \(reason)"
    case .inUse(let folder, let holder): "checkpoint folder \(folder) is in use by another run (\(holder))"
    case .anotherRun(let folder, let step):
      "\(folder) holds "
        + (step.map { "another run's checkpoints (latest.safetensors at step \($0))" }
          ?? "a latest.safetensors that does not load")
    }
  }
}
