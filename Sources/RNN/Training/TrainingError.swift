/// Why training stopped.
public enum TrainingError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The loss or a gradient became NaN or infinite; nothing from this step was applied.
  case diverged(step: Int, loss: Float)
  /// `count` batches in a row up to `step` had a non-finite loss or gradient and were skipped.
  case tooManySkipped(step: Int, count: Int)
  /// The parameters, optimizer buffers or carried state after `step` are not finite (an update
  /// overflowed), so no checkpoint is written from them.
  case nonFiniteState(step: Int)

  public var description: String {
    switch self {
    case .diverged(let step, let loss):
      "training diverged at step \(step) (loss \(loss)); no checkpoint holds this step. Lower --learning-rate or --grad-clip"
    case .tooManySkipped(let step, let count):
      "training diverged: the last \(count) batches (to step \(step)) all had a non-finite loss or gradient and were "
        + "skipped; no checkpoint holds them. Lower --learning-rate or --grad-clip"
    case .nonFiniteState(let step):
      "training diverged: the model after step \(step) holds NaN or infinite values; refusing to save it as a checkpoint. "
        + "Lower --learning-rate or --grad-clip"
    }
  }
}
