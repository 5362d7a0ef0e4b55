/// Why a checkpoint could not be used.
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file cannot be read (missing, a folder, no permission).
  case unreadable(path: String, reason: String)
  /// The file is not valid safetensors (the reader's error says which rule it breaks).
  case format(path: String, SafeTensorsError)
  /// A required `__metadata__` entry is absent.
  case missingMetadata(path: String, key: String)
  /// A `__metadata__` entry does not parse or holds impossible values.
  case invalidMetadata(path: String, key: String, reason: String)
  /// A tensor the model needs is not in the file.
  case missingTensor(path: String, name: String)
  /// A tensor has another shape than the config implies.
  case shapeMismatch(path: String, name: String, expected: [Int], actual: [Int])
  /// A tensor holds NaN or infinite values (`count` of its `total`): a damaged file, or one
  /// saved from a diverged run.
  case nonFinite(path: String, name: String, count: Int, total: Int)
  /// The file has tensors the model does not know.
  case unexpectedTensors(path: String, names: [String])
  /// The training-state file beside a checkpoint is missing, foreign or from another step.
  case trainingState(path: String, reason: String)

  public var description: String {
    switch self {
    case .unreadable(let path, let reason): "cannot read checkpoint \(path): \(reason)"
    case .format(let path, let error): "\(path) is not a safetensors checkpoint: \(error)"
    case .missingMetadata(let path, let key): "\(path): not a swift-rnn checkpoint: no \"\(key)\" in its metadata"
    case .invalidMetadata(let path, let key, let reason): "\(path): invalid \"\(key)\" metadata: \(reason)"
    case .missingTensor(let path, let name): "\(path): tensor \(name) is missing"
    case .shapeMismatch(let path, let name, let expected, let actual):
      "\(path): tensor \(name) has shape \(actual), the config needs \(expected)"
    case .nonFinite(let path, let name, let count, let total):
      "\(path): tensor \(name) holds \(count) NaN or infinite value\(count == 1 ? "" : "s") (of \(total)); "
        + "the file is damaged or was saved from a diverged run"
    case .unexpectedTensors(let path, let names):
      "\(path): unexpected tensors \(names.prefix(3).joined(separator: ", "))\(names.count > 3 ? ", ..." : "")"
    case .trainingState(let path, let reason): "\(path): cannot resume: \(reason)"
    }
  }
}
