/// Errors from `Corpus.load`. Each `description` is a one-line message naming the problem and path.
public enum CorpusError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The path does not exist.
  case missingPath(String)
  /// The path exists but cannot be read (or is neither a regular file nor a folder); `reason` is the `strerror` text.
  case unreadable(path: String, reason: String)
  /// A file given explicitly looks binary: it has a NUL byte at `byteOffset`, within its first 8 KiB.
  case binaryFile(path: String, byteOffset: Int)
  /// Not valid UTF-8: `byteOffset` (0-based) starts the bad sequence; `line`, `column` (1-based, in characters).
  case invalidUTF8(path: String, byteOffset: Int, line: Int, column: Int, reason: String)
  /// The files read hold no characters at all.
  case emptyCorpus(paths: [String])
  /// A folder (searched recursively, hidden entries and binary files skipped) holds no text file.
  case noTextFiles(folder: String)
  /// `count` characters are not in the given vocabulary; `examples`: a few distinct; `firstPath`: file of the first.
  case unknownCharacters(count: Int, examples: [Unicode.Scalar], firstPath: String)

  public var description: String {
    switch self {
    case .missingPath(let path):
      return "\(path): no such file or folder"
    case .unreadable(let path, let reason):
      return "\(path): cannot read: \(reason)"
    case .binaryFile(let path, let byteOffset):
      return "\(path): looks like a binary file (NUL byte at offset \(byteOffset)), not UTF-8 text"
    case .invalidUTF8(let path, let byteOffset, let line, let column, let reason):
      return "\(path):\(line):\(column): invalid UTF-8 at byte offset \(byteOffset): \(reason)"
    case .emptyCorpus(let paths):
      return "\(paths.joined(separator: ", ")): the corpus is empty (no characters)"
    case .noTextFiles(let folder):
      return "\(folder): folder holds no text files (hidden and binary files are skipped)"
    case .unknownCharacters(let count, let examples, let firstPath):
      return "\(firstPath): \(count) character\(count == 1 ? " is" : "s are") not in the vocabulary, e.g. "
        + examples.map(\.readable).joined(separator: ", ")
    }
  }
}
