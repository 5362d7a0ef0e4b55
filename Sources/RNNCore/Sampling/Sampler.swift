import CKernels

/// How the next character is chosen from the model's distribution.
public struct SamplingOptions: Equatable, Sendable {
  /// Divides the logits: below 1 sharpens, above 1 flattens the distribution.
  public var temperature: Float = 1
  /// Sample only among the `topK` most likely characters (nil: all).
  public var topK: Int? = nil
  /// Always take the most likely character (greedy decoding).
  public var argmax = false

  public init(temperature: Float = 1, topK: Int? = nil, argmax: Bool = false) {
    self.temperature = temperature
    self.topK = topK
    self.argmax = argmax
  }
}

/// Generates text from a `CharLM` one character at a time (batch 1, no dropout), carrying the
/// recurrent state from character to character. A step allocates nothing (see `StepModel`).
public final class Sampler: TextSampler {
  private let step: StepModel
  private var fed = false
  /// Scratch `[V]` for the distribution `next` draws from, and for top-k's ranking.
  private var scratch: [Float]
  private var order: [Int32]

  /// A sampler from the zero state; it copies the model's weights (rounded to `precision`), so
  /// later training of the model does not affect it.
  public init(model: CharLM, precision: Precision = .fp32) {
    let threads = StepModel.threads(for: model.config, precision: precision, available: Parallel.width)
    step = StepModel(model, threads: threads, precision: precision)
    scratch = [Float](repeating: 0, count: model.config.vocabularySize)
    order = [Int32](repeating: 0, count: model.config.vocabularySize)
  }

  public var config: CharLMConfig { step.config }

  /// Each layer's state after the characters fed so far (`[1,H]` each).
  public var state: [RecurrentState] { step.state }

  /// The model's logits `[V]` for the character after the last one fed.
  public var logits: [Float] { Array(step.logits) }

  /// Whether those logits are all finite: weights that overflow (finite, but huge) make them NaN
  /// or infinite, and nothing sampled from them means anything.
  public var logitsAreFinite: Bool { rnn_all_finite(step.logits.count, step.logits.baseAddress!) != 0 }

  /// Runs the model over `tokens` (e.g. a prime text), updating the state.
  public func feed(_ tokens: [Int32]) {
    for token in tokens { step.step(token) }
    fed = fed || !tokens.isEmpty
  }

  /// Chooses the next character from the current logits and feeds it; returns it.
  /// Requires at least one character fed before.
  public func next(_ options: SamplingOptions, using generator: inout RandomGenerator) -> Int32 {
    require(fed, "feed at least one character before sampling")
    let token = scratch.withUnsafeMutableBufferPointer { scratch in
      order.withUnsafeMutableBufferPointer { order in
        Self.choose(from: step.logits, options, scratch: scratch, order: order, using: &generator)
      }
    }
    step.step(token)
    return token
  }

  /// Chooses and feeds `count` characters, each after the one before.
  public func next(count: Int, _ options: SamplingOptions, using generator: inout RandomGenerator) -> [Int32] {
    (0..<count).map { _ in next(options, using: &generator) }
  }

  /// The probabilities `[V]` of the next character: the softmax of the logits at `temperature`.
  public func probabilities(temperature: Float = 1) -> [Float] {
    [Float](unsafeUninitializedCapacity: step.config.vocabularySize) { p, initialized in
      let logits = step.logits
      rnn_softmax(logits.count, logits.baseAddress!, temperature, p.baseAddress!)
      initialized = logits.count
    }
  }

  /// The indices of the `k` largest of `p`, largest first (ties: lower index first).
  public static func mostProbable(_ p: UnsafeBufferPointer<Float>, _ k: Int) -> [Int] {
    Array(p.indices.sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }.prefix(k))
  }

  /// Picks a token from `logits [V]` as `options` say.
  public static func choose(from logits: [Float], _ options: SamplingOptions, using generator: inout RandomGenerator) -> Int32 {
    var scratch = [Float](repeating: 0, count: logits.count)
    var order = [Int32](repeating: 0, count: logits.count)
    return logits.withUnsafeBufferPointer { logits in
      scratch.withUnsafeMutableBufferPointer { scratch in
        order.withUnsafeMutableBufferPointer { choose(from: logits, options, scratch: scratch, order: $0, using: &generator) }
      }
    }
  }

  private static func choose(
    from logits: UnsafeBufferPointer<Float>, _ options: SamplingOptions, scratch p: UnsafeMutableBufferPointer<Float>,
    order: UnsafeMutableBufferPointer<Int32>, using generator: inout RandomGenerator
  ) -> Int32 {
    let v = logits.count
    if options.argmax { return Int32(logits.indices.max { logits[$0] < logits[$1] }!) }
    rnn_softmax(v, logits.baseAddress!, options.temperature, p.baseAddress!)
    if let k = options.topK {
      require(k > 0, "top-k needs k > 0, got \(k)")
      rnn_keep_top_k(v, p.baseAddress!, k, order.baseAddress!)
    }
    var total: Float = 0
    for i in 0..<v { total += p[i] }
    var u = generator.uniform(0, 1) * total
    var last = 0
    for i in 0..<v where p[i] > 0 {
      u -= p[i]
      last = i
      if u < 0 { return Int32(i) }
    }
    return Int32(last)
  }
}
