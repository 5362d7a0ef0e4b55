/// Why training stopped.
public enum TrainingError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The loss or a gradient became NaN or infinite; nothing from this step was applied.
  case diverged(step: Int, loss: Float)

  public var description: String {
    switch self {
    case .diverged(let step, let loss):
      "training diverged at step \(step) (loss \(loss)); no checkpoint holds this step. Lower --learning-rate or --grad-clip"
    }
  }
}
