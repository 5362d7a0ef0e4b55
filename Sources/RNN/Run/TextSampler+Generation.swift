extension TextSampler {
  /// Generates `length` characters (bytes, for a byte-level model) after `prime` (empty: after a
  /// newline, not emitted), handing the bytes of each to `emit` as soon as it is chosen, `chunk`
  /// characters chosen at a time (a GPU sampler's launches: 256). After `stop` (emitted) it ends
  /// early; so it does when `emit` throws. Returns false if it stopped because the model's outputs
  /// are not finite (weights that overflow), true otherwise.
  @discardableResult
  public func generate(
    vocabulary: Vocabulary, prime: [Int32], length: Int, options: SamplingOptions, stop: Int32? = nil,
    chunk: Int = 1, using generator: inout RandomGenerator, emit: ([UInt8]) throws -> Void
  ) throws -> Bool {
    if prime.isEmpty {
      let start = vocabulary.id(of: "\n") ?? Int32(truncatingIfNeeded: generator.next() % UInt64(vocabulary.count))
      try feed([start])
    } else {
      try feed(prime)
    }
    var done = 0
    while done < length {
      guard try logitsAreFinite else { return false }
      for token in try next(count: min(chunk, length - done), options, using: &generator) {
        try emit(vocabulary.bytes(of: [token]))
        if token == stop { return true }
      }
      done += chunk
    }
    return true
  }
}
