import Foundation

/// A line chart drawn as a self-contained SVG document: series of `(x, y)` points on linear axes
/// with nice tick values, grid lines, axis labels, a title and a legend.
///
/// Each series is one `<polyline class="...">` with one `x,y` pair per point, so the output can be
/// checked (and styled) from outside.
struct SVGChart {
  /// One curve.
  struct Series {
    /// Legend text.
    var name: String
    /// The `class` of its polyline (and of its marker group).
    var id: String
    var points: [(x: Double, y: Double)]
    /// A CSS colour.
    var color: String
    var lineWidth = 2.0
    var opacity = 1.0
    /// Draws a circle at each point (always, for a series of one point).
    var markers = false
    var inLegend = true
  }

  var title: String
  var xLabel: String
  var yLabel: String
  var series: [Series]
  var width = 900
  var height = 500
  /// Formats an x tick value (the default prints integers, `20k` for round thousands).
  var formatX: (Double, _ step: Double) -> String = SVGChart.formatCount

  // MARK: - Layout

  private static let fontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif"
  private static let tickFont = 12.0
  private static let labelFont = 13.0
  private static let titleFont = 17.0
  /// The average advance of a character as a fraction of the font size (DejaVu Sans: about 0.6).
  private static let charWidth = 0.6

  private static func textWidth(_ text: String, size: Double) -> Double {
    Double(text.count) * size * charWidth
  }

  /// The largest magnitude of a coordinate drawn: points beyond it (or not finite) are left out,
  /// so that no axis arithmetic overflows.
  static let maxMagnitude = 1e150

  /// Whether `point` is drawn.
  private static func drawable(_ point: (x: Double, y: Double)) -> Bool {
    abs(point.x) <= maxMagnitude && abs(point.y) <= maxMagnitude
  }

  /// The drawable points of every series.
  private var allPoints: [(x: Double, y: Double)] { series.flatMap { $0.points }.filter(SVGChart.drawable) }

