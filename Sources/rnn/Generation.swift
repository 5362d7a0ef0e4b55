import RNN

/// Generates `length` characters (bytes, for a byte-level model) after `prime` (empty: after a
/// newline, not printed), handing the bytes of each to `emit` as soon as it is chosen; after
/// `stop` (emitted), it ends early; so it does when `emit` throws. The model runs on `gpu` when
/// given (characters chosen there 256 at a time), else on the CPU with its weights in
/// `precision`. Returns false if it stopped because the model's outputs are not finite (weights
/// that overflow), true otherwise.
@discardableResult
func generate(
  model: CharLM, vocabulary: Vocabulary, prime: [Int32], length: Int, options: SamplingOptions, stop: Int32? = nil,
  precision: Precision = .fp32, gpu: CUDADevice? = nil, using generator: inout RandomGenerator,
  emit: ([UInt8]) throws -> Void
) throws -> Bool {
  let sampler = try makeSampler(model, precision: precision, gpu: gpu)
  if prime.isEmpty {
    let start = vocabulary.id(of: "\n") ?? Int32(truncatingIfNeeded: generator.next() % UInt64(vocabulary.count))
    try sampler.feed([start])
  } else {
    try sampler.feed(prime)
  }
  let chunk = gpu == nil ? 1 : 256
  var done = 0
  while done < length {
    guard try sampler.logitsAreFinite else { return false }
    for token in try sampler.next(count: min(chunk, length - done), options, using: &generator) {
      try emit(vocabulary.bytes(of: [token]))
      if token == stop { return true }
    }
    done += chunk
  }
  return true
}
