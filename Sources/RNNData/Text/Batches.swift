/// Char-rnn style batches for truncated backpropagation through time.
///
/// The tokens are cut into `B` contiguous streams of `streamLength = (count - 1) / B` tokens each
/// (the remainder is dropped). Batch `k` takes, from each stream `b`, the tokens
/// `[k*T, k*T + T)` as inputs and `[k*T + 1, k*T + T + 1)` as targets, so row `b` of batch `k + 1`
/// continues row `b` of batch `k` and a model can carry its hidden state across batches.
///
/// Both arrays are time-major `[T, B]`: element `t * B + b` is step `t` of stream `b`. The iterator
/// holds no position: `batch(k)` is a pure function of `k`; epochs and batch indices are the
/// caller's state.
public struct BatchIterator: Sendable {
  /// The tokens the streams are cut from.
  public let tokens: TokenIDs
  /// `B`, the number of streams (rows of each batch).
  public let batchSize: Int
  /// `T`, the number of time steps per batch.
  public let seqLength: Int
  /// Tokens per stream: `(tokens.count - 1) / B` (one extra token is kept for the last target).
  public let streamLength: Int
  /// Full batches per pass over the tokens: `streamLength / T`, at least 1.
  public let batchesPerEpoch: Int

  /// Throws `BatchError.tooShort` unless `tokens` holds at least `B * T + 1` tokens
  /// (`BatchError.tooLarge` if that number overflows an `Int`).
  public init(tokens: TokenIDs, batchSize: Int, seqLength: Int) throws {
    require(batchSize > 0 && seqLength > 0, "batch size and sequence length must be positive")
    let (product, overflow) = batchSize.multipliedReportingOverflow(by: seqLength)
    guard !overflow, product < Int.max else { throw BatchError.tooLarge(batchSize: batchSize, seqLength: seqLength) }
    let needed = product + 1
    guard tokens.count >= needed else {
      throw BatchError.tooShort(needed: needed, available: tokens.count, batchSize: batchSize, seqLength: seqLength)
    }
    self.tokens = tokens
    self.batchSize = batchSize
    self.seqLength = seqLength
    self.streamLength = (tokens.count - 1) / batchSize
    self.batchesPerEpoch = streamLength / seqLength
  }

  /// Same as `init(tokens: TokenIDs(Array(tokens)), batchSize:seqLength:)`.
  public init<C: Collection>(tokens: C, batchSize: Int, seqLength: Int) throws where C.Element == Int32 {
    try self.init(tokens: TokenIDs(Array(tokens)), batchSize: batchSize, seqLength: seqLength)
  }

  /// Inputs and targets of batch `k` (in `0 ..< batchesPerEpoch`), each `[T, B]` time-major; with
  /// `streams`, only those rows, `[T, streams.count]` (a rank's share of a data-parallel batch).
  public func batch(_ k: Int, streams: Range<Int>? = nil) -> (inputs: [Int32], targets: [Int32]) {
    require(k >= 0 && k < batchesPerEpoch, "batch \(k) is outside 0..<\(batchesPerEpoch)")
    let streams = streams ?? 0..<batchSize
    require(streams.clamped(to: 0..<batchSize) == streams, "streams \(streams) outside 0..<\(batchSize)")
    let (b, t) = (streams.count, seqLength)
    var inputs = [Int32](repeating: 0, count: t * b)
    var targets = [Int32](repeating: 0, count: t * b)
    for (row, stream) in streams.enumerated() {
      let start = tokens.startIndex + stream * streamLength + k * t
      for step in 0..<t {
        inputs[step * b + row] = tokens[start + step]
        targets[step * b + row] = tokens[start + step + 1]
      }
    }
    return (inputs, targets)
  }
}

/// Errors from building batches.
public enum BatchError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The text has `available` tokens but one batch of `B` rows and `T` steps needs `needed = B*T + 1`.
  case tooShort(needed: Int, available: Int, batchSize: Int, seqLength: Int)
  /// `B*T + 1` is beyond the largest `Int`: no text is that long.
  case tooLarge(batchSize: Int, seqLength: Int)

  public var description: String {
    switch self {
    case .tooShort(let needed, let available, let batchSize, let seqLength):
      return "text too short for one batch: batch size \(batchSize) x sequence length \(seqLength) needs "
        + "\(needed) characters, but only \(available) are available"
    case .tooLarge(let batchSize, let seqLength):
      return "batch size \(batchSize) x sequence length \(seqLength) is more characters than any text holds"
    }
  }
}
