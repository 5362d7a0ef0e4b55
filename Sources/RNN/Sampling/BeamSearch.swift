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
  /// stop token is the last of them (and counts in the length and the log-probability).
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
public struct BeamSearch: Equatable, Sendable {
  /// Hypotheses kept at each step (`N`).
  public var width: Int
  /// Tokens generated at most, after the prime (the stop token included).
  public var maxLength: Int
  /// A token that ends a hypothesis (nil: every hypothesis runs to `maxLength`).
  public var stop: Int32?
  /// How finished hypotheses of different lengths are compared.
  public var lengthNormalization: LengthNormalization

  public init(width: Int, maxLength: Int, stop: Int32? = nil, lengthNormalization: LengthNormalization = .none) {
    self.width = width
    self.maxLength = maxLength
    self.stop = stop
    self.lengthNormalization = lengthNormalization
  }

  /// The best hypotheses after `prime` (at most `width`), best first. With an empty prime, the
  /// search starts from `start` (fed to the model, not part of the result), for instance a newline.
  public func callAsFunction(_ model: CharLM, prime: [Int32], start: Int32 = 0) -> [BeamHypothesis] {
    for token in prime + [start] {
      precondition(token >= 0 && Int(token) < model.config.vocabularySize, "token \(token) outside the vocabulary")
    }
    let first = prime.isEmpty ? [start] : prime
    return self(vocabularySize: model.config.vocabularySize, prime: first, state: model.zeroState(batch: 1)) {
      Self.run(model, $0, time: $1, batch: $2, state: $3)
    }
  }

  /// The best continuations of `prime` (at least one token, fed to the model, not part of the
  /// result; its ids need not be output ids, e.g. a decoder's start token) from the batch-1
  /// `state`, under any model that `step` runs: given tokens `[T,B]` and a state (one `[B,H]` per
  /// layer), it returns logits `[T,B,V]` (or any shape ending in the last step's `[B,V]`) and the
  /// final state. This decodes the decoder of an encoder-decoder, started from the encoder's
  /// final state.
  public func callAsFunction(
    vocabularySize v: Int, prime first: [Int32], state initial: [RecurrentState],
    step: (_ tokens: [Int32], _ time: Int, _ batch: Int, _ state: [RecurrentState]) -> (
      logits: Tensor, state: [RecurrentState]
    )
  ) -> [BeamHypothesis] {
    precondition(width > 0, "beam width must be positive, got \(width)")
    precondition(maxLength >= 0, "maximum length must be 0 or more, got \(maxLength)")
    precondition(!first.isEmpty, "beam search needs at least one token to start from")
    if let stop { precondition(stop >= 0 && Int(stop) < v, "stop token \(stop) outside the vocabulary") }
    guard maxLength > 0 else { return [BeamHypothesis(tokens: [], logProbability: 0, score: 0, isStopped: false)] }

    // The prime as one sequence of batch 1: its final state and the logits after it.
    var (logProbabilities, state) = Self.lastStep(step(first, first.count, 1, initial), batch: 1)
    var live = [(tokens: [Int32], logProbability: Double)]([([], 0)])
    var finished: [BeamHypothesis] = []
    // The best score a finished hypothesis can have, to stop early once `width` are better.
    let bestPenalty = lengthNormalization.penalty(length: maxLength)

    for length in 1...maxLength {
      // Candidates (parent, token) ranked by total log-probability (all have `length` tokens).
      var candidates: [(parent: Int, token: Int32, logProbability: Double)] = []
      candidates.reserveCapacity(live.count * v)
      for (parent, beam) in live.enumerated() {
        for token in 0..<v {
          candidates.append((parent, Int32(token), beam.logProbability + logProbabilities[parent * v + token]))
        }
      }
      // Enumeration order is (parent, token), so a stable order by value breaks ties as wanted.
      let order = candidates.indices.sorted {
        candidates[$0].logProbability > candidates[$1].logProbability
          || (candidates[$0].logProbability == candidates[$1].logProbability && $0 < $1)
      }
      let penalty = lengthNormalization.penalty(length: length)
      var next: [(tokens: [Int32], logProbability: Double)] = []
      var parents: [Int] = []
      var inputs: [Int32] = []
      for (rank, index) in order.enumerated() {
        if next.count == width { break }
        let (parent, token, logProbability) = candidates[index]
        let tokens = live[parent].tokens + [token]
        if token == stop {
          if rank < width {
            finished.append(
              BeamHypothesis(tokens: tokens, logProbability: logProbability, score: logProbability / penalty, isStopped: true))
          }
        } else if length == maxLength {
          finished.append(
            BeamHypothesis(tokens: tokens, logProbability: logProbability, score: logProbability / penalty, isStopped: false))
          next.append((tokens, logProbability))  // counts toward the width; never run
        } else {
          next.append((tokens, logProbability))
          parents.append(parent)
          inputs.append(token)
        }
      }
      if length == maxLength || inputs.isEmpty { break }
      if finished.count >= width {
        // Log-probabilities only fall as tokens are added, and the penalty grows with the length,
        // so no live hypothesis can score more than its log-probability over the largest penalty.
        let scores = finished.map(\.score).sorted(by: >)
        if next[0].logProbability / bestPenalty <= scores[width - 1] { break }
      }
      live = next
      state = Self.gather(state, rows: parents)
      (logProbabilities, state) = Self.lastStep(step(inputs, 1, inputs.count, state), batch: inputs.count)
    }
    // Best first; among equal scores, the one finished first.
    let ranked = finished.enumerated().sorted {
      $0.element.score > $1.element.score || ($0.element.score == $1.element.score && $0.offset < $1.offset)
    }
    return Array(ranked.prefix(width).map(\.element))
  }

  /// Runs `tokens [T,B]` through the sequence model from `state`, recording nothing; returns the
  /// logits `[T,B,V]` and the final state.
  static func run(_ model: CharLM, _ tokens: [Int32], time: Int, batch: Int, state: [RecurrentState])
    -> (logits: Tensor, state: [RecurrentState])
  {
    let tape = Tape(recording: false)
    let (logits, final) = model(tokens, time: time, batch: batch, state: state.map { StateVariables($0, on: tape) }, on: tape)
    return (tape[logits], final.map { $0.values(on: tape) })
  }

  /// The log-probabilities `[B,V]` of the last step of `result.logits` and the state.
  static func lastStep(_ result: (logits: Tensor, state: [RecurrentState]), batch: Int)
    -> (logProbabilities: [Double], state: [RecurrentState])
  {
    let v = result.logits.shape.last!
    precondition(result.logits.count >= batch * v, "logits \(result.logits.shape) for a batch of \(batch)")
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
