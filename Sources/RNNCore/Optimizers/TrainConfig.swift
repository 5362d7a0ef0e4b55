/// How a model is trained; each field is one `rnn train` option. Stored with every training
/// state so a resumed run continues with the same settings.
public struct TrainConfig: Codable, Equatable, Sendable {
  /// The update rule (`--optimizer`).
  public var optimizer: OptimizerKind = .adam
  /// Step size before decay (`--learning-rate`).
  public var learningRate: Float = 2e-3
  /// Multiply the learning rate by this after each epoch from `lrDecayAfter` on (`--lr-decay`; 1: off).
  public var lrDecay: Float = 1
  /// The epoch from which the learning rate decays (`--lr-decay-after`).
  public var lrDecayAfter: Int = 10
  /// Clip gradients to this global L2 norm (`--grad-clip`; 0: off).
  public var gradClip: Float = 5
  /// Clamp each gradient element to this magnitude (`--grad-clip-value`; 0: off).
  public var gradClipValue: Float = 0
  /// `T`, steps of backpropagation through time per batch (`--seq-length`).
  public var seqLength: Int = 50
  /// `B`, streams per batch (`--batch-size`).
  public var batchSize: Int = 50
  /// Seeds initialisation and dropout (`--seed`).
  public var seed: UInt64 = 0

  public init() {}

  /// The learning rate during `epoch` (counted from 0).
  public func learningRate(epoch: Int) -> Float {
    let decays = max(0, epoch - lrDecayAfter + 1)
    return decays == 0 || lrDecay == 1 ? learningRate : learningRate * Float(_exp(Double(decays) * _log(Double(lrDecay))))
  }
}

/// Where a training run is: enough, with the model, optimizer and carried state, to continue it
/// exactly.
public struct TrainingProgress: Codable, Equatable, Sendable {
  /// Batches done so far: updates, plus batches skipped (`Trainer.skipBatch()`) for a non-finite
  /// loss or gradient.
  public var step = 0
  /// The epoch under way (passes over the training text, from 0).
  public var epoch = 0
  /// The next batch within the epoch.
  public var batch = 0
  /// The dropout generator's state.
  public var generator: [UInt64]
  /// The lowest validation loss seen (nats per character), if any.
  public var bestValidationLoss: Double?

  public init(seed: UInt64) {
    let g = RandomGenerator(seed: seed ^ 0x5DEE_CE66_D1CE_4E5B)
    generator = [g.state.0, g.state.1, g.state.2, g.state.3]
  }
}
