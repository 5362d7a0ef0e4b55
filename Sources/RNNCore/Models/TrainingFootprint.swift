/// The memory that training a `CharLM` needs at the least, computed from sizes alone, before
/// anything is allocated, so that a model that cannot fit is refused with its size instead of
/// dying in an allocation.
///
/// Sizes are in bytes, as `Double`: no product of sizes can overflow (an `Int` product of
/// `T * B * H` can), and a `Double` counts bytes exactly up to 2^53 (8 PiB), beyond any memory.
///
/// Counted, in `Float`s: the parameters `P` (`CharLM.parameterLayout`) and their gradients, `P`
/// each; the optimizer's buffers, `P` each (Adam 2, RMSprop and SGD 1); and one batch's
/// activations, `T*B*(G+3)*H` per layer kept for backward (`RecurrentLayer`), `T*B*E` for the
/// embedded input and `2*T*B*V` for the logits and their gradient. Workspaces that live only
/// during a step's parts and the copies a checkpoint save makes come on top: real peaks are
/// higher.
public struct TrainingFootprint: Equatable, Sendable {
  /// `P`, the model's parameters, as PyTorch counts them.
  public let parameterCount: Int
  /// The parameters' values, `4*P` and the padding that aligns each to 64 bytes.
  public let parameterBytes: Double
  /// Their gradients, `4*P`.
  public let gradientBytes: Double
  /// The optimizer's buffers, `4*P` each.
  public let optimizerBytes: Double
  /// One batch's activations.
  public let activationBytes: Double

  /// The footprint of training `model` with `optimizer` on batches of `batchSize` sequences of
  /// `seqLength` steps. Throws if a size of the model is outside its range (`checkSizes()`).
  public init(model: CharLMConfig, optimizer: OptimizerKind, batchSize: Int, seqLength: Int) throws(ModelSizeError) {
    try model.checkSizes()
    let layout = CharLM.parameterLayout(model)
    parameterCount = layout.parameterCount
    let float = Double(MemoryLayout<Float>.size)
    parameterBytes = float * Double(layout.count)
    gradientBytes = parameterBytes
    optimizerBytes = Double(optimizer.bufferNames.count) * parameterBytes
    let tokens = Double(batchSize) * Double(seqLength)
    let perLayer = Double(model.cell.gates + 3) * Double(model.hidden)
    let perToken = Double(model.layers) * perLayer + Double(model.embedding) + 2 * Double(model.vocabularySize)
    activationBytes = float * tokens * perToken
  }

  /// Everything counted.
  public var totalBytes: Double { parameterBytes + gradientBytes + optimizerBytes + activationBytes }
}
