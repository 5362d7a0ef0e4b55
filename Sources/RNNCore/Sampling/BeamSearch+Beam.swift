import Foundation

extension BeamSearch {
  /// One row's search: its live hypotheses (their log-probabilities; at first the empty one),
  /// their history, and the finished hypotheses.
  struct Beam {
    var live = [0.0]
    var history = History()
    var finished: [Finished] = []
    /// The index in `finished` of the best so far (the first of equals).
    var best: Int? = nil
    /// Whether the model's outputs stopped being finite: the row's result is one NaN hypothesis.
    var failed = false

    /// Extends the live hypotheses by one token, from their next-token log-probabilities
    /// (`[N,V]`, one row per live hypothesis); returns the new live ones, each as its parent among
    /// the old and its token (the next step's inputs), or none when this row's search is over.
    ///
    /// Candidates (parent, token) are each parent's best `width + 1` (enough, as at most one of
    /// them is the stop token), ranked by total log-probability (all have `length` tokens); ties go
    /// to the better parent, then the lower token id. A candidate that emits the stop token while
    /// ranked among the best `width` is finished; at the maximum length every kept one is.
    mutating func extend(_ logProbabilities: ArraySlice<Double>, length: Int, _ search: BeamSearch)
      -> [(parent: Int32, token: Int32)]
    {
      guard logProbabilities.allSatisfy(\.isFinite) else {
        failed = true
        return []
      }
      let (width, stop, v) = (search.width, search.stop, logProbabilities.count / live.count)
      var candidates: [(parent: Int, token: Int32, logProbability: Double)] = []
      candidates.reserveCapacity(live.count * min(width + 1, v))
      for (parent, logProbability) in live.enumerated() {
        let row = logProbabilities.dropFirst(parent * v).prefix(v)
        for token in BeamSearch.largest(width + 1, of: row) {
          candidates.append((parent, Int32(token), logProbability + row[row.startIndex + token]))
        }
      }
      candidates.sort {
        $0.logProbability > $1.logProbability
          || ($0.logProbability == $1.logProbability && ($0.parent, $0.token) < ($1.parent, $1.token))
      }
      let penalty = search.lengthNormalization.penalty(length: length)
      var next: [(parent: Int32, token: Int32)] = []
      var nextLogProbabilities: [Double] = []
      for (rank, candidate) in candidates.enumerated() {
        if next.count == width { break }
        let (parent, token, logProbability) = candidate
        let done = token == stop || length == search.maxLength
        if done && (token != stop || rank < width) {
          finished.append(
            Finished(
              length: length, parent: parent, token: token, logProbability: logProbability,
              score: logProbability / penalty, isStopped: token == stop))
          if best.map({ finished[$0].score < logProbability / penalty }) ?? true { best = finished.count - 1 }
        }
        if token != stop {
          next.append((Int32(parent), token))  // at the maximum length: counts toward the width; never run
          nextLogProbabilities.append(logProbability)
        }
      }
      if length == search.maxLength || next.isEmpty { return [] }
      if finished.count >= width {
        // Log-probabilities only fall as tokens are added, and the penalty grows with the length,
        // so no live hypothesis can score more than its log-probability over the largest penalty.
        let scores = finished.map(\.score).sorted(by: >)
        let bestPenalty = search.lengthNormalization.penalty(length: search.maxLength)
        if nextLogProbabilities[0] / bestPenalty <= scores[width - 1] { return [] }
      }
      history.append(next)
      live = nextLogProbabilities
      return next
    }

    /// Hands over the prefix that every hypothesis that can still become the best shares (see
    /// `History.settle`).
    mutating func settle() -> [Int32] {
      history.settle(live: live.count, best: best.map { (finished[$0].length - 1, finished[$0].parent) })
    }

    /// Keeps only the first live hypothesis and hands over its tokens, forgetting the finished ones.
    mutating func collapse() -> [Int32] {
      live = [live[0]]
      finished = []
      best = nil
      return history.collapse(onto: 0)
    }

