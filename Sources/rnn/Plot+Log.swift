import Foundation

// MARK: - The metrics log

extension Plot {
  /// The losses of a `metrics.jsonl`, in step order. A step logged again (a run resumed from an
  /// earlier checkpoint) replaces what was logged from that step on.
  struct Log {
    struct Point {
      var step: Double
      var loss: Double
    }

    var train: [Point] = []
    var validation: [Point] = []

    var lastStep: Int { Int(max(train.last?.step ?? 0, validation.last?.step ?? 0)) }

    /// The largest log read: 256 MiB, about 1.5 million lines as `rnn train` writes them.
    static let maxBytes = 256 << 20
    /// The largest step: every whole number up to it is exact in a JSON (double) number.
    static let maxStep = 9_007_199_254_740_992.0
    /// Losses beyond this (in nats) are a diverged run, left out like non-finite ones.
    static let maxLoss = 1e15

    init(contentsOf path: String) throws {
      let fd = open(path, O_RDONLY | O_CLOEXEC)
      guard fd >= 0 else { throw LogError.unreadable(path, String(cString: strerror(errno))) }
      defer { close(fd) }
      var bytes: [UInt8] = []
      var chunk = [UInt8](repeating: 0, count: 1 << 16)
      while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else { throw LogError.unreadable(path, String(cString: strerror(errno))) }
        if n == 0 { break }
        bytes += chunk[..<n]
        guard bytes.count <= Self.maxBytes else { throw LogError.tooLarge(path, limit: Self.maxBytes) }
      }
      var text = String(decoding: bytes, as: UTF8.self)
      if text.hasPrefix("\u{FEFF}") { text.removeFirst() }  // a byte order mark
      try self.init(text: text, path: path)
    }

    /// Parses `text`; `path` names it in errors.
    init(text: String, path: String) throws {
      let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      let endsComplete = text.hasSuffix("\n")
      var sawRecord = false
      for (index, rawLine) in lines.enumerated() {
        let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
        if line.isEmpty { continue }
        let number = index + 1
        guard let object = Self.parseObject(line) else {
          // The last line of a log still being written may be cut off: skip it.
          if index == lines.count - 1 && !endsComplete && sawRecord { continue }
          throw LogError.malformed(path, line: number, "not a JSON object")
        }
        sawRecord = true
        let trainLoss = try Self.number(object, "train_loss", path, number)
        let validationLoss = try Self.number(object, "val_loss", path, number)
        if trainLoss == nil && validationLoss == nil { continue }
        guard let step = try Self.number(object, "step", path, number) else {
          throw LogError.malformed(path, line: number, "a loss without a step")
        }
        guard step >= 0, step <= Self.maxStep, step.rounded() == step else {
          throw LogError.malformed(path, line: number, "step \(step) is not a whole number from 0 to 2^53")
        }
        if let loss = trainLoss { Self.append(Point(step: step, loss: loss), to: &train) }
        if let loss = validationLoss { Self.append(Point(step: step, loss: loss), to: &validation) }
      }
      guard sawRecord else { throw LogError.empty(path) }
      // Non-finite or huge losses (a diverged run) are left out rather than ruin the scale.
      train.removeAll { !(abs($0.loss) <= Self.maxLoss) }
      validation.removeAll { !(abs($0.loss) <= Self.maxLoss) }
      guard !train.isEmpty || !validation.isEmpty else { throw LogError.noLosses(path) }
    }

    private static func append(_ point: Point, to points: inout [Point]) {
      while let last = points.last, last.step >= point.step { points.removeLast() }
      points.append(point)
    }

    /// The JSON object on `line`; bare `NaN`, `Infinity` and `-Infinity` (as Python writes them)
    /// are read as non-finite numbers.
    private static func parseObject(_ line: String) -> [String: Any]? {
      if let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] { return object }
      guard line.contains("NaN") || line.contains("Infinity") || line.contains("nan") || line.contains("inf") else {
        return nil
      }
      let pattern = #"(:\s*)(-?Infinity|-?inf|NaN|nan)(\s*[,}])"#
      let quoted = line.replacingOccurrences(of: pattern, with: "$1\"$2\"$3", options: .regularExpression)
      return (try? JSONSerialization.jsonObject(with: Data(quoted.utf8))) as? [String: Any]
    }

    /// The number in field `key`: nil if absent or null; an error if it is not a number.
    private static func number(_ object: [String: Any], _ key: String, _ path: String, _ line: Int) throws -> Double? {
      guard let value = object[key], !(value is NSNull) else { return nil }
      if let text = value as? String {  // a non-finite number quoted by parseObject
        switch text {
        case "NaN", "nan": return .nan
        case "Infinity", "inf": return .infinity
        case "-Infinity", "-inf": return -.infinity
        default: break
        }
      }
      // JSON true and false arrive as NSNumber too, with the Objective-C type "c" (char).
      guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else {
        throw LogError.malformed(path, line: line, "\(key) is not a number")
      }
      return number.doubleValue
    }
  }

  /// Why a metrics log could not be charted.
  enum LogError: Error, CustomStringConvertible {
    /// No file or folder at the path.
    case missing(String)
    /// A folder without `metrics.jsonl`.
    case noMetrics(folder: String)
    /// The file could not be read.
    case unreadable(String, String)
    /// No JSON lines at all.
    case empty(String)
    /// A line that is not a JSON object, or a field of the wrong type.
    case malformed(String, line: Int, String)
    /// JSON lines, but no `train_loss` or `val_loss` among them.
    case noLosses(String)
    /// The file is larger than `limit` bytes.
    case tooLarge(String, limit: Int)

    var description: String {
      switch self {
      case .missing(let path): "no such file or folder: \(path)"
      case .noMetrics(let folder): "no metrics.jsonl in \(folder) (expected a training run's --checkpoint-dir or a .jsonl file)"
      case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
      case .empty(let path): "\(path) is empty: no metrics logged yet"
      case .malformed(let path, let line, let reason): "\(path) line \(line): \(reason)"
      case .noLosses(let path): "\(path) has no train_loss or val_loss values to plot (NaN, infinite and huge ones are left out)"
      case .tooLarge(let path, let limit): "\(path) is larger than \(limit >> 20) MiB: not a metrics log rnn can chart"
      }
    }
  }
}
