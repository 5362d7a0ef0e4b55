import CKernels

/// What generating text needs of a batch-1 model, on the CPU (`Sampler`) or a GPU
/// (`CUDASampler`): feed characters, choose the next ones, and look at the logits and state.
public protocol TextSampler: AnyObject {
  var config: CharLMConfig { get }
  /// Runs the model over `tokens` (e.g. a prime text), updating the state.
  func feed(_ tokens: [Int32]) throws
  /// Chooses the next character from the current logits and feeds it; returns it. Requires at
  /// least one character fed before.
  func next(_ options: SamplingOptions, using generator: inout RandomGenerator) throws -> Int32
  /// Chooses and feeds `count` characters, each after the one before.
  func next(count: Int, _ options: SamplingOptions, using generator: inout RandomGenerator) throws -> [Int32]
  /// The model's logits `[V]` for the character after the last one fed.
  var logits: [Float] { get throws }
  /// Each layer's state after the characters fed so far (`[1,H]` each).
  var state: [RecurrentState] { get throws }
  /// Whether the logits are all finite: weights that overflow (finite, but huge) make them NaN
  /// or infinite, and nothing sampled from them means anything.
  var logitsAreFinite: Bool { get throws }
  /// The probabilities `[V]` of the next character: the softmax of the logits at `temperature`.
  func probabilities(temperature: Float) throws -> [Float]
}

extension TextSampler {
  public var logitsAreFinite: Bool {
    get throws { try logits.allSatisfy(\.isFinite) }
  }

  public func probabilities(temperature: Float = 1) throws -> [Float] {
    let logits = try logits
    return [Float](unsafeUninitializedCapacity: logits.count) { p, initialized in
      logits.withUnsafeBufferPointer { rnn_softmax($0.count, $0.baseAddress!, temperature, p.baseAddress!) }
      initialized = logits.count
    }
  }
}
