/// Sequences of different lengths as one time-major batch, as recurrent layers read them:
/// `tokens [T,B]` padded after each sequence's end, with `lengths [B]` (pass them to the layer
/// so that padded steps change nothing), and `T` the longest length.
///
///     let batch = PaddedBatch([[3, 1, 4], [1, 5]])   // tokens [3, 1, 1, 5, 4, pad], lengths [3, 2]
public struct PaddedBatch: Equatable, Sendable {
  /// `[T,B]`, time-major: step `t` of sequence `b` at `t * B + b`.
  public let tokens: [Int32]
  /// `[B]`, each sequence's length.
  public let lengths: [Int]
  /// `T`, the longest length.
  public var time: Int { lengths.max() ?? 0 }
  /// `B`.
  public var batch: Int { lengths.count }

  /// Pads `sequences` with `padding` (a valid token id for an embedding: it is read but changes
  /// nothing when the layer gets `lengths`; for loss targets use `-1`, which losses skip).
  public init(_ sequences: [[Int32]], padding: Int32 = 0) {
    let b = sequences.count
    let t = sequences.map(\.count).max() ?? 0
    var tokens = [Int32](repeating: padding, count: t * b)
    for (n, sequence) in sequences.enumerated() {
      for (step, token) in sequence.enumerated() { tokens[step * b + n] = token }
    }
    self.tokens = tokens
    lengths = sequences.map(\.count)
  }

  /// A batch already laid out as `tokens [T,B]`, every sequence `T` long.
  public init(tokens: [Int32], time: Int, batch: Int) {
    require(tokens.count == time * batch, "\(tokens.count) tokens for [\(time), \(batch)]")
    self.tokens = tokens
    lengths = Array(repeating: time, count: batch)
  }
}
