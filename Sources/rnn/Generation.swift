import RNN

/// Generates `length` characters (bytes, for a byte-level model) after `prime` (empty: after a
/// newline, not printed), handing the bytes of each to `emit` as soon as it is chosen; after
/// `stop` (emitted), it ends early. The model runs with its weights in `precision`.
func generate(
  model: CharLM, vocabulary: Vocabulary, prime: [Int32], length: Int, options: SamplingOptions, stop: Int32? = nil,
  precision: Precision = .fp32, using generator: inout RandomGenerator, emit: ([UInt8]) -> Void
) {
  let sampler = Sampler(model: model, precision: precision)
  if prime.isEmpty {
    let start = vocabulary.id(of: "\n") ?? Int32(truncatingIfNeeded: generator.next() % UInt64(vocabulary.count))
    sampler.feed([start])
  } else {
    sampler.feed(prime)
  }
  for _ in 0..<length {
    let token = sampler.next(options, using: &generator)
    emit(vocabulary.bytes(of: [token]))
    if token == stop { break }
  }
}
