/// Sequences of feature vectors of different lengths as one time-major batch, as recurrent layers
/// read them: `values [T,B,D]`, zero after each sequence's end, with `lengths [B]` (the layers
/// read them, so padded steps change nothing), `T` the longest length. `PaddedBatch` is the same
/// for token ids.
///
///     let batch = PaddedSequences([a, b])   // a [5, D], b [3, D]: values [5, 2, D], lengths [5, 3]
public struct PaddedSequences: Equatable, Sendable {
  /// `[T,B,D]`, time-major: step `t` of sequence `b` at row `t * B + b`.
  public let values: Tensor
  /// `[B]`, each sequence's length.
  public let lengths: [Int]
  /// `T`, the longest length.
  public var time: Int { values.shape[0] }
  /// `B`.
  public var batch: Int { values.shape[1] }

  /// Pads `sequences` (each `[t_b, D]`, one row per step, all of the same `D`) with zeros.
  public init(_ sequences: [Tensor]) {
    let d = sequences.first?.shape.last ?? 0
    for sequence in sequences {
      require(sequence.shape.count == 2 && sequence.shape[1] == d, "sequence \(sequence.shape) is not [t, \(d)]")
    }
    let (t, b) = (sequences.map { $0.shape[0] }.max() ?? 0, sequences.count)
    var scalars = [Float](repeating: 0, count: t * b * d)
    for (n, sequence) in sequences.enumerated() {
      for step in 0..<sequence.shape[0] {
        scalars.replaceSubrange((step * b + n) * d..<(step * b + n + 1) * d, with: sequence.scalars[step * d..<(step + 1) * d])
      }
    }
    values = Tensor(shape: [t, b, d], scalars: scalars)
    lengths = sequences.map { $0.shape[0] }
  }

  /// A batch already laid out as `values [T,B,D]`, row `b` of `lengths[b]` steps (nil: all `T`);
  /// its values past a row's length are kept but never read.
  public init(_ values: Tensor, lengths: [Int]? = nil) {
    require(values.shape.count == 3, "values \(values.shape) are not [T, B, D]")
    let lengths = lengths ?? Array(repeating: values.shape[0], count: values.shape[1])
    require(
      lengths.count == values.shape[1] && lengths.allSatisfy { (0...values.shape[0]).contains($0) },
      "lengths \(lengths) for values \(values.shape): one per row, each in 0...T")
    self.values = values
    self.lengths = lengths
  }
}
