import Foundation
import RNN

/// The loop of `rnn train`: steps, progress lines, validation with a sample, checkpoints.
struct TrainingRun {
  let trainer: Trainer
  let vocabulary: Vocabulary
  let validation: ArraySlice<Int32>
  let test: ArraySlice<Int32>
  let options: Train

  private var checkpointEvery: Int { options.checkpointEvery ?? options.evalEvery }
  private var latestPath: String { options.checkpointDir + "/latest.safetensors" }
  private var bestPath: String { options.checkpointDir + "/best.safetensors" }

  /// The last step: `--max-steps`, or the end of `--max-epochs`, whichever comes first.
  private var lastStep: Int {
    let byEpochs = options.maxEpochs * trainer.batches.batchesPerEpoch
    return min(options.maxSteps ?? byEpochs, byEpochs)
  }

  func run() throws {
    let model = trainer.model
    let config = model.config
    let tokensPerStep = trainer.config.batchSize * trainer.config.seqLength
    say(
      "Model: \(config.layers) x \(config.cell.rawValue) \(config.hidden), embedding \(config.embedding), "
        + "vocabulary \(config.vocabularySize), \(parameterCount(model)) parameters; "
        + "\(trainer.batches.batchesPerEpoch) batches of \(trainer.config.batchSize) x \(trainer.config.seqLength) per epoch; "
        + "matrix products: \(BLAS.description).")
    guard trainer.progress.step < lastStep else {
      say("Nothing to do: step \(trainer.progress.step) already reached the last step \(lastStep).")
      return
    }
    var windowStart = now()
    var windowSteps = 0
    var windowLoss = 0.0
    var secondsPerStep = 0.0
    while trainer.progress.step < lastStep {
      let report = try trainer.step()
      let step = trainer.progress.step
      windowSteps += 1
      windowLoss += Double(report.loss)
      if step % options.printEvery == 0 || step == lastStep {
        let elapsed = now() - windowStart
        secondsPerStep = elapsed / Double(windowSteps)
        let epoch = Double(trainer.progress.epoch) + Double(trainer.progress.batch) / Double(trainer.batches.batchesPerEpoch)
        say(
          "step \(step)/\(lastStep) | epoch \(fixed(epoch, 2)) | loss \(fixed(windowLoss / Double(windowSteps), 4)) "
            + "| grad norm \(fixed(Double(report.gradientNorm), 2)) | lr \(report.learningRate) "
            + "| \(thousands(Double(tokensPerStep) / secondsPerStep)) tok/s | \(formatDuration(secondsPerStep * Double(lastStep - step))) left")
        windowStart = now()
        windowSteps = 0
        windowLoss = 0
      }
      let pause = now()
      if step % options.evalEvery == 0 || step == lastStep { try validate() }
      if step % checkpointEvery == 0 || step == lastStep { try saveLatest() }
      windowStart += now() - pause  // tokens per second count training time only
    }
    if !test.isEmpty {
      let loss = meanLoss(test)
      say("Test loss: \(fixed(loss, 4)) nats/char (\(fixed(loss / log(2), 4)) bits/char) over \(test.count) characters.")
    }
    say("Saved \(latestPath)\(FileManager.default.fileExists(atPath: bestPath) ? " and \(bestPath)" : "").")
  }

  /// Validation loss, best checkpoint, and a sample.
  private func validate() throws {
    let step = trainer.progress.step
    guard !validation.isEmpty else { return }
    let loss = meanLoss(validation)
    var line = "step \(step) | validation loss \(fixed(loss, 4)) (\(fixed(loss / log(2), 3)) bits/char)"
    if trainer.recordValidation(loss) {
      try Checkpoint(model: trainer.model, vocabulary: vocabulary, step: step).write(to: bestPath)
      line += " | best so far, saved \(bestPath)"
    }
    say(line)
    guard options.sampleLength > 0 else { return }
    var generator = RandomGenerator(seed: UInt64(step))
    var text = ""
    generate(
      model: trainer.model, vocabulary: vocabulary, prime: [], length: options.sampleLength, options: SamplingOptions(),
      using: &generator
    ) { text += $0 }
    say("---- sample at step \(step) ----\n\(text)\n----")
  }

  /// Mean loss (nats/char) of held-out text, read as `B` streams like training batches.
  private func meanLoss(_ tokens: ArraySlice<Int32>) -> Double {
    let batch = max(1, min(trainer.config.batchSize, tokens.count / (trainer.config.seqLength + 1)))
    let (nats, count) = trainer.model.loss(of: tokens, batch: batch, chunk: trainer.config.seqLength)
    return count > 0 ? nats / Double(count) : .nan
  }

  /// Writes the training state, then the model (each atomically).
  private func saveLatest() throws {
    let state = TrainingState(
      config: trainer.config, progress: trainer.progress, optimizer: trainer.optimizer, state: trainer.state,
      data: TrainingState.fingerprint(trainer.batches.tokens))
    try state.write(to: TrainingState.path(besides: latestPath))
    try Checkpoint(model: trainer.model, vocabulary: vocabulary, step: trainer.progress.step).write(to: latestPath)
  }

  private func parameterCount(_ model: CharLM) -> Int {
    model.parameters.layout.entries.reduce(0) { $0 + $1.ref.count }
  }
}
