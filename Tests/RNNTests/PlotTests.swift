import Foundation
import XCTest

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// End-to-end tests of `rnn plot`: a metrics log becomes a well-formed SVG with one polyline per
/// curve and its labels, or a PNG of the asked size; bad logs give a one-line error.
final class PlotTests: CommandLineTestCase {
  // MARK: - Helpers

  private func plot(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
    try rnnSucceeding(["plot"] + arguments, file: file, line: line)
  }

  /// A log as `rnn train` writes it: a progress line every 10 steps from 10 to `10 * trainLines`
  /// (loss falling from about 4.5 to 0.5) and a validation line every 100 steps.
  private func syntheticLog(trainLines: Int = 60) -> String {
    var lines: [String] = []
    for i in 1...trainLines {
      let step = 10 * i
      let loss = 0.5 + 4 * exp(-Double(step) / 150) + 0.05 * sin(Double(i))
      lines.append(
        #"{"step": \#(step), "time": \#(Double(i) * 0.5), "epoch": \#(Double(step) / 300), "train_loss": \#(loss), "#
          + #""learning_rate": 0.002, "grad_norm": 1.5, "tokens_per_s": 61234.5, "note": "ignored"}"#)
      if step % 100 == 0 {
        lines.append(#"{"step": \#(step), "time": \#(Double(i) * 0.5 + 0.1), "val_loss": \#(0.6 + 4 * exp(-Double(step) / 150))}"#)
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  // MARK: - SVG

  func testSVGOfRunFolderHasBothCurvesAndLabels() throws {
    try write("char & <lstm>/metrics.jsonl", syntheticLog())
    try plot(["char & <lstm>", "--out", "chart.svg"])
    let svg = try SVGSummary(contentsOf: folder + "/chart.svg")

    XCTAssertEqual(svg.width, "900")
    XCTAssertEqual(svg.height, "500")
    XCTAssertEqual(svg.polylines.count, 2)
    XCTAssertEqual(svg.polylines["train"]?.count, 60)
    XCTAssertEqual(svg.polylines["validation"]?.count, 6)
    XCTAssertEqual(svg.markers, 6)
    XCTAssertTrue(svg.texts.contains("char & <lstm>"), "title (escaped and read back): \(svg.texts)")
    XCTAssertTrue(svg.texts.contains("step"))
    XCTAssertTrue(svg.texts.contains("loss (nats/char)"))
    XCTAssertTrue(svg.texts.contains { $0.hasPrefix("train") }, "legend: \(svg.texts)")
    XCTAssertTrue(svg.texts.contains { $0.hasPrefix("validation") }, "legend: \(svg.texts)")
    // Nice y ticks: loss 0.5 to 4.5 gets round labels, including both ends.
    XCTAssertTrue(svg.texts.contains("0.5") && svg.texts.contains("4.5"), "ticks: \(svg.texts)")

    // Points go right with the step and up with the loss (pixel y falls).
    let train = try XCTUnwrap(svg.polylines["train"])
    XCTAssertEqual(train.map(\.x), train.map(\.x).sorted())
    XCTAssertGreaterThan(train.last!.y, train.first!.y)
    // Every point lies inside the canvas.
    for p in train + svg.polylines["validation"]! {
      XCTAssertTrue((0...900).contains(p.x) && (0...500).contains(p.y), "\(p)")
    }
  }

  func testSmoothingAddsAnAveragedCurve() throws {
    let log = try write("log.jsonl", syntheticLog())
    try plot([log, "--out", "smooth.svg", "--smooth", "5"])
    let svg = try SVGSummary(contentsOf: folder + "/smooth.svg")
    XCTAssertEqual(svg.polylines["train-raw"]?.count, 60)
    XCTAssertEqual(svg.polylines["train"]?.count, 60)
    XCTAssertEqual(svg.polylines["validation"]?.count, 6)
    XCTAssertTrue(svg.texts.contains("log"), "title from the file name: \(svg.texts)")
    XCTAssertTrue(svg.texts.contains { $0.contains("mean of 5") }, "legend: \(svg.texts)")
  }

  /// A resumed run logs steps again: the later lines replace the earlier ones from that step on.
  /// A blank line, a line without losses, and a cut-off last line (a run still writing) are skipped.
  func testResumedRunAndPartialLastLine() throws {
    var text = ""
    for step in stride(from: 10, through: 300, by: 10) { text += #"{"step": \#(step), "train_loss": 3.0}"# + "\n" }
    text += "\n" + #"{"step": 200, "time": 1.0}"# + "\n"
    for step in stride(from: 200, through: 400, by: 10) { text += #"{"step": \#(step), "train_loss": 2.0}"# + "\n" }
    text += #"{"step": 400, "val_loss": 2.5}"# + "\n" + #"{"step": 410, "train_lo"#
    try write("resumed/metrics.jsonl", text)
    try plot(["resumed", "--out", "resumed.svg"])
    let svg = try SVGSummary(contentsOf: folder + "/resumed.svg")
    XCTAssertEqual(svg.polylines["train"]?.count, 19 + 21)  // steps 10...190, then 200...400
    XCTAssertEqual(svg.polylines["validation"]?.count, 1)
  }

  // MARK: - PNG

  func testPNGHasTheSizeAskedAndIsNotBlank() throws {
    guard let renderer = Self.renderer() else {
      throw XCTSkip("no SVG renderer (rsvg-convert from librsvg2-bin, or ImageMagick) on the PATH")
    }
    // A white image of the same size, through the same renderer: it compresses to almost nothing,
    // and a renderer that cannot make it (a stand-in of the same name) is not one to test with.
    try write("blank.svg", #"<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400"><rect width="100%" height="100%" fill="white"/></svg>"#)
    let arguments = renderer.hasSuffix("rsvg-convert") ? ["-o", "blank.png", "blank.svg"] : ["blank.svg", "blank.png"]
    let result = try runCommand(URL(fileURLWithPath: renderer), arguments, in: folder)
    guard result.status == 0 else {
      throw XCTSkip("\(renderer) cannot render an SVG here: \(result.transcript)")
    }
    let blank = try Data(contentsOf: URL(fileURLWithPath: folder + "/blank.png")).count

    try write("run/metrics.jsonl", syntheticLog())
    try plot(["run", "--out", "chart.png", "--width", "640", "--height", "400"])
    let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/chart.png")))
    XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "PNG signature")
    XCTAssertGreaterThan(png.count, 33)
    XCTAssertEqual(Array(png[12..<16]), Array("IHDR".utf8))
    func bigEndian(_ at: Int) -> Int { png[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
    XCTAssertEqual(bigEndian(16), 640, "width")
    XCTAssertEqual(bigEndian(20), 400, "height")

    // A chart with text and curves is many times larger than the blank image.
    XCTAssertGreaterThan(png.count, 5 * blank, "chart \(png.count) bytes, blank \(blank) bytes")
    XCTAssertGreaterThan(png.count, 8000)
  }

  /// The renderer `rnn plot` uses: the first of rsvg-convert, magick, convert on the PATH.
  private static func renderer() -> String? {
    let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
    for name in ["rsvg-convert", "magick", "convert"] {
      for folder in folders where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
        return "\(folder)/\(name)"
      }
    }
    return nil
  }

  // MARK: - Bad input

  func testBadInputsGiveOneLineErrors() throws {
    try assertCleanFailure(["plot", "missing", "--out", "a.svg"], mentioning: ["missing", "no such file"])
    try FileManager.default.createDirectory(atPath: folder + "/bare", withIntermediateDirectories: true)
    try assertCleanFailure(["plot", "bare", "--out", "a.svg"], mentioning: ["metrics.jsonl", "bare"])
    try write("empty.jsonl", "\n\n")
    try assertCleanFailure(["plot", "empty.jsonl", "--out", "a.svg"], mentioning: ["empty.jsonl", "empty"])
    try write("bad.jsonl", #"{"step": 1, "train_loss": 4.2}"# + "\n" + #"{"step": 2, "train_loss": 4.1}"# + "\nnot json\n")
    try assertCleanFailure(["plot", "bad.jsonl", "--out", "a.svg"], mentioning: ["bad.jsonl", "line 3"])
    try write("text.jsonl", #"{"step": 1, "train_loss": "low"}"# + "\n")
    try assertCleanFailure(["plot", "text.jsonl", "--out", "a.svg"], mentioning: ["line 1", "train_loss"])
    try write("nostep.jsonl", #"{"val_loss": 1.5}"# + "\n")
    try assertCleanFailure(["plot", "nostep.jsonl", "--out", "a.svg"], mentioning: ["line 1", "step"])
    try write("noloss.jsonl", #"{"step": 1, "time": 0.5, "epoch": 0}"# + "\n")
    try assertCleanFailure(["plot", "noloss.jsonl", "--out", "a.svg"], mentioning: ["noloss.jsonl", "no train_loss or val_loss"])
    try write("ok.jsonl", #"{"step": 1, "train_loss": 4.2}"# + "\n")
    try assertCleanFailure(["plot", "ok.jsonl", "--out", "a.pdf"], mentioning: ["--out", ".svg or .png"])
    try assertCleanFailure(["plot", "ok.jsonl", "--out", "a.svg", "--smooth", "0"], mentioning: ["--smooth", "positive"])
    try assertCleanFailure(["plot", "ok.jsonl", "--out", "no/such/folder/a.svg"], mentioning: ["cannot write", "a.svg"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/a.svg"))
  }
}

/// What a test needs of an SVG file: parsed as XML (failing on malformed XML), the points of each
/// `<polyline>` by class, the number of point markers, and the text of each `<text>`.
private final class SVGSummary: NSObject, XMLParserDelegate {
  var width = ""
  var height = ""
  var polylines: [String: [(x: Double, y: Double)]] = [:]
  var markers = 0
  var texts: [String] = []
  private var currentText: String?
  private var badPoints: String?
  private var groups: [String] = []  // the classes of the open <g> elements

  struct Malformed: Error, CustomStringConvertible { let description: String }

  init(contentsOf path: String) throws {
    super.init()
    let parser = try XCTUnwrap(XMLParser(contentsOf: URL(fileURLWithPath: path)), "cannot open \(path)")
    parser.delegate = self
    guard parser.parse() else {
      throw Malformed(
        description: "\(path) line \(parser.lineNumber): not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")")
    }
    if let bad = badPoints { XCTFail("polyline points not x,y pairs: \(bad)") }
  }

  func parser(
    _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
    attributes: [String: String] = [:]
  ) {
    switch name {
    case "svg":
      width = attributes["width"] ?? ""
      height = attributes["height"] ?? ""
    case "polyline":
      let pairs = (attributes["points"] ?? "").split(separator: " ").map { pair -> (x: Double, y: Double)? in
        let xy = pair.split(separator: ",").compactMap { Double($0) }
        return xy.count == 2 ? (xy[0], xy[1]) : nil
      }
      if pairs.contains(where: { $0 == nil }) { badPoints = attributes["points"] }
      polylines[attributes["class"] ?? "", default: []] += pairs.compactMap { $0 }
    case "g": groups.append(attributes["class"] ?? "")
    case "circle": if groups.last?.hasSuffix("-markers") == true { markers += 1 }
    case "text": currentText = ""
    default: break
    }
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) { currentText? += string }

  func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
    if name == "text", let text = currentText { texts.append(text) }
    if name == "text" { currentText = nil }
    if name == "g" { groups.removeLast() }
  }
}
