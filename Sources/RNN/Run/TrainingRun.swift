/// A training run: `trainer`'s steps up to the schedule's last step, with progress reports,
/// validation (loss, best model, a sample), checkpoints and the metrics log in a `RunFolder`, and
/// stops on request. It prints nothing: it tells its caller what happens through `TrainingEvent`s.
///
/// With data parallelism every rank runs it alike (each rank takes part in every sum, gathers
/// the whole carried state for a save, and stops after the same step); rank 0 alone writes files
/// and reports validations and samples.
///
/// ```swift
/// let split = Corpus.split(count: corpus.text.count, valFraction: 0.05, testFraction: 0.05)
/// let run = TrainingRun(
///   trainer: trainer, vocabulary: corpus.vocabulary, validation: corpus.text[split.validation],
///   test: corpus.text[split.test], schedule: RunSchedule(), folder: "checkpoints", record: record)
/// let outcome = try run.run { event in if case .progress(let p) = event { print(p.step, p.loss) } }
/// ```
public struct TrainingRun {
  /// Batches skipped in a row (`NonFinitePolicy.skip`) after which the run stops.
  public static let maxConsecutiveSkips = 100

  public let trainer: Trainer
  public let vocabulary: Vocabulary
  /// Held-out text scored at each validation (empty: no validation).
  public let validation: TokenIDs
  /// Held-out text scored once at the end (empty: none).
  public let test: TokenIDs
  public let schedule: RunSchedule
  /// Where the run keeps its checkpoints, samples and metrics (`keep` is the schedule's).
  public let folder: RunFolder
  /// The run's id, model and data, kept in its training states (the id in its checkpoints too).
  public let record: RunRecord
  /// Whether the run continues a saved one (the metrics log is then kept up to its step).
  public let resumed: Bool

  /// Whether this process writes files: rank 0 of a data-parallel run, or a run alone.
  public var isWriter: Bool { (trainer.dataParallel?.communicator.rank ?? 0) == 0 }
  /// The step the run ends after.
  public var lastStep: Int { schedule.lastStep(batchesPerEpoch: trainer.batches.batchesPerEpoch) }

  public init(
    trainer: Trainer, vocabulary: Vocabulary, validation: TokenIDs, test: TokenIDs, schedule: RunSchedule,
    folder: String, record: RunRecord, resumed: Bool = false
  ) {
    self.trainer = trainer
    self.vocabulary = vocabulary
    self.validation = validation
    self.test = test
    self.schedule = schedule
    self.folder = RunFolder(folder, keep: schedule.keepCheckpoints)
    self.record = record
    self.resumed = resumed
  }

  /// Trains to the last step, or until `stopRequested` (asked after each step, and during a
  /// validation's sample) says so on any rank; reports each event to `onEvent` as it happens (an
  /// error it throws ends the run).
  /// Throws `TrainingError` when the model diverges, `RunFolderError` and `SafeTensorsError` when
  /// a file cannot be written, `CUDAError` from the GPU, `DataParallelError` from the ranks.
  @discardableResult
  public func run(
    onEvent: (TrainingEvent) throws -> Void = { _ in }, stopRequested: () -> Bool = { false }
  ) throws -> TrainingOutcome {
    let lastStep = lastStep
    guard trainer.progress.step < lastStep else { return .nothingToDo(step: trainer.progress.step, lastStep: lastStep) }
    let metrics =
      isWriter ? try MetricsLog(folder: folder.path, resumingAt: resumed ? trainer.progress.step : nil) : nil
    let tokensPerStep = Double(trainer.config.batchSize * trainer.config.seqLength)
    var windowStart = monotonicSeconds()
    var windowCommunication = (total: trainer.communicationSeconds, waiting: trainer.waitingSeconds)
    var windowSteps = 0
    var windowLoss = 0.0
    var skippedInARow = 0
    var savedStep: Int? = nil
    while trainer.progress.step < lastStep {
      let step = trainer.progress.step + 1
      do {
        let report = try trainer.step()
        skippedInARow = 0
        windowSteps += 1
        windowLoss += Double(report.loss)
        if schedule.reports(step, lastStep: lastStep) {
          let secondsPerStep = (monotonicSeconds() - windowStart) / Double(windowSteps)
          let allreduce =
            trainer.dataParallel == nil
            ? nil
            : AllreduceTime(
              secondsPerStep: (trainer.communicationSeconds - windowCommunication.total) / Double(windowSteps),
              waitingPerStep: (trainer.waitingSeconds - windowCommunication.waiting) / Double(windowSteps))
          let progress = TrainingProgressReport(
            step: step, lastStep: lastStep,
            epoch: Double(trainer.progress.epoch)
              + Double(trainer.progress.batch) / Double(trainer.batches.batchesPerEpoch),
            loss: windowLoss / Double(windowSteps), gradientNorm: report.gradientNorm,
            learningRate: report.learningRate, tokensPerSecond: tokensPerStep / secondsPerStep,
            secondsPerStep: secondsPerStep, streams: trainer.balance?.counts, allreduce: allreduce)
          try onEvent(.progress(progress))
          try metrics?.progress(progress)
          windowStart = monotonicSeconds()
          windowCommunication = (trainer.communicationSeconds, trainer.waitingSeconds)
          windowSteps = 0
          windowLoss = 0
        }
      } catch TrainingError.diverged(let step, let loss) where schedule.onNonfinite == .skip {
        try trainer.skipBatch()
        skippedInARow += 1
        try onEvent(.skipped(step: step, loss: loss, inARow: skippedInARow))
        guard skippedInARow < Self.maxConsecutiveSkips else {
          throw TrainingError.tooManySkipped(step: step, count: skippedInARow)
        }
      }
      let pause = monotonicSeconds()
      if schedule.validates(step, lastStep: lastStep) {
        try validate(metrics, stopRequested: stopRequested, onEvent: onEvent)
      }
      if schedule.saves(step, lastStep: lastStep) {
        try saveLatest()
        savedStep = step
      }
      let stop = stopRequested()
      if try trainer.dataParallel?.communicator.any(stop) ?? stop {
        if savedStep != step { try saveLatest() }
        return .stopped(step: step)
      }
      windowStart += monotonicSeconds() - pause  // tokens per second count training time only
    }
    return .finished(testLoss: test.isEmpty ? nil : try meanLoss(test))
  }
}
