import RNN

/// Grey-scale images with one class label each, as classifiers read them: `pixels [N, R*C]`
/// (row after row, scaled to `0...1`), `labels [N]` in `0 ..< classes`.
///
/// `readCSV` and `readIDX` load them from files; an image of `R` rows of `C` pixels is also a
/// sequence of `R` steps of `C` features (`rows(of:)`), which is how a recurrent network reads it.
public struct LabeledImages: Equatable, Sendable {
  /// `R`, the rows of each image.
  public let rows: Int
  /// `C`, the pixels of each row.
  public let columns: Int
  /// `[N, R*C]`, each in `0...1`.
  public let pixels: [Float]
  /// `[N]`.
  public let labels: [Int32]

  public init(rows: Int, columns: Int, pixels: [Float], labels: [Int32]) {
    require(rows > 0 && columns > 0, "images of \(rows) x \(columns) pixels")
    require(pixels.count == labels.count * rows * columns, "\(pixels.count) pixels for \(labels.count) images")
    self.rows = rows
    self.columns = columns
    self.pixels = pixels
    self.labels = labels
  }

  /// `N`, the number of images.
  public var count: Int { labels.count }

  /// The number of classes: one more than the largest label.
  public var classes: Int { Int(labels.max() ?? -1) + 1 }

  /// The images at `indices`, in that order.
  public func subset(_ indices: some Sequence<Int>) -> LabeledImages {
    let size = rows * columns
    var pixels: [Float] = []
    var labels: [Int32] = []
    for i in indices {
      pixels += self.pixels[i * size..<(i + 1) * size]
      labels.append(self.labels[i])
    }
    return LabeledImages(rows: rows, columns: columns, pixels: pixels, labels: labels)
  }

  /// A seeded random split: a shuffled `fraction` of the images for training, the rest held out.
  public func split(trainingFraction fraction: Double, using generator: inout RandomGenerator)
    -> (training: LabeledImages, heldOut: LabeledImages)
  {
    let order = Array(0..<count).shuffled(using: &generator)
    let cut = Int((Double(count) * fraction).rounded())
    return (subset(order[..<cut]), subset(order[cut...]))
  }

  /// The images at `indices` as sequences of rows, time-major: `[R, B, C]` with `B = indices.count`.
  public func rows(of indices: [Int]) -> Tensor {
    let (b, size) = (indices.count, rows * columns)
    var x = [Float](repeating: 0, count: rows * b * columns)
    for (n, i) in indices.enumerated() {
      for r in 0..<rows {
        x[(r * b + n) * columns..<(r * b + n + 1) * columns] = pixels[i * size + r * columns..<i * size + (r + 1) * columns]
      }
    }
    return Tensor(shape: [rows, b, columns], scalars: x)
  }

  /// The images at `indices` as flat vectors: `[B, R*C]`.
  public func vectors(of indices: [Int]) -> Tensor {
    let size = rows * columns
    var x: [Float] = []
    x.reserveCapacity(indices.count * size)
    for i in indices { x += pixels[i * size..<(i + 1) * size] }
    return Tensor(shape: [indices.count, size], scalars: x)
  }
}
