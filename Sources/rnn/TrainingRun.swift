import ArgumentParser
import Foundation
import RNN

/// The loop of `rnn train`: steps, progress lines, validation with a sample, checkpoints, the
/// metrics log; SIGINT and SIGTERM stop it after the current step with `latest.safetensors` saved.
struct TrainingRun {
  /// Batches skipped in a row (`--on-nonfinite skip`) after which the run stops.
  static let maxConsecutiveSkips = 100

  let trainer: Trainer
  let vocabulary: Vocabulary
  let validation: TokenIDs
  let test: TokenIDs
  let options: Train
  /// Whether the run continues a saved one (the metrics log is then appended to).
  let resumed: Bool
  /// The run's id, model and data, kept in its training states (the id in its checkpoints too).
  let record: RunRecord
  /// Status line on a terminal, log lines into a pipe; `--quiet` / `--verbose`.
  let output: ProgressOutput

  private var checkpointEvery: Int { options.checkpointEvery ?? options.evalEvery }
  private var folder: RunFolder { RunFolder(options.checkpointDir, keep: options.keepCheckpoints) }
  private var latestPath: String { folder.latest }
  private var bestPath: String { folder.best }
  /// Whether this process writes files: rank 0 of a data-parallel run, or a run alone.
  private var isWriter: Bool { (trainer.dataParallel?.communicator.rank ?? 0) == 0 }

  /// The last step: `--max-steps`, or the end of `--max-epochs`, whichever comes first.
  private var lastStep: Int {
    let (product, overflow) = options.maxEpochs.multipliedReportingOverflow(by: trainer.batches.batchesPerEpoch)
    let byEpochs = overflow ? Int.max : product
    return min(options.maxSteps ?? byEpochs, byEpochs)
  }

  func run() throws {
    defer { output.clearStatus() }  // an error message or the shell prompt starts on its own line
    let model = trainer.model
    let config = model.config
    let tokensPerStep = trainer.config.batchSize * trainer.config.seqLength
    output.log(
      "Model: \(config.layers) x \(config.cell.rawValue) \(config.hidden), embedding \(config.embedding), "
        + "vocabulary \(config.vocabularySize), \(model.parameters.layout.parameterCount) parameters; "
        + "\(trainer.batches.batchesPerEpoch) batches of \(trainer.config.batchSize) x \(trainer.config.seqLength) per epoch; "
        + "matrix products: \(BLAS.productDescription).")
    guard trainer.progress.step < lastStep else {
      output.log("Nothing to do: step \(trainer.progress.step) already reached the last step \(lastStep).")
      return
    }
    let metrics =
      isWriter ? try MetricsLog(folder: options.checkpointDir, resumingAt: resumed ? trainer.progress.step : nil) : nil
    StopRequest.install()
    var windowStart = now()
    var windowSteps = 0
    var windowLoss = 0.0
    var secondsPerStep = 0.0
    var skippedInARow = 0
    var savedStep: Int? = nil
    while trainer.progress.step < lastStep {
      let step = trainer.progress.step + 1
      do {
        let report = try trainer.step()
        skippedInARow = 0
        windowSteps += 1
        windowLoss += Double(report.loss)
        if step % options.printEvery == 0 || step == lastStep {
          let elapsed = now() - windowStart
          secondsPerStep = elapsed / Double(windowSteps)
          let epoch = Double(trainer.progress.epoch) + Double(trainer.progress.batch) / Double(trainer.batches.batchesPerEpoch)
          let loss = windowLoss / Double(windowSteps)
          let tokensPerSecond = Double(tokensPerStep) / secondsPerStep
          let details =
            output.verbosity == .verbose
            ? "| grad norm \(fixed(Double(report.gradientNorm), 2)) | lr \(report.learningRate) " : ""
          // Once a stop is asked for, the terminal gets only the stop message: `mpirun` stops
          // reading its ranks' output when it passes on a Ctrl-C, and a status line written into
          // the full pipe would block rank 0 (and the others, in the next sum) until it kills them.
          if StopRequest.received == nil {
            output.status(
              "step \(step)/\(lastStep) | epoch \(fixed(epoch, 2)) | loss \(fixed(loss, 4)) " + details
                + "| \(thousands(tokensPerSecond)) tok/s | \(formatDuration(secondsPerStep * Double(lastStep - step))) left")
          }
          try metrics?.progress(
            step: step, epoch: epoch, trainLoss: loss, learningRate: report.learningRate,
            gradNorm: report.gradientNorm, tokensPerSecond: tokensPerSecond)
          windowStart = now()
          windowSteps = 0
          windowLoss = 0
        }
      } catch TrainingError.diverged(let step, let loss) where options.onNonfinite == .skip {
        try trainer.skipBatch()
        skippedInARow += 1
        output.log("step \(step) | loss \(loss) or a gradient is not finite: batch skipped (\(skippedInARow) in a row)")
        guard skippedInARow < Self.maxConsecutiveSkips else {
          throw TrainingError.tooManySkipped(step: step, count: skippedInARow)
        }
      }
      let pause = now()
      if step % options.evalEvery == 0 || step == lastStep { try validate(metrics) }
      if step % checkpointEvery == 0 || step == lastStep {
        try saveLatest()
        savedStep = step
      }
      if let signal = try Distributed.stopSignal(trainer.dataParallel?.communicator) {
        if savedStep != step { try saveLatest() }
        output.log(
          "Stopped by \(StopRequest.name(signal)) after step \(step): saved \(latestPath); "
            + "resume with: \(resumeCommand())")
        throw ExitCode(128 + signal)
      }
      windowStart += now() - pause  // tokens per second count training time only
    }
    if !test.isEmpty {
      let loss = try meanLoss(test)
      output.log("Test loss: \(fixed(loss, 4)) nats/char (\(fixed(loss / log(2), 4)) bits/char) over \(test.count) characters.")
    }
    output.log("Saved \(latestPath)\(FileManager.default.fileExists(atPath: bestPath) ? " and \(bestPath)" : "").")
  }

