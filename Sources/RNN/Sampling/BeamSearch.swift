import Foundation

/// How finished hypotheses of different lengths are compared.
public enum LengthNormalization: Equatable, Sendable {
  /// By total log-probability: favours short hypotheses.
  case none
  /// GNMT's: the log-probability divided by `((5 + length) / 6)^alpha` (Wu et al. 2016); `alpha`
  /// 0 is `none`, larger values favour longer hypotheses (0.6 to 1 is usual).
  case gnmt(alpha: Double)

  /// The divisor of the log-probability of a hypothesis of `length` tokens.
  func penalty(length: Int) -> Double {
    switch self {
    case .none: 1
    case .gnmt(let alpha): pow((5 + Double(length)) / 6, alpha)
    }
  }
}

/// One decoded continuation.
public struct BeamHypothesis: Equatable, Sendable {
  /// The generated tokens, after the prime. When the hypothesis ended with the stop token, the
  /// stop token is the last of them unless the search drops it (`BeamSearch.includesStop`); it
  /// counts in the length and the log-probability either way.
  public var tokens: [Int32]
  /// The sum of the natural log-probabilities of `tokens` under the model, given the prime.
  public var logProbability: Double
  /// What hypotheses are ranked by: `logProbability` divided by the length penalty.
  public var score: Double
  /// Whether the hypothesis ended with the stop token (otherwise it reached the maximum length).
  public var isStopped: Bool
}

/// Beam search over a `CharLM` (or any model run step by step from a state, such as the decoder
/// of an encoder-decoder): keeps the `width` most probable continuations, extends each by
/// every token, and keeps the `width` most probable of the `width * V` candidates, step after
/// step, until `maxLength` tokens or until no live hypothesis can beat the finished ones.
///
/// The live hypotheses are one batch: each step runs `[1, B]` tokens (`B <= width`) through the
/// sequence model once (no dropout, nothing recorded), then gathers each layer's state rows by
/// parent. A candidate that emits the stop token while ranked among the best `width` is finished
/// (the stop token included); the others continue. Ties are broken deterministically: the better
/// parent first, then the lower token id. Width 1 is greedy (argmax) decoding.
///
/// A model whose outputs are not finite (weights that overflow) ends the search at that step: it
/// returns one empty hypothesis whose log-probability and score are NaN.
public struct BeamSearch: Equatable, Sendable {
  /// Hypotheses kept at each step (`N`).
  public var width: Int
  /// Tokens generated at most, after the prime (the stop token included).
  public var maxLength: Int
  /// A token that ends a hypothesis (nil: every hypothesis runs to `maxLength`).
  public var stop: Int32?
  /// How finished hypotheses of different lengths are compared.
  public var lengthNormalization: LengthNormalization
  /// When streaming: the most tokens left unsettled. Two hypotheses can stay among the best for
  /// ever without sharing a prefix; past this many tokens since the last settled one, the search
  /// ends with the best finished hypothesis if there is one, else keeps only the best live one
  /// and settles its tokens, so that output and memory keep moving.
  public var horizon = 1000
  /// Whether a hypothesis that ended with the stop token keeps it as its last token.
  public var includesStop: Bool

  public init(
    width: Int, maxLength: Int, stop: Int32? = nil, includesStop: Bool = true,
    lengthNormalization: LengthNormalization = .none
  ) {
    self.width = width
    self.maxLength = maxLength
    self.stop = stop
    self.includesStop = includesStop
    self.lengthNormalization = lengthNormalization
  }

  /// The best hypotheses after `prime` (at most `width`), best first. With an empty prime, the
  /// search starts from `start` (fed to the model, not part of the result), for instance a newline.
  /// With `settled`, see `callAsFunction(prime:state:settled:step:)`.
  public func callAsFunction(
    _ model: CharLM, prime: [Int32], start: Int32 = 0, settled: (([Int32]) -> Void)? = nil
  ) -> [BeamHypothesis] {
    for token in prime + [start] {
      require(token >= 0 && Int(token) < model.config.vocabularySize, "token \(token) outside the vocabulary")
    }
    let first = prime.isEmpty ? [start] : prime
    return self(prime: first, state: model.zeroState(batch: 1), settled: settled) {
      Self.run(model, $0, time: $1, batch: $2, state: $3)
    }
  }