    /// The best `count` finished hypotheses, best first; among equal scores, the one finished first.
    func hypotheses(_ count: Int, includesStop: Bool) -> [BeamHypothesis] {
      if failed { return [BeamHypothesis(tokens: [], logProbability: .nan, score: .nan, isStopped: false)] }
      let ranked = finished.indices.sorted {
        finished[$0].score > finished[$1].score || (finished[$0].score == finished[$1].score && $0 < $1)
      }
      return ranked.prefix(count).map { index in
        let hypothesis = finished[index]
        let last = hypothesis.isStopped && !includesStop ? [] : [hypothesis.token]
        return BeamHypothesis(
          tokens: history.tokens(to: hypothesis.parent, at: hypothesis.length - 1) + last,
          logProbability: hypothesis.logProbability, score: hypothesis.score, isStopped: hypothesis.isStopped)
      }
    }
  }

  /// A finished hypothesis: its last `token` after the live hypothesis `parent` of `length - 1`.
  struct Finished {
    var length: Int
    var parent: Int
    var token: Int32
    var logProbability: Double
    var score: Double
    var isStopped: Bool
  }

  /// The live hypotheses of each length as back-pointers: hypothesis `i` of length `l` is
  /// hypothesis `steps[l - base - 1][i].parent` of length `l - 1` followed by `.token`. Lengths up
  /// to `base` are settled (one shared prefix, handed over) and forgotten.
  struct History {
    var steps: [[(parent: Int32, token: Int32)]] = []
    var base = 0

    mutating func append(_ step: [(parent: Int32, token: Int32)]) { steps.append(step) }

    /// The tokens after length `base` of hypothesis `index` of `length`.
    func tokens(to index: Int, at length: Int) -> [Int32] {
      var tokens: [Int32] = []
      var i = index
      for l in stride(from: length, to: base, by: -1) {
        tokens.append(steps[l - base - 1][i].token)
        i = Int(steps[l - base - 1][i].parent)
      }
      return tokens.reversed()
    }

    /// Settles the longest prefix shared by the `live` hypotheses of the latest length and by the
    /// best finished one (hypothesis `best.index` of `best.length`, followed by its last token),
    /// the only ones that can still become the best; returns its tokens after `base` and forgets
    /// them.
    mutating func settle(live: Int, best: (length: Int, index: Int)?) -> [Int32] {
      var length = base + steps.count
      var indices = Set(0..<live)
      while length > base {
        if let best, best.length == length { indices.insert(best.index) }
        if indices.count == 1 && (best.map { $0.length >= length } ?? true) { break }
        indices = Set(indices.map { Int(steps[length - base - 1][$0].parent) })
        length -= 1
      }
      guard length > base, let index = indices.first else { return [] }
      let tokens = self.tokens(to: index, at: length)
      steps.removeFirst(length - base)
      base = length
      return tokens
    }

    /// Settles hypothesis `index` of the latest length, as if it were the only one: returns its
    /// tokens after `base` and forgets every length up to the latest.
    mutating func collapse(onto index: Int) -> [Int32] {
      let length = base + steps.count
      let tokens = self.tokens(to: index, at: length)
      steps = []
      base = length
      return tokens
    }
  }

  /// The indices of the `k` largest of `values`, largest first; among equals, the lower index first.
  static func largest(_ k: Int, of values: ArraySlice<Double>) -> [Int] {
    var top: [Int] = []  // sorted, at most k
    top.reserveCapacity(k + 1)
    for i in values.indices {
      let value = values[i]
      if top.count == k, let last = top.last, !(value > values[last]) { continue }
      // After every index with a value at least as large (equal values keep index order).
      var low = 0
      var high = top.count
      while low < high {
        let mid = (low + high) / 2
        if values[top[mid]] >= value { low = mid + 1 } else { high = mid }
      }
      top.insert(i, at: low)
      if top.count > k { top.removeLast() }
    }
    return top.map { $0 - values.startIndex }
  }
}