  /// Validation loss, best checkpoint, and a sample (printed and kept in `samples/step-<N>.txt`).
  private func validate(_ metrics: MetricsLog?) throws {
    let step = trainer.progress.step
    guard !validation.isEmpty else { return }
    try onGPU { () throws(CUDAError) in try trainer.synchronize() }
    let loss = try meanLoss(validation)
    try metrics?.validation(step: step, loss: loss)
    var line = "step \(step) | validation loss \(fixed(loss, 4)) (\(fixed(loss / log(2), 3)) bits/char)"
    let best = trainer.recordValidation(loss)  // on every rank: each keeps the same progress
    guard isWriter else { return }
    if best {
      guard trainer.isFinite else { throw TrainingError.nonFiniteState(step: step) }
      try folder.saveBest(Checkpoint(model: trainer.model, vocabulary: vocabulary, step: step, run: record.id))
      line += " | best so far, saved \(bestPath)"
    }
    output.log(line)
    guard options.sampleLength > 0 else { return }
    var generator = RandomGenerator(seed: UInt64(step))
    var sample: [UInt8] = []
    // A stop request ends the sample where it got to (it may be 100,000 characters long).
    struct Stopped: Error {}
    _ = try? generate(
      model: trainer.model, vocabulary: vocabulary, prime: [], length: options.sampleLength, options: SamplingOptions(),
      gpu: trainer.gpu?.device, using: &generator
    ) { bytes in
      sample += bytes
      if StopRequest.received != nil { throw Stopped() }
    }
    // The file gets the bytes as sampled; the log, text (a byte-level model's ill-formed UTF-8 as U+FFFD).
    output.detail("---- sample at step \(step) ----\n\(String(decoding: sample, as: UTF8.self))\n----")
    try folder.saveSample(sample, step: step)
  }

  /// Mean loss (nats/char) of held-out text, read as `B` streams like training batches.
  /// With several ranks, each scores its share of the streams and the ranks sum.
  private func meanLoss(_ tokens: TokenIDs) throws -> Double {
    let batch = max(1, min(trainer.config.batchSize, tokens.count / (trainer.config.seqLength + 1)))
    let chunk = trainer.config.seqLength
    let (nats, count) =
      if let gpu = trainer.gpu {
        try onGPU { () throws(CUDAError) in try gpu.loss(of: tokens, batch: batch, chunk: chunk) }
      } else {
        try trainer.dataParallel?.communicator.loss(of: trainer.model, tokens, batch: batch, chunk: chunk)
          ?? trainer.model.loss(of: tokens, batch: batch, chunk: chunk)
      }
    return count > 0 ? nats / Double(count) : .nan
  }

  /// Saves the run as `latest` (and `step-<N>` with `--keep-checkpoints` above 1; see
  /// `RunFolder.save`). Refuses to write anything that is not finite.
  private func saveLatest() throws {
    let step = trainer.progress.step
    try onGPU { () throws(CUDAError) in try trainer.synchronize() }
    let wholeState = try trainer.wholeState()  // every rank takes part; rank 0 writes
    guard isWriter else { return }
    guard trainer.isFinite else { throw TrainingError.nonFiniteState(step: step) }
    let state = TrainingState(
      config: trainer.config, progress: trainer.progress, optimizer: trainer.optimizer, state: wholeState,
      data: TrainingState.fingerprint(trainer.batches.tokens), run: record)
    try folder.save(Checkpoint(model: trainer.model, vocabulary: vocabulary, step: step, run: record.id), state: state, step: step)
  }

  /// The command that continues this run: the arguments it was started with, with `--resume`
  /// pointing at `latest.safetensors` in place of any `--resume` or `--init-from`.
  private func resumeCommand() -> String {
    var arguments = Array(CommandLine.arguments.dropFirst())
    guard let train = arguments.firstIndex(of: "train") else { return "rnn train --resume \(latestPath) ..." }
    arguments.removeSubrange(...train)
    var kept: [String] = []
    var i = 0
    while i < arguments.count {
      let argument = arguments[i]
      if argument == "--resume" || argument == "--init-from" {
        i += 2
        continue
      }
      if !argument.hasPrefix("--resume="), !argument.hasPrefix("--init-from=") { kept.append(argument) }
      i += 1
    }
    return (["rnn", "train", "--resume", latestPath] + kept).map(shellQuoted).joined(separator: " ")
  }

  private func shellQuoted(_ word: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=+:,@%")
    guard word.isEmpty || !word.allSatisfy(safe.contains) else { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }
}