  /// The best continuations of `prime` from the batch-1 `state`, with `step` written on a tape as
  /// a model's forward is: it gets the tokens `[T,B]` (every row `T` long) and the state (one
  /// `[B,H]` per layer) on a tape that records nothing, and returns the logits `[T,B,V]` (or any
  /// shape ending in the last step's `[B,V]`) and the final state. Otherwise as
  /// `callAsFunction(prime:state:settled:step:)` with a step on tensors.
  ///
  ///     BeamSearch(width: 4, maxLength: 20, stop: stop)(prime: [go], state: encoded) { tokens, state, tape in
  ///       let (y, final) = model.decoder(tokens, embedding: model.symbols, state: state, on: tape)
  ///       return (model.output(y, on: tape), final)
  ///     }
  public func callAsFunction(
    prime: [Int32], state: [RecurrentState], settled: (([Int32]) -> Void)? = nil,
    step: (_ tokens: PaddedBatch, _ state: [StateVariables], _ tape: Tape) -> (
      logits: Variable, state: [StateVariables]
    )
  ) -> [BeamHypothesis] {
    self(prime: prime, state: state, settled: settled) { tokens, time, batch, state in
      Self.run(state: state) { step(PaddedBatch(tokens: tokens, time: time, batch: batch), $0, $1) }
    }
  }

