import ArgumentParser
import RNN

extension NonFinitePolicy: ExpressibleByArgument {}

/// The options of `rnn train` that make its `RunSchedule`: length, reporting, validation and
/// saving. The defaults are `RunSchedule()`'s.
struct RunScheduleOptions: ParsableArguments {
  @Option(parsing: .unconditional, help: "Stop after this many updates in all (a resumed run continues up to it).")
  var maxSteps: Int?
  @Option(parsing: .unconditional, help: "Stop after this many passes over the training text.")
  var maxEpochs = RunSchedule().maxEpochs
  @Option(parsing: .unconditional, help: "Validate (and print a sample) every this many steps.")
  var evalEvery = RunSchedule().evalEvery
  @Option(parsing: .unconditional, help: "Save latest.safetensors every this many steps (default: --eval-every).")
  var checkpointEvery: Int?
  @Option(
    parsing: .unconditional,
    help: "Besides latest.safetensors, keep step-<N>.safetensors of the last K saves (1: latest only).")
  var keepCheckpoints = RunSchedule().keepCheckpoints
  @Option(parsing: .unconditional, help: "Report progress every this many steps.")
  var printEvery = RunSchedule().printEvery
  @Option(
    parsing: .unconditional, help: "Characters in the sample printed at each validation (0: none; at most 100000).")
  var sampleLength = RunSchedule().sampleLength
  @Option(
    help: """
      When a batch's loss or gradient is NaN or infinite: stop, or skip the batch (no update; the carried state \
      restarts at zero) and stop after \(TrainingRun.maxConsecutiveSkips) in a row.
      """)
  var onNonfinite = RunSchedule().onNonfinite

  func validate() throws {
    try requirePositive(keepCheckpoints, "keep-checkpoints")
    try requirePositive(maxEpochs, "max-epochs")
    try requirePositive(evalEvery, "eval-every")
    try requirePositive(printEvery, "print-every")
    if let maxSteps { try requirePositive(maxSteps, "max-steps") }
    if let checkpointEvery { try requirePositive(checkpointEvery, "checkpoint-every") }
    try requireWithin(0...100_000, sampleLength, "sample-length")
  }

  /// The schedule the options give.
  var schedule: RunSchedule {
    var schedule = RunSchedule()
    schedule.maxSteps = maxSteps
    schedule.maxEpochs = maxEpochs
    schedule.evalEvery = evalEvery
    schedule.checkpointEvery = checkpointEvery
    schedule.keepCheckpoints = keepCheckpoints
    schedule.printEvery = printEvery
    schedule.sampleLength = sampleLength
    schedule.onNonfinite = onNonfinite
    return schedule
  }
}
