import ArgumentParser
import Foundation

/// `rnn plot`: charts the train and validation loss of a training run (its `metrics.jsonl`)
/// against step, as SVG or PNG.
struct Plot: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Chart a training run's train and validation loss against step (SVG or PNG).",
    discussion: """
      Reads metrics.jsonl in a training run's folder (the --checkpoint-dir of rnn train), or a .jsonl \
      file given directly: one JSON object per line, with step and train_loss and/or val_loss (nats per \
      character); other fields are ignored. A .png is rendered from the SVG with rsvg-convert \
      (Debian/Ubuntu package librsvg2-bin) or else ImageMagick.
      """)

  @Argument(help: "A training run folder (holding metrics.jsonl) or a .jsonl metrics file.")
  var runOrLog: String
  @Option(help: "The chart to write: a .svg or .png file.")
  var out: String
  @Option(help: "Draw the train loss as a centred moving average of this many logged points over the raw curve (1: off).")
  var smooth = 1
  @Option(help: "The chart's title (default: the run's folder name).")
  var title: String?
  @Option(help: "Width in pixels.")
  var width = 900
  @Option(help: "Height in pixels.")
  var height = 500

  func validate() throws {
    guard Format(path: out) != nil else { throw ValidationError("--out must end in .svg or .png, got \(out)") }
    try requirePositive(smooth, "smooth")
    guard width >= 300, height >= 200 else {
      throw ValidationError("the chart must be at least 300x200 pixels, got \(width)x\(height)")
    }
  }

  func run() throws {
    let file = try Self.metricsFile(for: runOrLog)
    let log = try Log(contentsOf: file)
    let svg = chart(of: log, title: title ?? Self.runName(of: file)).svg()
    switch Format(path: out)! {
    case .svg: try write(svg, to: out)
    case .png: try Self.renderPNG(svg, to: out)
    }
    say("wrote \(out): \(log.train.count) train and \(log.validation.count) validation losses up to step \(log.lastStep)")
  }

  /// The chart of `log`: train loss in blue (faint under its moving average with `--smooth`),
  /// validation loss in orange with a marker at each evaluation.
  func chart(of log: Log, title: String) -> SVGChart {
    let blue = "#1f77b4"
    let orange = "#ff7f0e"
    var series: [SVGChart.Series] = []
    if !log.train.isEmpty {
      let last = " (last \(fixed(log.train.last!.loss, 3)))"
      if smooth > 1 {
        let averaged = Self.movingAverage(log.train, window: smooth)
        series.append(.init(name: "train", id: "train-raw", points: log.train.map { ($0.step, $0.loss) },
                            color: blue, lineWidth: 1, opacity: 0.3, inLegend: false))
        series.append(.init(name: "train, mean of \(smooth)" + " (last \(fixed(averaged.last!.loss, 3)))",
                            id: "train", points: averaged.map { ($0.step, $0.loss) }, color: blue))
      } else {
        series.append(.init(name: "train" + last, id: "train", points: log.train.map { ($0.step, $0.loss) },
                            color: blue, lineWidth: log.train.count > 400 ? 1.5 : 2))
      }
    }
    if let best = log.validation.min(by: { $0.loss < $1.loss }) {
      series.append(.init(
        name: "validation (best \(fixed(best.loss, 3)) at step \(Int(best.step)))", id: "validation",
        points: log.validation.map { ($0.step, $0.loss) }, color: orange, markers: log.validation.count <= 150))
    }
    return SVGChart(
      title: title, xLabel: "step", yLabel: "loss (nats/char)", series: series, width: width, height: height)
  }

  // MARK: - Input

  /// `path` itself if it is a file, else the `metrics.jsonl` in the folder `path`.
  static func metricsFile(for path: String) throws -> String {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw LogError.missing(path) }
    guard isFolder.boolValue else { return path }
    let file = (path as NSString).appendingPathComponent("metrics.jsonl")
    guard FileManager.default.fileExists(atPath: file) else { throw LogError.noMetrics(folder: path) }
    return file
  }

  /// The name of the run: the folder of a `metrics.jsonl`, else the file's name without extension.
  static func runName(of file: String) -> String {
    let url = URL(fileURLWithPath: file).standardizedFileURL
    if url.lastPathComponent == "metrics.jsonl" { return url.deletingLastPathComponent().lastPathComponent }
    return url.deletingPathExtension().lastPathComponent
  }

  /// The mean of the losses centred on each point, `(window - 1) / 2` on each side (fewer near the
  /// ends, so the average neither lags the raw curve nor moves its first and last points).
  static func movingAverage(_ points: [Log.Point], window: Int) -> [Log.Point] {
    var prefix = [0.0]  // prefix[i]: the sum of the first i losses
    for p in points { prefix.append(prefix.last! + p.loss) }
    return points.indices.map { i in
      let half = min((window - 1) / 2, i, points.count - 1 - i)
      let sum = prefix[i + half + 1] - prefix[i - half]
      return Log.Point(step: points[i].step, loss: sum / Double(2 * half + 1))
    }
  }

  // MARK: - Output

  enum Format {
    case svg, png
    init?(path: String) {
      switch (path as NSString).pathExtension.lowercased() {
      case "svg": self = .svg
      case "png": self = .png
      default: return nil
      }
    }
  }

  private func write(_ text: String, to path: String) throws {
    do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
      throw Failure("cannot write \(path): \(Self.oneLine(error))")
    }
  }

  /// The programs that turn an SVG file into a PNG file, in order of preference, with their arguments.
  private static var renderers: [(name: String, arguments: (_ svg: String, _ png: String) -> [String])] {
    [
    ("rsvg-convert", { ["--format", "png", "--background-color", "white", "--output", $1, $0] }),
    ("magick", { ["-background", "white", $0, $1] }),
    ("convert", { ["-background", "white", $0, $1] }),
    ]
  }

  /// Renders `svg` to the PNG file `path` with the first renderer found on the `PATH`.
  static func renderPNG(_ svg: String, to path: String) throws {
    let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
    let found = renderers.lazy.compactMap { renderer in
      folders.lazy.map { "\($0)/\(renderer.name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        .map { (path: $0, renderer: renderer) }
    }.first
    guard let (program, renderer) = found else {
      throw Failure(
        "PNG output needs rsvg-convert (install the package librsvg2-bin, e.g. apt-get install librsvg2-bin) or ImageMagick; or write .svg")
    }
    let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("rnn-plot-\(UUID().uuidString).svg").path
    do { try svg.write(toFile: temporary, atomically: false, encoding: .utf8) } catch {
      throw Failure("cannot write \(temporary): \(oneLine(error))")
    }
    defer { try? FileManager.default.removeItem(atPath: temporary) }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = renderer.arguments(temporary, path)
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch { throw Failure("cannot run \(program): \(oneLine(error))") }
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: path) else {
      let reason = message.split(separator: "\n").first.map(String.init) ?? "exit status \(process.terminationStatus)"
      throw Failure("\(renderer.name) could not render \(path): \(reason)")
    }
  }

  static func oneLine(_ error: Error) -> String {
    "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
  }
}

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

    init(contentsOf path: String) throws {
      let data: Data
      do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw LogError.unreadable(path, Plot.oneLine(error))
      }
      try self.init(text: String(decoding: data, as: UTF8.self), path: path)
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
        guard let step = try Self.number(object, "step", path, number), step.isFinite else {
          throw LogError.malformed(path, line: number, "a loss without a step")
        }
        if let loss = trainLoss { Self.append(Point(step: step, loss: loss), to: &train) }
        if let loss = validationLoss { Self.append(Point(step: step, loss: loss), to: &validation) }
      }
      guard sawRecord else { throw LogError.empty(path) }
      // Non-finite losses (a diverged run) are left out rather than ruin the scale.
      train.removeAll { !$0.loss.isFinite }
      validation.removeAll { !$0.loss.isFinite }
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
      guard let number = value as? NSNumber else {
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

    var description: String {
      switch self {
      case .missing(let path): "no such file or folder: \(path)"
      case .noMetrics(let folder): "no metrics.jsonl in \(folder) (expected a training run's --checkpoint-dir or a .jsonl file)"
      case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
      case .empty(let path): "\(path) is empty: no metrics logged yet"
      case .malformed(let path, let line, let reason): "\(path) line \(line): \(reason)"
      case .noLosses(let path): "\(path) has no train_loss or val_loss values to plot"
      }
    }
  }
}
