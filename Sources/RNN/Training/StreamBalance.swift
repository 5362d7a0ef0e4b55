/// How a data-parallel run divides each batch's `B` streams among its `N` ranks. It starts with
/// equal shares and then follows how long each rank takes over its streams: a rank that is
/// steadily slower (a slower machine, or a core that another program shares) gets fewer streams,
/// so that the ranks reach the sum of their gradients together instead of waiting for the slowest.
///
/// Shares stay contiguous and in rank order: rank `r` trains streams
/// `counts[0..<r].sum ..< counts[0...r].sum`. Which rank trains a stream changes only the order in
/// which the gradients are summed, never the update (see `Trainer`). Every rank keeps its own copy
/// and records the same measurements (each rank's seconds, summed across the ranks with one
/// non-zero term per rank, so exact), so all copies decide alike.
public struct StreamBalance: Equatable, Sendable {
  /// Streams per rank, in rank order: each at least one, summing to `total`.
  public private(set) var counts: [Int]
  /// Each rank's seconds per stream, smoothed over the steps recorded (nil before the first).
  private var secondsPerStream: [Double]?

  /// The weight of the newest step in the smoothed seconds per stream: a rank's speed follows a
  /// change within a few steps, while one step's jitter moves nothing.
  static let smoothing = 0.5
  /// The least gain, as a fraction of the predicted step, for which streams move.
  static let threshold = 0.02

  /// Equal shares of `total` streams among `ranks`, which must divide it.
  public init(ranks: Int, total: Int) {
    require(ranks > 0 && total % ranks == 0, "\(ranks) ranks cannot share \(total) streams equally")
    counts = Array(repeating: total / ranks, count: ranks)
  }

  /// `B`, the streams of the whole batch.
  public var total: Int { counts.reduce(0, +) }

  /// Rank `rank`'s streams.
  public func share(of rank: Int) -> BatchShare {
    let start = counts[..<rank].reduce(0, +)
    return BatchShare(streams: start..<start + counts[rank], total: total)
  }

  /// Records how long each rank worked on its streams of the last batch (`seconds[r]` for rank
  /// `r`, the same array on every rank) and moves streams from slower ranks to faster ones when
  /// the predicted step shortens by at least `threshold`. Returns whether `counts` changed.
  public mutating func record(_ seconds: [Double]) -> Bool {
    require(seconds.count == counts.count, "\(seconds.count) times for \(counts.count) ranks")
    // A clock that did not move (a coarse timer, a tiny batch) still counts as some work.
    let latest = zip(seconds, counts).map { max($0, 1e-9) / Double($1) }
    let rates = secondsPerStream.map { zip($0, latest).map { $0 + Self.smoothing * ($1 - $0) } } ?? latest
    secondsPerStream = rates
    let proposed = Self.fastest(total: total, secondsPerStream: rates)
    guard Self.slowest(proposed, rates) < (1 - Self.threshold) * Self.slowest(counts, rates) else { return false }
    counts = proposed
    return true
  }

  /// The predicted step of `counts`: its slowest rank's seconds.
  private static func slowest(_ counts: [Int], _ secondsPerStream: [Double]) -> Double {
    zip(counts, secondsPerStream).map { Double($0) * $1 }.max()!
  }

  /// The counts, each at least one, whose slowest rank finishes first: one stream to every rank,
  /// then each further stream to the rank that would finish it soonest (the lowest rank on a tie).
  /// That gives rank `r` the extra streams whose times `(j+1) * secondsPerStream[r]`, `j >= 1`,
  /// are among the `B-N` smallest of all ranks', at least one less than its proportional part of
  /// `B-N` (more would need every rank to take its part with no stream to spare). So it starts
  /// from there and places the rest, at most about `2N`, one by one: `O(N^2)`, not `O(BN)`.
  static func fastest(total: Int, secondsPerStream: [Double]) -> [Int] {
    let speeds = secondsPerStream.map { 1 / $0 }
    let (extra, sum) = (Double(total - speeds.count), speeds.reduce(0, +))
    var counts = speeds.map { 1 + max(0, Int((extra * $0 / sum).rounded(.down)) - 1) }
    for _ in counts.reduce(0, +)..<total {
      let next = counts.indices.min { a, b in
        Double(counts[a] + 1) * secondsPerStream[a] < Double(counts[b] + 1) * secondsPerStream[b]
      }!
      counts[next] += 1
    }
    return counts
  }
}
