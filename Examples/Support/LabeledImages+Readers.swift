import RNN

extension LabeledImages {
  /// Reads images from CSV: one image per line, its pixels row after row as numbers, its label
  /// (an integer `0...`) last, as scikit-learn's `digits.csv.gz`. Blank lines are skipped; a first
  /// line that is not numeric is taken for a header. Images are square unless `columns` says
  /// otherwise; pixels are divided by the largest value in the file (16 for those digits, 255 for
  /// MNIST). A `.gz` file is decompressed.
  public static func readCSV(_ path: String, columns: Int? = nil) throws -> LabeledImages {
    let bytes = try readDataFile(path)
    var pixels: [Float] = []
    var labels: [Int32] = []
    var width: Int?
    for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
      let fields = line.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        .map { String(decoding: $0, as: UTF8.self).trimmingSpaces }
      if fields.allSatisfy(\.isEmpty) { continue }
      let values = fields.map { Float($0) }
      if index == 0 && values.contains(nil) { continue }  // a header
      func fail(_ reason: String) -> ImageDataError { .badCSVLine(path: path, line: index + 1, reason: reason) }
      if let bad = values.firstIndex(of: nil) { throw fail("field \(bad + 1) is not a number: \"\(fields[bad])\"") }
      guard values.count >= 2 else { throw fail("needs pixels and a label, has \(values.count) field") }
      guard width == nil || width == values.count - 1 else {
        throw fail("\(values.count - 1) pixels where the lines before have \(width!)")
      }
      width = values.count - 1
      let label = values.last!!
      guard label >= 0, label == label.rounded(), label < 16_777_216 else { throw fail("label \(fields.last!) is not a class number") }
      pixels += values.dropLast().map { $0! }
      labels.append(Int32(label))
    }
    guard let width else { throw ImageDataError.empty(path: path) }
    let side = Int(Double(width).squareRoot().rounded())
    let c = columns ?? side
    guard c > 0, width % c == 0, columns != nil || side * side == width else {
      throw ImageDataError.badCSVLine(
        path: path, line: 1, reason: "\(width) pixels do not make \(columns.map { "rows of \($0)" } ?? "a square image"); give the row width")
    }
    return LabeledImages(rows: width / c, columns: c, pixels: scaled(pixels), labels: labels)
  }

  /// Reads the MNIST IDX pair: `images` (magic `0x00000803`: unsigned bytes, `[N, R, C]`) and
  /// `labels` (`0x00000801`: `[N]`), for instance `train-images-idx3-ubyte(.gz)` and
  /// `train-labels-idx1-ubyte(.gz)`. Pixels are divided by 255.
  public static func readIDX(images: String, labels: String) throws -> LabeledImages {
    let (imageDimensions, imageBytes) = try idxContents(images, dimensions: 3)
    let (labelDimensions, labelBytes) = try idxContents(labels, dimensions: 1)
    guard imageDimensions[0] == labelDimensions[0] else {
      throw ImageDataError.countMismatch(images: imageDimensions[0], labels: labelDimensions[0])
    }
    guard imageDimensions[0] > 0 else { throw ImageDataError.empty(path: images) }
    return LabeledImages(
      rows: imageDimensions[1], columns: imageDimensions[2], pixels: imageBytes.map { Float($0) / 255 },
      labels: labelBytes.map { Int32($0) })
  }

  /// The dimensions and the data of an IDX file of unsigned bytes with `dimensions` dimensions.
  private static func idxContents(_ path: String, dimensions: Int) throws -> ([Int], ArraySlice<UInt8>) {
    let bytes = try readDataFile(path)
    func fail(_ reason: String) -> ImageDataError { .badIDX(path: path, reason: reason) }
    guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0, bytes[2] == 0x08 else {
      throw fail("magic number does not say unsigned bytes")
    }
    guard bytes[3] == dimensions else { throw fail("\(bytes[3]) dimensions where \(dimensions) are expected") }
    let headerSize = 4 + 4 * dimensions
    guard bytes.count >= headerSize else { throw fail("\(bytes.count) bytes, shorter than its header") }
    let sizes = (0..<dimensions).map { d in
      bytes[4 + 4 * d..<8 + 4 * d].reduce(0) { $0 << 8 | Int($1) }
    }
    let expected = sizes.reduce(1 as Int?) { product, size in
      product.flatMap { p in p.multipliedReportingOverflow(by: size).overflow ? nil : p * size }
    }
    guard sizes.dropFirst().allSatisfy({ $0 > 0 }), bytes.count - headerSize == expected else {
      throw fail("header says \(sizes.map(String.init).joined(separator: " x ")) bytes but \(bytes.count - headerSize) follow it")
    }
    return (sizes, bytes[headerSize...])
  }

  /// `pixels` divided by their largest value (unchanged if all are 0).
  private static func scaled(_ pixels: [Float]) -> [Float] {
    let top = pixels.max() ?? 0
    return top > 0 ? pixels.map { $0 / top } : pixels
  }
}

extension String {
  fileprivate var trimmingSpaces: String {
    String(drop { $0 == " " || $0 == "\r" || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\r" || $0 == "\t" }.reversed())
  }
}
