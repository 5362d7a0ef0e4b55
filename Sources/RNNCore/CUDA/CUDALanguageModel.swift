import CKernels

/// A `CharLM`'s parameters, gradients and optimizer buffers on the GPU (laid out as the model's
/// flat `Parameters`), with the work of training and scoring there: `CUDATrainingStep`,
/// `CharLM.loss(of:on:)` and `CUDASampler` use it.
public final class CUDALanguageModel {
  public let device: CUDADevice
  public let config: CharLMConfig
  public let optimizer: OptimizerKind
  let handle: OpaquePointer
  let parameterCount: Int

  /// The model's shape and parameters copied to `device`; optimizer buffers zero.
  public init(_ model: CharLM, optimizer: OptimizerKind = .adam, on device: CUDADevice) throws(CUDAError) {
    self.device = device
    config = model.config
    self.optimizer = optimizer
    parameterCount = model.parameters.count
    handle = try Self.withShape(model, optimizer: optimizer) { shape throws(CUDAError) in
      try cudaMake { rnn_gpu_model_create(device.handle, shape, $0, $1) }
    }
    try upload(model.parameters)
  }

  deinit { rnn_gpu_model_destroy(handle) }

  /// Calls `body` with the C description of `model`'s shape and parameter layout.
  static func withShape<R>(
    _ model: CharLM, optimizer: OptimizerKind = .adam,
    _ body: (UnsafePointer<rnn_gpu_model_shape>) throws(CUDAError) -> R
  ) throws(CUDAError) -> R {
    var offsets: [Int] = []
    for layer in model.layers {
      offsets += [layer.weightIH.offset, layer.weightHH.offset, layer.biasIH.offset, layer.biasHH.offset]
    }
    offsets += [model.embedding.weight.offset, model.decoder.weight.offset, model.decoder.bias.offset]
    let c = model.config
    let cell: Int32 =
      switch c.cell {
      case .lstm: 0
      case .gru: 1
      case .rnnTanh: 2
      case .rnnRelu: 3
      }
    let kind: Int32 =
      switch optimizer {
      case .adam: 0
      case .rmsprop: 1
      case .sgd: 2
      }
    return try offsets.withUnsafeBufferPointer { offsets throws(CUDAError) in
      var shape = rnn_gpu_model_shape(
        cell: cell, layers: Int32(c.layers), hidden: Int32(c.hidden), embedding: Int32(c.embedding),
        vocabulary: Int32(c.vocabularySize), dropout: c.dropout, optimizer: kind, count: model.parameters.count,
        offsets: offsets.baseAddress)
      return try body(&shape)
    }
  }

  /// Copies `parameters` (the same model's) to the GPU.
  public func upload(_ parameters: Parameters) throws(CUDAError) {
    try cudaCall { rnn_gpu_model_set_parameters(handle, parameters.values.baseAddress!, $0, $1) }
  }

  /// Copies the GPU's parameters into `parameters`.
  public func download(into parameters: Parameters) throws(CUDAError) {
    try cudaCall { rnn_gpu_model_get_parameters(handle, parameters.values.baseAddress!, $0, $1) }
  }

  /// Sets the optimizer's buffers (those of `optimizer`, named as `OptimizerKind.bufferNames`).
  public func upload(_ optimizer: Optimizer) throws(CUDAError) {
    let names = optimizer.kind.bufferNames
    let first = optimizer.buffers[names[0]]!
    let second = names.count > 1 ? optimizer.buffers[names[1]]! : []
    try cudaCall { error, size in
      first.withUnsafeBufferPointer { a in
        second.withUnsafeBufferPointer { b in rnn_gpu_model_set_optimizer(handle, a.baseAddress, b.baseAddress, error, size) }
      }
    }
  }

