extension TrainingRun {
  /// Validation loss, the best checkpoint, and a sample (kept in `samples/step-<N>.txt`); a stop
  /// request ends the sample where it got to (it may be 100,000 characters long).
  func validate(
    _ metrics: MetricsLog?, stopRequested: () -> Bool, onEvent: (TrainingEvent) throws -> Void
  ) throws {
    let step = trainer.progress.step
    guard !validation.isEmpty else { return }
    try trainer.synchronize()
    let loss = try meanLoss(validation)
    try metrics?.validation(step: step, loss: loss)
    let best = trainer.recordValidation(loss)  // on every rank: each keeps the same progress
    guard isWriter else { return }
    if best {
      guard trainer.isFinite else { throw TrainingError.nonFiniteState(step: step) }
      try folder.saveBest(Checkpoint(model: trainer.model, vocabulary: vocabulary, step: step, run: record.id))
    }
    try onEvent(.validated(step: step, loss: loss, best: best))
    guard schedule.sampleLength > 0 else { return }
    var generator = RandomGenerator(seed: UInt64(step))
    var sample: [UInt8] = []
    struct Stopped: Error {}
    _ = try? sampler().generate(
      vocabulary: vocabulary, prime: [], length: schedule.sampleLength, options: SamplingOptions(),
      chunk: trainer.gpu == nil ? 1 : 256, using: &generator
    ) { bytes in
      sample += bytes
      if stopRequested() { throw Stopped() }
    }
    try onEvent(.sampled(step: step, bytes: sample))
    try folder.saveSample(sample, step: step)
  }

  /// A sampler of the model where it trains: on its GPU, or on the CPU in fp32.
  private func sampler() throws -> any TextSampler {
    guard let gpu = trainer.gpu else { return Sampler(model: trainer.model) }
    return try CUDASampler(model: trainer.model, on: gpu.device)
  }

  /// Mean loss (nats/char) of held-out text, read as `B` streams like training batches.
  /// With several ranks, each scores its share of the streams and the ranks sum.
  func meanLoss(_ tokens: TokenIDs) throws -> Double {
    let batch = max(1, min(trainer.config.batchSize, tokens.count / (trainer.config.seqLength + 1)))
    let chunk = trainer.config.seqLength
    let (nats, count) =
      if let gpu = trainer.gpu {
        try gpu.loss(of: tokens, batch: batch, chunk: chunk)
      } else {
        try trainer.dataParallel?.communicator.loss(of: trainer.model, tokens, batch: batch, chunk: chunk)
          ?? trainer.model.loss(of: tokens, batch: batch, chunk: chunk)
      }
    return count > 0 ? nats / Double(count) : .nan
  }

  /// Saves the run as `latest` (and `step-<N>` when the schedule keeps more than one; see
  /// `RunFolder.save`). Refuses to write anything that is not finite.
  func saveLatest() throws {
    let step = trainer.progress.step
    try trainer.synchronize()
    let wholeState = try trainer.wholeState()  // every rank takes part; rank 0 writes
    try trainer.gatherOptimizer()
    guard isWriter else { return }
    guard trainer.isFinite else { throw TrainingError.nonFiniteState(step: step) }
    let state = TrainingState(
      config: trainer.config, progress: trainer.progress, optimizer: trainer.optimizer, state: wholeState,
      data: TrainingState.fingerprint(trainer.batches.tokens), run: record)
    try folder.save(
      Checkpoint(model: trainer.model, vocabulary: vocabulary, step: step, run: record.id), state: state, step: step)
  }
}
