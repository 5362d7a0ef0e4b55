import CKernels

/// Generates text from a `CharLM` on the GPU, batch 1, as `Sampler` does on the CPU: one
/// persistent kernel runs many characters per launch (weights held on chip, sampling on the
/// GPU) and only the chosen ids come back. Draws come from a counter-based generator seeded from
/// the caller's, so a seed gives the same text on the same GPU, not the same text as the CPU.
public final class CUDASampler: TextSampler {
  public let config: CharLMConfig
  private let handle: OpaquePointer
  private var fed = false

  /// A sampler from the zero state with a copy of `model`'s weights.
  public init(model: CharLM, on device: CUDADevice) throws(CUDAError) {
    config = model.config
    let values = model.parameters.values
    handle = try CUDALanguageModel.withShape(model) { shape throws(CUDAError) in
      try cudaMake { rnn_gpu_sampler_create(device.handle, shape, values.baseAddress!, $0, $1) }
    }
  }

  deinit { rnn_gpu_sampler_destroy(handle) }

  public func feed(_ tokens: [Int32]) throws(CUDAError) {
    guard !tokens.isEmpty else { return }
    try cudaCall { error, size in
      tokens.withUnsafeBufferPointer { t in
        rnn_gpu_sampler_run(handle, Int32(t.count), t.baseAddress, nil, 1, 0, 0, 0, error, size)
      }
    }
    fed = true
  }

  /// Chooses `count` characters one after another, each from the logits after the one before,
  /// feeding each; returns them. Requires at least one character fed before.
  public func next(count: Int, _ options: SamplingOptions, using generator: inout RandomGenerator) throws(CUDAError) -> [Int32] {
    require(fed, "feed at least one character before sampling")
    require(options.topK.map { $0 > 0 } ?? true, "top-k needs k > 0")
    var out = [Int32](repeating: 0, count: count)
    let seed = generator.next()
    let topK = Int32(clamping: min(options.topK ?? 0, config.vocabularySize))
    try cudaCall { error, size in
      out.withUnsafeMutableBufferPointer { o in
        rnn_gpu_sampler_run(
          handle, Int32(count), nil, o.baseAddress, options.temperature, topK, options.argmax ? 1 : 0, seed, error, size)
      }
    }
    return out
  }

  public func next(_ options: SamplingOptions, using generator: inout RandomGenerator) throws(CUDAError) -> Int32 {
    try next(count: 1, options, using: &generator)[0]
  }

  public var logits: [Float] {
    get throws(CUDAError) {
      var logits = [Float](repeating: 0, count: config.vocabularySize)
      try cudaCall { error, size in
        logits.withUnsafeMutableBufferPointer { rnn_gpu_sampler_logits(handle, $0.baseAddress!, error, size) }
      }
      return logits
    }
  }

  public var state: [RecurrentState] {
    get throws(CUDAError) {
      let H = config.hidden
      var h = [Float](repeating: 0, count: config.layers * H)
      var c = [Float](repeating: 0, count: config.cell.hasCellState ? h.count : 0)
      try cudaCall { error, size in
        h.withUnsafeMutableBufferPointer { h in
          c.withUnsafeMutableBufferPointer { c in rnn_gpu_sampler_state(handle, h.baseAddress!, c.baseAddress, error, size) }
        }
      }
      return (0..<config.layers).map { l in
        RecurrentState(
          h: Tensor(shape: [1, H], scalars: Array(h[l * H..<(l + 1) * H])),
          c: c.isEmpty ? nil : Tensor(shape: [1, H], scalars: Array(c[l * H..<(l + 1) * H])))
      }
    }
  }
}