  /// The document.
  func svg() -> String {
    let points = allPoints
    let w = Double(width)
    let h = Double(height)
    let top = 50.0
    let bottom = 58.0
    let right = 28.0

    // The y axis first: its tick labels set the left margin.
    let plotHeightGuess = h - top - bottom
    let ys = points.map(\.y)
    let yAxis = Axis(covering: ys.min() ?? 0, ys.max() ?? 1, ticks: max(3, Int(plotHeightGuess / 40)))
    let yLabels = yAxis.ticks.map { SVGChart.formatDecimal($0, yAxis.step) }
    let widestY = yLabels.map { SVGChart.textWidth($0, size: SVGChart.tickFont) }.max() ?? 0
    let left = max(64, 26 + 10 + widestY + 10)

    let plot = Rect(x: left, y: top, width: w - left - right, height: h - top - bottom)
    let xs = points.map(\.x)
    var xLow = xs.min() ?? 0
    let xHigh = xs.max() ?? 1
    if xLow >= 0 && xLow <= 0.25 * xHigh { xLow = 0 }  // a run from its start: the axis starts at 0
    let xAxis = Axis(covering: xLow, xHigh, ticks: max(3, Int(plot.width / 100)), minimumStep: 1, tight: true)

    func px(_ x: Double) -> Double { plot.x + (x - xAxis.lower) / (xAxis.upper - xAxis.lower) * plot.width }
    func py(_ y: Double) -> Double { plot.maxY - (y - yAxis.lower) / (yAxis.upper - yAxis.lower) * plot.height }

    var out = """
      <?xml version="1.0" encoding="UTF-8"?>
      <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" \
      viewBox="0 0 \(width) \(height)" font-family="\(SVGChart.fontFamily)">
      <title>\(escapeMarkup(title))</title>
      <rect width="100%" height="100%" fill="#ffffff"/>
      <defs><clipPath id="plot-area"><rect x="\(n(plot.x - 4))" y="\(n(plot.y - 4))" \
      width="\(n(plot.width + 8))" height="\(n(plot.height + 8))"/></clipPath></defs>

      """

    // Title, axis labels.
    out += text(title, x: w / 2, y: 30, size: SVGChart.titleFont, anchor: "middle", extra: ##"font-weight="bold" fill="#222222""##)
    out += text(xLabel, x: plot.x + plot.width / 2, y: h - 14, size: SVGChart.labelFont, anchor: "middle", extra: ##"fill="#333333""##)
    let yLabelX = 20.0
    let yLabelY = plot.y + plot.height / 2
    out += text(
      yLabel, x: yLabelX, y: yLabelY, size: SVGChart.labelFont, anchor: "middle",
      extra: ##"fill="#333333" transform="rotate(-90 \##(n(yLabelX)) \##(n(yLabelY)))""##)

    // Grid and ticks.
    out += "<g class=\"grid\" stroke=\"#e6e6e6\" stroke-width=\"1\">\n"
    for t in yAxis.ticks { out += line(plot.x, py(t), plot.maxX, py(t)) }
    for t in xAxis.ticks { out += line(px(t), plot.y, px(t), plot.maxY) }
    out += "</g>\n<g class=\"ticks\" stroke=\"#555555\" stroke-width=\"1\">\n"
    for t in yAxis.ticks { out += line(plot.x - 5, py(t), plot.x, py(t)) }
    for t in xAxis.ticks { out += line(px(t), plot.maxY, px(t), plot.maxY + 5) }
    out += "</g>\n<g class=\"tick-labels\" fill=\"#444444\">\n"
    for (t, label) in zip(yAxis.ticks, yLabels) {
      out += text(label, x: plot.x - 9, y: py(t) + 4, size: SVGChart.tickFont, anchor: "end")
    }
    for t in xAxis.ticks {
      out += text(formatX(t, xAxis.step), x: px(t), y: plot.maxY + 20, size: SVGChart.tickFont, anchor: "middle")
    }
    out += "</g>\n"
    out += """
      <rect class="frame" x="\(n(plot.x))" y="\(n(plot.y))" width="\(n(plot.width))" height="\(n(plot.height))" \
      fill="none" stroke="#888888" stroke-width="1"/>

      """

    // Curves.
    out += "<g clip-path=\"url(#plot-area)\">\n"
    for s in series {
      let visible = s.points.filter(SVGChart.drawable)
      let coordinates = visible.map { "\(n(px($0.x))),\(n(py($0.y)))" }.joined(separator: " ")
      out += """
        <polyline class="\(escapeMarkup(s.id))" points="\(coordinates)" fill="none" stroke="\(s.color)" \
        stroke-width="\(n(s.lineWidth))" stroke-opacity="\(n(s.opacity))" stroke-linejoin="round" stroke-linecap="round"/>

        """
      if s.markers || visible.count == 1 {  // a lone point draws no line
        out += "<g class=\"\(escapeMarkup(s.id))-markers\" fill=\"\(s.color)\" stroke=\"#ffffff\" stroke-width=\"1\">\n"
        for p in visible { out += "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"3.5\"/>\n" }
        out += "</g>\n"
      }
    }
    out += "</g>\n"

    out += legend(in: plot, at: { (px($0.x), py($0.y)) })
    out += "</svg>\n"
    return out
  }

  /// The legend box in the corner of the plot the curves cross least.
  private func legend(in plot: Rect, at position: ((x: Double, y: Double)) -> (Double, Double)) -> String {
    let entries = series.filter(\.inLegend)
    guard !entries.isEmpty else { return "" }
    let row = 21.0
    let sample = 26.0
    let textWidth = entries.map { SVGChart.textWidth($0.name, size: SVGChart.labelFont) }.max() ?? 0
    let box = (width: 12 + sample + 8 + textWidth + 12, height: 8 + row * Double(entries.count) + 4)
    let inset = 10.0
    let corners = [
      Rect(x: plot.maxX - inset - box.width, y: plot.y + inset, width: box.width, height: box.height),
      Rect(x: plot.maxX - inset - box.width, y: plot.maxY - inset - box.height, width: box.width, height: box.height),
      Rect(x: plot.x + inset, y: plot.maxY - inset - box.height, width: box.width, height: box.height),
      Rect(x: plot.x + inset, y: plot.y + inset, width: box.width, height: box.height),
    ]
    // Count how much of the curves (sampled along each segment) falls in each candidate box.
    var covered = [Int](repeating: 0, count: corners.count)
    for s in series {
      let pixels = s.points.filter(SVGChart.drawable).map(position)
      for (a, b) in zip(pixels, pixels.dropFirst()) + (pixels.count == 1 ? [(pixels[0], pixels[0])] : []) {
        let samples = max(1, Int(max(abs(b.0 - a.0), abs(b.1 - a.1)) / 4))
        for k in 0...samples {
          let t = Double(k) / Double(samples)
          let p = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
          for (i, c) in corners.enumerated() where c.contains(p) { covered[i] += 1 }
        }
      }
    }
    let best = corners[covered.indices.min { covered[$0] < covered[$1] }!]

    var out = """
      <g class="legend">
      <rect x="\(n(best.x))" y="\(n(best.y))" width="\(n(best.width))" height="\(n(best.height))" rx="4" \
      fill="#ffffff" fill-opacity="0.9" stroke="#cccccc" stroke-width="1"/>

      """
    for (i, s) in entries.enumerated() {
      let y = best.y + 8 + row * Double(i) + row / 2
      let x0 = best.x + 12
      out += """
        <line x1="\(n(x0))" y1="\(n(y))" x2="\(n(x0 + sample))" y2="\(n(y))" stroke="\(s.color)" \
        stroke-width="\(n(max(s.lineWidth, 2)))" stroke-opacity="\(n(max(s.opacity, 0.5)))" stroke-linecap="round"/>

        """
      if s.markers {
        out += "<circle cx=\"\(n(x0 + sample / 2))\" cy=\"\(n(y))\" r=\"3.5\" fill=\"\(s.color)\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n"
      }
      out += text(s.name, x: x0 + sample + 8, y: y + 4.5, size: SVGChart.labelFont, anchor: "start", extra: ##"fill="#222222""##)
    }
    return out + "</g>\n"
  }

  // MARK: - Pieces

  private func text(_ content: String, x: Double, y: Double, size: Double, anchor: String, extra: String = "") -> String {
    "<text x=\"\(n(x))\" y=\"\(n(y))\" font-size=\"\(n(size))\" text-anchor=\"\(anchor)\"\(extra.isEmpty ? "" : " " + extra)>"
      + escapeMarkup(content) + "</text>\n"
  }

  private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) -> String {
    "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\"/>\n"
  }

  /// A coordinate with at most one decimal ("12", "12.5"), held within +-1e9.
  private func n(_ value: Double) -> String {
    let tenths = value.isNaN ? 0 : Int((min(max(value, -1e9), 1e9) * 10).rounded())
    let sign = tenths < 0 ? "-" : ""
    let magnitude = abs(tenths)
    return magnitude % 10 == 0 ? "\(sign)\(magnitude / 10)" : "\(sign)\(magnitude / 10).\(magnitude % 10)"
  }

  /// A tick value with as many decimals as its step needs.
  static func formatDecimal(_ value: Double, _ step: Double) -> String {
    fixed(value, max(0, -Int((log10(step) + 1e-9).rounded(.down))))
  }

  /// An integer tick value; `20k`, `1.5M` when the step is a round thousand or million.
  static func formatCount(_ value: Double, _ step: Double) -> String {
    if value == 0 { return "0" }
    if step >= 1_000_000, step.truncatingRemainder(dividingBy: 100_000) == 0 {
      return formatDecimal(value / 1_000_000, step / 1_000_000) + "M"
    }
    if step >= 1000, step.truncatingRemainder(dividingBy: 100) == 0 {
      return formatDecimal(value / 1000, step / 1000) + "k"
    }
    if abs(value) >= 1e15 { return String(format: "%.6g", value) }
    return step >= 1 ? "\(Int(value.rounded()))" : formatDecimal(value, step)
  }
}

extension SVGChart {
  /// A linear axis: `lower` and `upper` are multiples of `step`, a 1, 2 or 5 times a power of ten.
  struct Axis {
    var lower: Double
    var upper: Double
    var step: Double

    /// An axis covering `low...high` with about `ticks` intervals. With `tight`, the ends are the
    /// data's own when they are not already round (no empty band at the right of a step axis).
    init(covering low: Double, _ high: Double, ticks: Int, minimumStep: Double = 0, tight: Bool = false) {
      var low = low
      var high = high
      if !(high - low > 1e-12 * max(abs(low), abs(high), 1)) {  // one value (or none): a band around it
        let pad = max(abs(low) * 0.1, minimumStep, 0.5)
        low -= pad
        high += pad
      }
      let raw = (high - low) / Double(max(ticks, 1))
      let magnitude = pow(10, (log10(raw)).rounded(.down))
      let fraction = raw / magnitude
      let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
      step = max(nice * magnitude, minimumStep)
      let roundLow = (low / step).rounded(.down) * step
      let roundHigh = (high / step).rounded(.up) * step
      // A tight axis still rounds an end that is within a fifth of a step of a tick.
      lower = tight && low - roundLow > 0.2 * step ? low : roundLow
      upper = tight && roundHigh - high > 0.2 * step ? high : roundHigh
    }

    /// The multiples of `step` from `lower` to `upper`.
    var ticks: [Double] {
      let first = Int((lower / step - 1e-9).rounded(.up))
      let last = Int((upper / step + 1e-9).rounded(.down))
      guard first <= last else { return [] }
      return (first...last).map { Double($0) * step }
    }
  }

  /// A rectangle in pixels, `y` down.
  struct Rect {
    var x, y, width, height: Double
    var maxX: Double { x + width }
    var maxY: Double { y + height }
    func contains(_ p: (Double, Double)) -> Bool { p.0 >= x && p.0 <= maxX && p.1 >= y && p.1 <= maxY }
  }
}
