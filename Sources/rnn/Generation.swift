import RNN

/// Generates `length` characters after `prime` with `TextSampler.generate`, on `gpu` when given
/// (characters chosen there 256 at a time), else on the CPU with its weights in `precision`.
/// Returns false if it stopped because the model's outputs are not finite, true otherwise.
@discardableResult
func generate(
  model: CharLM, vocabulary: Vocabulary, prime: [Int32], length: Int, options: SamplingOptions, stop: Int32? = nil,
  precision: Precision = .fp32, gpu: CUDADevice? = nil, using generator: inout RandomGenerator,
  emit: ([UInt8]) throws -> Void
) throws -> Bool {
  try makeSampler(model, precision: precision, gpu: gpu).generate(
    vocabulary: vocabulary, prime: prime, length: length, options: options, stop: stop, chunk: gpu == nil ? 1 : 256,
    using: &generator, emit: emit)
}
