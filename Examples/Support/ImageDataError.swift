/// Errors from reading images and labels. Each `description` is one line naming the file and the problem.
public enum ImageDataError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file cannot be opened or read (or decompressed); `reason` says why.
  case unreadable(path: String, reason: String)
  /// A CSV line is not a row of numbers with a label last; `line` is 1-based.
  case badCSVLine(path: String, line: Int, reason: String)
  /// The file holds no images.
  case empty(path: String)
  /// An IDX file's header or size is not what the format requires.
  case badIDX(path: String, reason: String)
  /// The image and label files disagree on the number of items.
  case countMismatch(images: Int, labels: Int)

  public var description: String {
    switch self {
    case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
    case .badCSVLine(let path, let line, let reason): "\(path):\(line): \(reason)"
    case .empty(let path): "\(path): no images in the file"
    case .badIDX(let path, let reason): "\(path): not an MNIST IDX file: \(reason)"
    case .countMismatch(let images, let labels): "\(images) images but \(labels) labels"
    }
  }
}
