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

  /// A search keeping `width` hypotheses, up to `maxLength` tokens or `stop`.
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
    withoutActuallyEscaping(step) { self(prime: prime, state: state, settled: settled, step: Self.onTape($0)) }
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
    search(prime: first, state: initial, rows: 1, settled: settled, step: step)[0]
  }

  /// The best continuations of `prime` for each row of `state` (one `[B,H]` per layer), all
  /// decoded at once: every row keeps its own `width` hypotheses, and each step runs the live
  /// hypotheses of all rows as one batch. Returns each row's best hypotheses, best first, the
  /// same as decoding that row alone. `step` as in `callAsFunction(prime:state:settled:step:)`
  /// on a tape.
  ///
  ///     let (_, encoded) = model.encoder(questions, embedding: model.symbols, on: tape)   // B rows
  ///     let answers = BeamSearch(width: 4, maxLength: 20, stop: stop)(prime: [go], rows: encoded.map { $0.values(on: tape) }) {
  ///       tokens, state, tape in
  ///       let (y, final) = model.decoder(tokens, embedding: model.symbols, state: state, on: tape)
  ///       return (model.output(y, on: tape), final)
  ///     }.map { $0[0].tokens }                                                               // each row's best
  public func callAsFunction(
    prime: [Int32], rows state: [RecurrentState],
    step: (_ tokens: PaddedBatch, _ state: [StateVariables], _ tape: Tape) -> (
      logits: Variable, state: [StateVariables]
    )
  ) -> [[BeamHypothesis]] {
    withoutActuallyEscaping(step) {
      search(prime: prime, state: state, rows: state.first?.h.shape[0] ?? 1, settled: nil, step: Self.onTape($0))
    }
  }

  /// The search over `rows` rows of `initial`; `settled` only with one row.
  private func search(
    prime first: [Int32], state initial: [RecurrentState], rows: Int, settled: (([Int32]) -> Void)?,
    step: (_ tokens: [Int32], _ time: Int, _ batch: Int, _ state: [RecurrentState]) -> (
      logits: Tensor, state: [RecurrentState]
    )
  ) -> [[BeamHypothesis]] {
    require(width > 0, "beam width must be positive, got \(width)")
    require(maxLength >= 0, "maximum length must be 0 or more, got \(maxLength)")
    require(!first.isEmpty, "beam search needs at least one token to start from")
    for layer in initial {
      require(layer.h.shape.first == rows, "a state of \(layer.h.shape) for \(rows) rows (one state row per sequence)")
    }
    let empty = BeamHypothesis(tokens: [], logProbability: 0, score: 0, isStopped: false)
    guard maxLength > 0 else { return Array(repeating: [empty], count: rows) }

    // The prime as `rows` sequences: their final states and the logits after them, whose
    // rows' length is the vocabulary's.
    let primes = first.flatMap { Array(repeating: $0, count: rows) }
    var (logProbabilities, state) = Self.lastStep(step(primes, first.count, rows, initial), batch: rows)
    let v = logProbabilities.count / rows
    if let stop { require(stop >= 0 && Int(stop) < v, "stop token \(stop) outside the vocabulary of \(v)") }
    var beams = Array(repeating: Beam(), count: rows)
    var positions: [Int?] = Array(0..<rows)  // each row's first live hypothesis in the batch; nil: done

    for length in 1...maxLength {
      var inputs: [Int32] = []
      var parents: [Int] = []
      for row in beams.indices {
        guard let position = positions[row] else { continue }
        let live = beams[row].live.count
        let next = beams[row].extend(logProbabilities[position * v..<(position + live) * v], length: length, self)
        positions[row] = next.isEmpty ? nil : inputs.count
        inputs += next.map(\.token)
        parents += next.map { position + Int($0.parent) }
      }
      if inputs.isEmpty { break }
      state = Self.gather(state, rows: parents)
      (logProbabilities, state) = Self.lastStep(step(inputs, 1, inputs.count, state), batch: inputs.count)
      if let settled {
        let tokens = beams[0].settle()
        if !tokens.isEmpty { settled(tokens) }
        if beams[0].history.steps.count > horizon {
          if beams[0].best != nil { break }
          settled(beams[0].collapse())
          state = Self.gather(state, rows: [0])
          logProbabilities = Array(logProbabilities[0..<v])
        }
      }
    }
    return beams.map { $0.hypotheses(settled == nil ? width : 1, includesStop: includesStop) }
  }

  /// Runs `tokens [T,B]` through the sequence model from `state`, recording nothing; returns the
  /// logits `[T,B,V]` and the final state.
  static func run(_ model: CharLM, _ tokens: [Int32], time: Int, batch: Int, state: [RecurrentState])
    -> (logits: Tensor, state: [RecurrentState])
  {
    run(state: state) { model(tokens, time: time, batch: batch, state: $0, on: $1) }
  }

  /// `step` on a tape as a step on tensors.
  static func onTape(
    _ step: @escaping (PaddedBatch, [StateVariables], Tape) -> (logits: Variable, state: [StateVariables])
  ) -> ([Int32], Int, Int, [RecurrentState]) -> (logits: Tensor, state: [RecurrentState]) {
    { tokens, time, batch, state in
      run(state: state) { step(PaddedBatch(tokens: tokens, time: time, batch: batch), $0, $1) }
    }
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
