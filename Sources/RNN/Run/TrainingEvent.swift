/// What a `TrainingRun` tells its caller as it goes, for progress lines; the run itself prints
/// nothing. Losses are in nats per character.
public enum TrainingEvent: Sendable {
  /// Every `RunSchedule.printEvery` steps and at the last step.
  case progress(TrainingProgressReport)
  /// A batch with a non-finite loss or gradient was skipped (`NonFinitePolicy.skip`);
  /// `inARow` counts this one.
  case skipped(step: Int, loss: Float, inARow: Int)
  /// A validation: its loss, and whether it is the best so far (then saved as `best`).
  case validated(step: Int, loss: Double, best: Bool)
  /// The sample taken after a validation, bytes as sampled (kept as `samples/step-<N>.txt`).
  case sampled(step: Int, bytes: [UInt8])
}

/// One progress report: the means over the steps since the previous report.
public struct TrainingProgressReport: Sendable {
  /// The step just done.
  public var step: Int
  /// The last step of the run.
  public var lastStep: Int
  /// Epochs done, with the fraction of the current one.
  public var epoch: Double
  /// The mean training loss of the window.
  public var loss: Double
  /// The last step's gradient norm, before clipping.
  public var gradientNorm: Float
  /// The last step's learning rate.
  public var learningRate: Float
  /// Tokens (`B*T` per step) trained per second in the window, validation and saving excluded.
  public var tokensPerSecond: Double
  /// Seconds per step in the window.
  public var secondsPerStep: Double
  /// With several ranks, the streams of the batch each trains now, in rank order (see
  /// `StreamBalance`); nil when one process trains.
  public var streams: [Int]?
  /// With several ranks, this rank's time in the allreduce per step in the window; nil when one
  /// process trains.
  public var allreduce: AllreduceTime?
}

/// A rank's seconds per step summing gradients and losses with the others.
public struct AllreduceTime: Sendable {
  /// All of it (`Trainer.communicationSeconds`).
  public var secondsPerStep: Double
  /// The part spent waiting for the slowest rank (`Trainer.waitingSeconds`); the rest is the transfer.
  public var waitingPerStep: Double
}

/// How `TrainingRun.run` ended.
public enum TrainingOutcome: Equatable, Sendable {
  /// The run had already reached its last step; nothing was done or written.
  case nothingToDo(step: Int, lastStep: Int)
  /// The last step was reached and saved; `testLoss` is the held-out test text's loss (nil with
  /// no test text).
  case finished(testLoss: Double?)
  /// A stop was asked for (on any rank); the run saved `latest` after `step`.
  case stopped(step: Int)
}