  /// The optimizer's buffers, as `Optimizer.buffers` holds them.
  public func downloadOptimizerBuffers() throws(CUDAError) -> [String: [Float]] {
    let names = optimizer.bufferNames
    var first = [Float](repeating: 0, count: parameterCount)
    var second = [Float](repeating: 0, count: names.count > 1 ? parameterCount : 0)
    try cudaCall { error, size in
      first.withUnsafeMutableBufferPointer { a in
        second.withUnsafeMutableBufferPointer { b in
          rnn_gpu_model_get_optimizer(handle, a.baseAddress, b.baseAddress, error, size)
        }
      }
    }
    var buffers = [names[0]: first]
    if names.count > 1 { buffers[names[1]] = second }
    return buffers
  }

  /// Sets the state carried into the next training step (`[B,H]` per layer) and fixes the
  /// steps `T` and rows `B` of every training step.
  public func setTrainingState(_ state: [RecurrentState], time: Int) throws(CUDAError) {
    let batch = state[0].h.shape[0]
    let h = state.flatMap(\.h.scalars)
    let c = config.cell.hasCellState ? state.flatMap { $0.c!.scalars } : []
    try cudaCall { error, size in
      h.withUnsafeBufferPointer { h in
        c.withUnsafeBufferPointer { c in
          rnn_gpu_model_set_state(handle, Int32(time), Int32(batch), h.baseAddress, c.baseAddress, error, size)
        }
      }
    }
  }

  /// The state carried into the next training step, `[B,H]` per layer.
  public func trainingState(batch: Int) throws(CUDAError) -> [RecurrentState] {
    let n = config.layers * batch * config.hidden
    var h = [Float](repeating: 0, count: n)
    var c = [Float](repeating: 0, count: config.cell.hasCellState ? n : 0)
    try cudaCall { error, size in
      h.withUnsafeMutableBufferPointer { h in
        c.withUnsafeMutableBufferPointer { c in rnn_gpu_model_get_state(handle, h.baseAddress!, c.baseAddress, error, size) }
      }
    }
    let per = batch * config.hidden
    return (0..<config.layers).map { l in
      RecurrentState(
        h: Tensor(shape: [batch, config.hidden], scalars: Array(h[l * per..<(l + 1) * per])),
        c: c.isEmpty ? nil : Tensor(shape: [batch, config.hidden], scalars: Array(c[l * per..<(l + 1) * per])))
    }
  }

  /// One training step on `inputs`, `targets` (`[T,B]`, time-major); returns the mean loss,
  /// the gradient norm before clipping, and whether both were finite (if not, nothing changed).
  package func trainStep(
    inputs: [Int32], targets: [Int32], settings: rnn_gpu_step_settings
  ) throws(CUDAError) -> rnn_gpu_step_result {
    var result = rnn_gpu_step_result()
    var settings = settings
    try cudaCall { error, size in
      inputs.withUnsafeBufferPointer { i in
        targets.withUnsafeBufferPointer { t in
          rnn_gpu_model_train_step(handle, i.baseAddress!, t.baseAddress!, &settings, &result, error, size)
        }
      }
    }
    return result
  }
}

extension CUDALanguageModel {
  /// Scores `tokens` on the GPU as `CharLM.loss(of:batch:chunk:progress:)` does on the CPU (the
  /// same streams, chunks and carried state; products in full float32): the summed loss in nats
  /// and the number of tokens scored.
  public func loss<Tokens: RandomAccessCollection>(
    of tokens: Tokens, batch: Int = 1, chunk: Int = 256, progress: ((_ done: Int, _ total: Int) -> Void)? = nil
  ) throws(CUDAError) -> (nats: Double, count: Int) where Tokens.Element == Int32, Tokens.Index == Int {
    require(batch > 0, "batch must be positive")  // before the GPU sizes anything by it
    try cudaCall { rnn_gpu_model_score_begin(handle, Int32(batch), $0, $1) }
    var total = 0.0
    let count = try CharLM.scoringChunks(of: tokens, batch: batch, chunk: chunk, streams: 0..<batch, progress: progress) {
      (steps, inputs, targets) throws(CUDAError) in
      try cudaCall { error, size in
        inputs.withUnsafeBufferPointer { i in
          targets.withUnsafeBufferPointer { t in
            rnn_gpu_model_score_chunk(handle, Int32(steps), i.baseAddress!, t.baseAddress!, &total, error, size)
          }
        }
      }
    }
    return (total, count)
  }
}
