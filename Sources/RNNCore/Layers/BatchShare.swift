/// The streams (rows) of a batch of `total` that one rank of a data-parallel run trains: the
/// ranks' shares, in rank order, make up the batch. Equal shares put rank `r` of `N` on rows
/// `[r*B/N, (r+1)*B/N)`; a training run may then size them by the ranks' speeds. A single
/// process's share is the whole batch.
public struct BatchShare: Equatable, Sendable {
  /// This rank's rows of the batch.
  public let streams: Range<Int>
  /// `B`, the rows of the whole batch.
  public let total: Int

  /// The whole batch of `total` rows.
  public init(whole total: Int) {
    streams = 0..<total
    self.total = total
  }

  /// Rank `rank`'s share of `total` rows among `ranks` ranks: equal shares when `ranks` divides
  /// `total` (training), else shares differing by at most one row, some possibly empty (scoring).
  public init(rank: Int, of ranks: Int, total: Int) {
    streams = rank * total / ranks..<(rank + 1) * total / ranks
    self.total = total
  }

  /// Rows `streams` of a batch of `total` (a share that `StreamBalance` sized).
  public init(streams: Range<Int>, total: Int) {
    require(streams.lowerBound >= 0 && streams.upperBound <= total, "rows \(streams) of a batch of \(total)")
    self.streams = streams
    self.total = total
  }

  /// Whether this is the whole batch.
  public var isWhole: Bool { streams.count == total }
}
