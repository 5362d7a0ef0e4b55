// Variable-length batches, as PyTorch's packed sequences: row `b` of a batch `[T,B,...]` has
// `lengths[b]` valid steps. The time loops run every row at every step (one GEMM per step stays
// one GEMM); after each step the rows past their length get their previous state back, so their
// state stops changing, and backward gives those rows zero gate gradients and passes their state
// gradient through unchanged. The no-lengths path does none of this work.

/// The row operations of a variable-length time step. Row indices are into the batch; pointers
/// point at the first row of a slice `rows`, each row `width` floats.
enum Padding {
  /// `lengths` checked against `[T, B]`; nil when absent or when every row has all `T` steps (the
  /// plain path gives the same results).
  static func effectiveLengths(_ lengths: [Int]?, time: Int, batch: Int) -> [Int]? {
    guard let lengths else { return nil }
    require(lengths.count == batch, "\(lengths.count) lengths for a batch of \(batch)")
    require(lengths.allSatisfy { (0...time).contains($0) }, "lengths \(lengths) outside 0...\(time)")
    return lengths.allSatisfy { $0 == time } ? nil : lengths
  }

  /// Copies the rows of `rows` that are padded at `step` (`step >= lengths[row]`) from `source`
  /// to `destination` (both pointing at row `rows.lowerBound`, rows `width` apart): the
  /// `columns` of each such row, all of them by default.
  @inline(__always)
  static func copyPadded(
    _ lengths: [Int], _ rows: Range<Int>, step: Int, width: Int, columns: Range<Int>? = nil,
    from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>
  ) {
    let columns = columns ?? 0..<width
    for row in rows where step >= lengths[row] {
      let offset = (row - rows.lowerBound) * width + columns.lowerBound
      (destination + offset).update(from: source + offset, count: columns.count)
    }
  }

  /// Zeroes the rows of `rows` that are padded at `step`.
  @inline(__always)
  static func zeroPadded(
    _ lengths: [Int], _ rows: Range<Int>, step: Int, width: Int, _ pointer: UnsafeMutablePointer<Float>
  ) {
    for row in rows where step >= lengths[row] {
      (pointer + (row - rows.lowerBound) * width).update(repeating: 0, count: width)
    }
  }

  /// A copy of `sequence [T,B,F]` with the padded steps of every row set to zero.
  static func zeroingPadded(_ sequence: Tensor, lengths: [Int]) -> Tensor {
    let (t, b) = (sequence.shape[0], sequence.shape[1])
    let width = sequence.count / max(t * b, 1)
    var out = sequence
    out.withMutablePointer { out in
      for step in 0..<t {
        zeroPadded(lengths, 0..<b, step: step, width: width, out + step * b * width)
      }
    }
    return out
  }
}
