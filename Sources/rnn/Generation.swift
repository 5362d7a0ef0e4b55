import RNN

/// Generates `length` characters (bytes, for a byte-level model) after `prime` (empty: after a
/// newline, not printed), handing the bytes of each to `emit` as soon as it is chosen; after
/// `stop` (emitted), it ends early; so it does when `emit` throws. The model runs with its weights
/// in `precision`. Returns false if it stopped because the model's outputs are not finite
/// (weights that overflow), true otherwise.
@discardableResult
func generate(
  model: CharLM, vocabulary: Vocabulary, prime: [Int32], length: Int, options: SamplingOptions, stop: Int32? = nil,
  precision: Precision = .fp32, using generator: inout RandomGenerator, emit: ([UInt8]) throws -> Void
) rethrows -> Bool {
  let sampler = Sampler(model: model, precision: precision)
  if prime.isEmpty {
    let start = vocabulary.id(of: "\n") ?? Int32(truncatingIfNeeded: generator.next() % UInt64(vocabulary.count))
    sampler.feed([start])
  } else {
    sampler.feed(prime)
  }
  for _ in 0..<length {
    guard sampler.logitsAreFinite else { return false }
    let token = sampler.next(options, using: &generator)
    try emit(vocabulary.bytes(of: [token]))
    if token == stop { break }
  }
  return true
}
