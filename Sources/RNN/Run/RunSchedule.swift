/// When a `TrainingRun` reports, validates, saves and stops; each field is one `rnn train`
/// option. Steps count batches (updates, plus batches skipped for a non-finite loss).
public struct RunSchedule: Equatable, Sendable {
  /// Stop after this many steps in all, a resumed run's included (`--max-steps`; nil: no limit).
  public var maxSteps: Int? = nil
  /// Stop after this many passes over the training text (`--max-epochs`).
  public var maxEpochs: Int = 10
  /// Report progress every this many steps (`--print-every`); each report's loss is the mean of
  /// the steps since the previous one.
  public var printEvery: Int = 10
  /// Validate (and sample) every this many steps (`--eval-every`).
  public var evalEvery: Int = 500
  /// Save `latest` every this many steps (`--checkpoint-every`; nil: `evalEvery`).
  public var checkpointEvery: Int? = nil
  /// Besides `latest`, keep `step-<N>` of the last this many saves (`--keep-checkpoints`; 1:
  /// `latest` only).
  public var keepCheckpoints: Int = 1
  /// Characters sampled at each validation (`--sample-length`; 0: none).
  public var sampleLength: Int = 200
  /// What a batch with a non-finite loss or gradient does (`--on-nonfinite`).
  public var onNonfinite: NonFinitePolicy = .stop

  public init() {}

  /// The last step: `maxSteps`, or the end of `maxEpochs` epochs of `batchesPerEpoch`,
  /// whichever comes first.
  public func lastStep(batchesPerEpoch: Int) -> Int {
    let (product, overflow) = maxEpochs.multipliedReportingOverflow(by: batchesPerEpoch)
    let byEpochs = overflow ? Int.max : product
    return min(maxSteps ?? byEpochs, byEpochs)
  }

  /// Whether `step` reports progress, before `lastStep` (which always does).
  func reports(_ step: Int, lastStep: Int) -> Bool { step % printEvery == 0 || step == lastStep }
  /// Whether `step` validates.
  func validates(_ step: Int, lastStep: Int) -> Bool { step % evalEvery == 0 || step == lastStep }
  /// Whether `step` saves `latest`.
  func saves(_ step: Int, lastStep: Int) -> Bool { step % (checkpointEvery ?? evalEvery) == 0 || step == lastStep }
}

/// What a `TrainingRun` does with a batch whose loss or gradient is not finite.
public enum NonFinitePolicy: String, CaseIterable, Sendable {
  /// Stop with `TrainingError.diverged` naming the step.
  case stop
  /// Skip the batch (no update; the carried state restarts at zero); stop with
  /// `TrainingError.tooManySkipped` after `TrainingRun.maxConsecutiveSkips` in a row.
  case skip
}
