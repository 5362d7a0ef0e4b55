import ArgumentParser
import Foundation
import RNN

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
  @Option(parsing: .unconditional, help: "Width in pixels, 300 to \(Plot.maxSide).")
  var width = 900
  @Option(parsing: .unconditional, help: "Height in pixels, 200 to \(Plot.maxSide).")
  var height = 500

  /// The largest width or height: a 10000 x 10000 PNG is 400 MB of pixels to render.
  static let maxSide = 10_000

  func validate() throws {
    guard Format(path: out) != nil else { throw ValidationError("--out must end in .svg or .png, got \(out)") }
    try requirePositive(smooth, "smooth")
    guard (300...Self.maxSide).contains(width), (200...Self.maxSide).contains(height) else {
      throw ValidationError(
        "the chart must be from 300x200 to \(Self.maxSide)x\(Self.maxSide) pixels, got \(width)x\(height)")
    }
  }

  func run() throws {
    let output = try OutputFile(out)
    let file = try Self.metricsFile(for: runOrLog)
    let log = try Log(contentsOf: file)
    let svg = chart(of: log, title: title ?? Self.runName(of: file)).svg()
    switch Format(path: out)! {
    case .svg: try output.write(Array(svg.utf8))
    case .png: try output.write(try Self.renderPNG(svg, width: width, height: height))
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

  /// The programs that turn an SVG on standard input into a PNG on standard output, in order of
  /// preference, with their arguments.
  private static let renderers = [
    "rsvg-convert": ["--format", "png", "--background-color", "white"],
    "magick": ["-background", "white", "svg:-", "png:-"],
    "convert": ["-background", "white", "svg:-", "png:-"],
  ]

  /// `svg` (a `width` x `height` chart) as PNG bytes, rendered by the first renderer on the `PATH`.
  static func renderPNG(_ svg: String, width: Int, height: Int) throws -> [UInt8] {
    let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    guard let renderer = ChildProcess(firstOf: ["rsvg-convert", "magick", "convert"], searchPath: searchPath) else {
      throw Failure(
        "PNG output needs rsvg-convert (install the package librsvg2-bin, e.g. apt-get install librsvg2-bin) or ImageMagick; or write .svg")
    }
    // An RGBA image, uncompressed, plus headers: no PNG of this chart can be larger.
    let limit = width * height * 4 + (1 << 20)
    let run = try renderer.run(renderers[renderer.name]!, input: Array(svg.utf8), outputLimit: limit)
    let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47]
    guard run.exitStatus == 0, !run.overflowed, run.output.starts(with: png) else {
      let reason =
        run.overflowed ? "it wrote more than \(limit) bytes"
        : run.errors.split(separator: "\n").first.map(String.init)
          ?? run.ending
      throw Failure("\(renderer.name) could not render the PNG: \(reason)")
    }
    return run.output
  }
}
