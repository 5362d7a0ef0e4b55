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
/// recurrent state from character to character.
public struct Sampler {
  public let model: CharLM
  /// Each layer's state after the characters fed so far.
  public private(set) var state: [RecurrentState]
  /// The model's logits `[V]` for the character after the last one fed.
  public private(set) var logits: [Float]

  public init(model: CharLM) {
    self.model = model
    state = model.zeroState(batch: 1)
    logits = []
  }

  /// Runs the model over `tokens` (e.g. a prime text) in one sequence, updating the state.
  public mutating func feed(_ tokens: [Int32]) {
    guard !tokens.isEmpty else { return }
    let tape = Tape(recording: false)
    let (output, final) = model(tokens, time: tokens.count, batch: 1, state: state.map { StateVariables($0, on: tape) }, on: tape)
    let v = model.config.vocabularySize
    logits = Array(tape[output].scalars.suffix(v))
    state = final.map { $0.values(on: tape) }
  }

  /// Chooses the next character from the current logits and feeds it; returns it.
  /// Requires at least one character fed before.
  public mutating func next(_ options: SamplingOptions, using generator: inout RandomGenerator) -> Int32 {
    precondition(!logits.isEmpty, "feed at least one character before sampling")
    let token = Self.choose(from: logits, options, using: &generator)
    feed([token])
    return token
  }

  /// Picks a token from `logits [V]` as `options` say.
  public static func choose(from logits: [Float], _ options: SamplingOptions, using generator: inout RandomGenerator) -> Int32 {
    if options.argmax { return Int32(logits.indices.max { logits[$0] < logits[$1] }!) }
    var probabilities = [Float](repeating: 0, count: logits.count)
    probabilities.withUnsafeMutableBufferPointer { p in
      rnn_softmax(logits.count, logits, options.temperature, p.baseAddress!)
    }
    if let k = options.topK, k < logits.count {
      let threshold = probabilities.sorted(by: >)[k - 1]
      var kept = 0
      for i in probabilities.indices {
        if probabilities[i] >= threshold && kept < k { kept += 1 } else { probabilities[i] = 0 }
      }
    }
    let total = probabilities.reduce(0, +)
    var u = generator.uniform(0, 1) * total
    for (i, p) in probabilities.enumerated() where p > 0 {
      u -= p
      if u < 0 { return Int32(i) }
    }
    return Int32(probabilities.lastIndex { $0 > 0 } ?? 0)
  }
}
