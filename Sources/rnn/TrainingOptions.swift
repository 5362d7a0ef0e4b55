import ArgumentParser
import RNN

/// The options of `rnn train` that make its `TrainConfig`: the batch shape, the optimizer and
/// its schedule, clipping, the seed. Optional, so that `--resume` can tell what was passed (it
/// takes them from the run, and refuses or applies what differs: `RunSettings`); the defaults are
/// `TrainConfig()`'s.
struct TrainingOptions: ParsableArguments {
  @OptionGroup var batchShape: BatchShapeOptions
  @Option(parsing: .unconditional, help: "Learning rate (default: \(TrainConfig().learningRate)).")
  var learningRate: Float?
  @Option(help: "Optimizer: adam, rmsprop or sgd (momentum 0.9) (default: \(TrainConfig().optimizer.rawValue)).")
  var optimizer: OptimizerKind?
  @Option(
    parsing: .unconditional, help: "Clip gradients to this global norm (0: off) (default: \(TrainConfig().gradClip)).")
  var gradClip: Float?
  @Option(parsing: .unconditional, help: "Clamp each gradient element to this magnitude (0: off) (default: off).")
  var gradClipValue: Float?
  @Option(
    parsing: .unconditional,
    help: "Multiply the learning rate by this after each epoch from --lr-decay-after on (default: 1, off).")
  var lrDecay: Float?
  @Option(
    parsing: .unconditional,
    help: "First epoch (from 0) whose learning rate is decayed (default: \(TrainConfig().lrDecayAfter)).")
  var lrDecayAfter: Int?
  @Option(parsing: .unconditional, help: "Seed of initialisation and dropout (default: \(TrainConfig().seed)).")
  var seed: UInt64?

  func validate() throws {
    if let learningRate, !(learningRate > 0 && learningRate.isFinite) {
      throw ValidationError("--learning-rate must be positive, got \(learningRate)")
    }
    guard (gradClip ?? 0) >= 0, (gradClipValue ?? 0) >= 0 else {
      throw ValidationError("--grad-clip and --grad-clip-value must be 0 (off) or positive")
    }
    if let lrDecay, !(lrDecay > 0 && lrDecay <= 1) {
      throw ValidationError("--lr-decay must be in (0, 1], got \(lrDecay)")
    }
    if let lrDecayAfter, lrDecayAfter < 0 {
      throw ValidationError("--lr-decay-after must be 0 or more, got \(lrDecayAfter)")
    }
  }
}