  /// The best continuations of `prime` (at least one token, fed to the model, not part of the
  /// result; its ids need not be output ids, e.g. a decoder's start token) from the batch-1
  /// `state`, under any model that `step` runs: given tokens `[T,B]` and a state (one `[B,H]` per
  /// layer), it returns logits `[T,B,V]` (or any shape ending in the last step's `[B,V]`; `V`, the
  /// vocabulary, is read from them) and the final state. This decodes the decoder of an encoder-decoder, started from the encoder's
  /// final state.
  ///
  /// With `settled`, the search streams: as soon as every hypothesis that can still become the
  /// best shares a prefix, the tokens of that prefix not handed over yet go to `settled`, and the
  /// search forgets them, so its memory stays bounded however long it runs (see `horizon`). It then
  /// returns the best hypothesis only, its `tokens` being those after the last ones handed to
  /// `settled`.
  ///
  /// Each step keeps the best `width + 1` tokens of each live hypothesis (enough, as at most one
  /// of them is the stop token) and ranks those `N * (N + 1)` candidates, never all `N * V`.
  public func callAsFunction(
    prime first: [Int32], state initial: [RecurrentState], settled: (([Int32]) -> Void)? = nil,
    step: (_ tokens: [Int32], _ time: Int, _ batch: Int, _ state: [RecurrentState]) -> (
      logits: Tensor, state: [RecurrentState]
    )
  ) -> [BeamHypothesis] {
    require(width > 0, "beam width must be positive, got \(width)")
    require(maxLength >= 0, "maximum length must be 0 or more, got \(maxLength)")
    require(!first.isEmpty, "beam search needs at least one token to start from")
    guard maxLength > 0 else { return [BeamHypothesis(tokens: [], logProbability: 0, score: 0, isStopped: false)] }

    // The prime as one sequence of batch 1: its final state and the logits after it, whose
    // length is the vocabulary's.
    var (logProbabilities, state) = Self.lastStep(step(first, first.count, 1, initial), batch: 1)
    let v = logProbabilities.count
    if let stop { require(stop >= 0 && Int(stop) < v, "stop token \(stop) outside the vocabulary of \(v)") }
    let failed = [BeamHypothesis(tokens: [], logProbability: .nan, score: .nan, isStopped: false)]
    var history = History()
    var live = [0.0]  // the log-probability of each live hypothesis; at first the empty one
    var finished: [Finished] = []
    var best: Int? = nil  // the index in `finished` of the best so far (the first of equals)
    // The best score a finished hypothesis can have, to stop early once `width` are better.
    let bestPenalty = lengthNormalization.penalty(length: maxLength)

    for length in 1...maxLength {
      guard logProbabilities.allSatisfy(\.isFinite) else { return failed }
      // Candidates (parent, token): each parent's best width + 1, ranked by total log-probability
      // (all have `length` tokens). Ties go to the better parent, then the lower token id.
      var candidates: [(parent: Int, token: Int32, logProbability: Double)] = []
      candidates.reserveCapacity(live.count * min(width + 1, v))
      for (parent, logProbability) in live.enumerated() {
        let row = logProbabilities[parent * v..<(parent + 1) * v]
        for token in Self.largest(width + 1, of: row) {
          candidates.append((parent, Int32(token), logProbability + row[parent * v + token]))
        }
      }
      candidates.sort {
        $0.logProbability > $1.logProbability
          || ($0.logProbability == $1.logProbability && ($0.parent, $0.token) < ($1.parent, $1.token))
      }
      let penalty = lengthNormalization.penalty(length: length)
      var next: [(parent: Int32, token: Int32)] = []
      var nextLogProbabilities: [Double] = []
      var inputs: [Int32] = []
      for (rank, candidate) in candidates.enumerated() {
        if next.count == width { break }
        let (parent, token, logProbability) = candidate
        let done = token == stop || length == maxLength
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
          inputs.append(token)
        }
      }
      if length == maxLength || inputs.isEmpty { break }
      if finished.count >= width {
        // Log-probabilities only fall as tokens are added, and the penalty grows with the length,
        // so no live hypothesis can score more than its log-probability over the largest penalty.
        let scores = finished.map(\.score).sorted(by: >)
        if nextLogProbabilities[0] / bestPenalty <= scores[width - 1] { break }
      }
      history.append(next)
      live = nextLogProbabilities
      state = Self.gather(state, rows: next.map { Int($0.parent) })
      (logProbabilities, state) = Self.lastStep(step(inputs, 1, inputs.count, state), batch: inputs.count)
      if let settled {
        let tokens = history.settle(live: live.count, best: best.map { (finished[$0].length - 1, finished[$0].parent) })
        if !tokens.isEmpty { settled(tokens) }
        if history.steps.count > horizon {
          if best != nil { break }
          settled(history.collapse(onto: 0))
          live = [live[0]]
          state = Self.gather(state, rows: [0])
          logProbabilities = Array(logProbabilities[0..<v])
          finished = []
          best = nil
        }
      }
    }
    // Best first; among equal scores, the one finished first.
    let ranked = finished.indices.sorted {
      finished[$0].score > finished[$1].score || (finished[$0].score == finished[$1].score && $0 < $1)
    }
    return ranked.prefix(settled == nil ? width : 1).map { index in
      let hypothesis = finished[index]
      let last = hypothesis.isStopped && !includesStop ? [] : [hypothesis.token]
      return BeamHypothesis(
        tokens: history.tokens(to: hypothesis.parent, at: hypothesis.length - 1) + last,
        logProbability: hypothesis.logProbability, score: hypothesis.score, isStopped: hypothesis.isStopped)
    }
  }

  /// A finished hypothesis: its last `token` after the live hypothesis `parent` of `length - 1`.
  private struct Finished {
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
  private struct History {
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

  /// Runs `tokens [T,B]` through the sequence model from `state`, recording nothing; returns the
  /// logits `[T,B,V]` and the final state.
  static func run(_ model: CharLM, _ tokens: [Int32], time: Int, batch: Int, state: [RecurrentState])
    -> (logits: Tensor, state: [RecurrentState])
  {
    run(state: state) { model(tokens, time: time, batch: batch, state: $0, on: $1) }
  }

  /// Runs `forward` from `state` on a tape that records nothing; returns its logits and final
  /// state as tensors.
  static func run(
    state: [RecurrentState], _ forward: ([StateVariables], Tape) -> (logits: Variable, state: [StateVariables])
  ) -> (logits: Tensor, state: [RecurrentState]) {
    let tape = Tape(recording: false)
    let (logits, final) = forward(state.map { StateVariables($0, on: tape) }, tape)
    return (tape[logits], final.map { $0.values(on: tape) })
  }

  /// The log-probabilities `[B,V]` of the last step of `result.logits` and the state.
  static func lastStep(_ result: (logits: Tensor, state: [RecurrentState]), batch: Int)
    -> (logProbabilities: [Double], state: [RecurrentState])
  {
    let v = result.logits.shape.last!
    require(result.logits.count >= batch * v, "logits \(result.logits.shape) for a batch of \(batch)")
    let last = result.logits.scalars[(result.logits.count - batch * v)...]
    return (logSoftmax(Array(last), rows: batch), result.state)
  }

  /// The log-softmax of each row of `logits [B,V]`, in double precision.
  static func logSoftmax(_ logits: [Float], rows: Int) -> [Double] {
    let v = logits.count / rows
    var result = [Double](repeating: 0, count: logits.count)
    for row in 0..<rows {
      let values = logits[row * v..<(row + 1) * v].map(Double.init)
      let top = values.max()!
      let logSum = top + log(values.reduce(0) { $0 + exp($1 - top) })
      for (j, value) in values.enumerated() { result[row * v + j] = value - logSum }
    }
    return result
  }

  /// Each layer's state with its rows `[B,H]` replaced by `rows` of it, in that order.
  static func gather(_ state: [RecurrentState], rows: [Int]) -> [RecurrentState] {
    func pick(_ tensor: Tensor) -> Tensor {
      let h = tensor.shape[1]
      var scalars = [Float]()
      scalars.reserveCapacity(rows.count * h)
      for row in rows { scalars += tensor.scalars[row * h..<(row + 1) * h] }
      return Tensor(shape: [rows.count, h], scalars: scalars)
    }
    return state.map { RecurrentState(h: pick($0.h), c: $0.c.map(pick)) }
  }
}
