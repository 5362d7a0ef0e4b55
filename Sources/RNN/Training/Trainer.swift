import CKernels

/// Trains a `CharLM` on batches of text with truncated backpropagation through time: the
/// hidden state carries from batch to batch within an epoch and restarts at zero with each epoch.
///
/// A batch whose loss or gradients are not finite makes `step()` throw `TrainingError.diverged`
/// with nothing changed; the caller either stops or calls `skipBatch()` to move past it.
///
/// With `dataParallel`, this is one rank of several: it trains its share of each batch's streams
/// (with the same dropout masks those rows get in one process), the ranks sum their gradients and
/// losses, and every rank makes the same update: the same run as one process, up to the order of
/// summation. The shares start equal; with `balancesStreams`, streams then move to the ranks
/// that finish their work sooner (`StreamBalance`), their carried state with them.
public final class Trainer {
  public let model: CharLM
  public let config: TrainConfig
  public let batches: BatchIterator
  /// The ranks this trainer is one of, or nil when it trains alone.
  public let dataParallel: DataParallel?
  public private(set) var optimizer: Optimizer
  public private(set) var progress: TrainingProgress
  /// The state carried into the next batch, one per layer: this rank's rows `share.streams` of `[B,H]`.
  public private(set) var state: [RecurrentState]
  /// How the ranks divide the batch's streams now, or nil when this trainer trains alone.
  public private(set) var balance: StreamBalance?
  /// Seconds spent summing gradients and losses across ranks (and moving carried state between
  /// them), with the time waited for other ranks in the shared product, over all steps so far.
  public private(set) var communicationSeconds = 0.0
  /// Of `communicationSeconds`, the part spent waiting for other ranks: in the shared product
  /// (`sharedProduct`), for them to reach it, and at the gradient sum, for the slowest rank to
  /// reach it: at each step, the slowest rank's seconds until the sum minus this rank's (the ranks
  /// start a step together, and their seconds travel with the loss), at most the time the sums
  /// took. The rest is the transfer.
  public private(set) var waitingSeconds = 0.0
  /// The bottom recurrent layer's `W_hh` gradient, made by the ranks on each machine together
  /// (after the first step, where the gradients are summed through shared memory), or nil.
  public private(set) var sharedProduct: SharedWeightGradient?
  /// The update, made by the ranks on each machine together, each on its part of one copy of the
  /// parameters (from the first step on, where the gradients are summed through shared memory), or
  /// nil. Where it is set, `optimizer`'s buffers are current only in this rank's part between
  /// `gatherOptimizer()` calls.
  public private(set) var sharedUpdate: SharedUpdate?
  /// Whether the ranks have tried to share that product and the update (every rank decides at its first sum).
  private var sharingTried = false
  /// The GPU this trainer trains on (after `move(to:)`), or nil on the CPU. There the model's
  /// parameters, the optimizer and the carried state live on the GPU; `synchronize()` copies
  /// them back to `model`, `optimizer` and `state`.
  public private(set) var gpu: CUDALanguageModel?
  /// The step whose parameters, optimizer and state `model`, `optimizer` and `state` hold while
  /// training runs on the GPU.
  private var synchronizedStep: Int?

  /// The rows of each batch this trainer trains.
  public var share: BatchShare {
    guard let dataParallel, let balance else { return BatchShare(whole: config.batchSize) }
    return balance.share(of: dataParallel.communicator.rank)
  }

  /// What one update did.
  public struct StepReport: Sendable {
    /// Mean loss over the batch, nats per character.
    public var loss: Float
    /// Global gradient norm before clipping.
    public var gradientNorm: Float
    /// Learning rate used.
    public var learningRate: Float
  }

  /// A new run from the model's current parameters (the same on every rank).
  public convenience init(
    model: CharLM, batches: BatchIterator, config: TrainConfig, dataParallel: DataParallel? = nil
  ) {
    self.init(
      model: model, batches: batches, config: config,
      optimizer: Optimizer(config.optimizer, parameterCount: model.parameters.count),
      progress: TrainingProgress(seed: config.seed), state: model.zeroState(batch: config.batchSize),
      dataParallel: dataParallel)
  }

  /// A run resumed from saved optimizer state, progress and carried state (`[B,H]` per layer, the
  /// whole batch's; a rank keeps its rows).
  public init(
    model: CharLM, batches: BatchIterator, config: TrainConfig, optimizer: Optimizer, progress: TrainingProgress,
    state: [RecurrentState], dataParallel: DataParallel? = nil
  ) {
    require(
      dataParallel.map { $0.equalShares.total == config.batchSize } ?? true, "data-parallel share of another batch size"
    )
    self.model = model
    self.config = config
    self.batches = batches
    self.dataParallel = dataParallel
    self.optimizer = optimizer
    self.progress = progress
    self.balance = dataParallel?.equalShares
    self.state = state
    if dataParallel != nil { self.state = state.map { $0.rows(share.streams) } }
  }

  /// Moves training to `device`: the parameters, optimizer buffers and carried state are copied
  /// there, and every later step runs there. Not with several ranks; the optimizer's
  /// hyperparameters must be the defaults, which the GPU's kernels use.
  public func move(to device: CUDADevice) throws(CUDAError) {
    require(dataParallel == nil, "GPU training with several ranks")
    guard optimizer.hyperparameters == Optimizer.Hyperparameters() else {
      throw CUDAError(
        "the GPU's optimizers run the default hyperparameters only; these are \(optimizer.hyperparameters)")
    }
    let gpu = try CUDALanguageModel(model, optimizer: optimizer.kind, on: device)
    try gpu.upload(optimizer)
    try gpu.setTrainingState(state, time: config.seqLength)
    self.gpu = gpu
    synchronizedStep = progress.step
  }

  /// Copies the GPU's parameters, optimizer buffers and carried state back into `model`,
  /// `optimizer` and `state` (before validating on the CPU, sampling or saving). Nothing to do on
  /// the CPU, or when nothing has changed since the last copy.
  public func synchronize() throws(CUDAError) {
    guard let gpu, synchronizedStep != progress.step else { return }
    try gpu.download(into: model.parameters)
    let buffers = try gpu.downloadOptimizerBuffers()
    optimizer = try! Optimizer(
      optimizer.kind, steps: optimizer.steps, buffers: buffers, parameterCount: model.parameters.count,
      hyperparameters: optimizer.hyperparameters)
    state = try gpu.trainingState(batch: config.batchSize)
    synchronizedStep = progress.step
  }

  /// The carried state of the whole batch, `[B,H]` per layer, as a checkpoint records it: with
  /// several ranks, gathered from all of them (every rank must call it at the same point).
  public func wholeState() throws(DataParallelError) -> [RecurrentState] {
    guard let dataParallel else { return state }
    return try dataParallel.communicator.gather(state, share: share)
  }

  /// Makes `optimizer`'s buffers whole on every rank, as a checkpoint records them: where the ranks
  /// share the update (`sharedUpdate`), each rank's are current only in its part, so each rank
  /// contributes its part and the ranks sum (exact: one non-zero term each). Every rank must call
  /// it at the same point.
  public func gatherOptimizer() throws(DataParallelError) {
    guard let dataParallel, let sharedUpdate else { return }
    var buffers: [String: [Float]] = [:]
    for name in optimizer.kind.bufferNames {  // in the same order on every rank
      var whole = sharedUpdate.ownPart(of: optimizer.buffers[name]!)
      try whole.withUnsafeMutableBufferPointer { (buffer) throws(DataParallelError) in
        try dataParallel.communicator.sum(buffer)
      }
      buffers[name] = whole
    }
    optimizer = try! Optimizer(
      optimizer.kind, steps: optimizer.steps, buffers: buffers, parameterCount: model.parameters.count,
      hyperparameters: optimizer.hyperparameters)
  }

  /// The learning rate of the current epoch.
  public var learningRate: Float { config.learningRate(epoch: progress.epoch) }

  /// Trains on the next batch: forward, backward, clipping, one optimizer update. If the loss or
  /// a gradient is not finite, throws `TrainingError.diverged` and changes nothing.
  @discardableResult
  public func step() throws -> StepReport {
    if let gpu { return try step(on: gpu) }
    let started = ContinuousClock.now
    let share = share
    if progress.batch == 0 { state = model.zeroState(batch: share.streams.count) }
    let (inputs, targets) = batches.batch(progress.batch, streams: share.streams)
    var generator = RandomGenerator(
      state: (progress.generator[0], progress.generator[1], progress.generator[2], progress.generator[3]))

    let backend = model.parameters.backend
    model.parameters.zeroGradients()
    backend.holdConstant(model.parameters)  // with bf16 products: the weights rounded once for the step
    let tape = Tape(backend: backend)
    let initial = state.map { StateVariables($0, on: tape) }
    // A rank's mean is over its rows; weighted by rows/B, the ranks' sum is the batch's mean.
    let weight = Float(share.streams.count) / Float(share.total)
    // Forward and backward as one region (on the CPU, signals wait for its end: one hold for all their products).
    let (final, lossVariable) = backend.uninterrupted {
      let (logits, final) = withUnsafeMutablePointer(to: &generator) {
        model(
          inputs, time: config.seqLength, batch: share.streams.count, state: initial, on: tape, dropout: $0,
          share: share)
      }
      let lossVariable = tape.softmaxCrossEntropy(logits, targets: targets)
      tape.backward(from: lossVariable, seed: weight)
      return (final, lossVariable)
    }
    var loss = tape[lossVariable].scalars[0]
    backend.releaseConstant(model.parameters)
    // Each rank's seconds of work on its streams, when the shares follow them.
    var workSeconds: [Double]?
    // The norm of the summed gradients, where the ranks share the update (nil if not finite).
    var sharedNorm: Float?
    if let dataParallel {
      let (communicator, worked, start) = (dataParallel.communicator, seconds(since: started), ContinuousClock.now)
      if let sharedUpdate {
        try sharedUpdate.sumGradients()
      } else {
        try communicator.sumGradients(of: model.parameters)
      }
      let product = sharedProduct?.report ?? SharedWeightGradient.Report()
      try shareWork(communicator)
      let measuring = ContinuousClock.now
      let normTerms = sharedUpdate?.normTerms(of: model.parameters, clipValue: config.gradClipValue) ?? []
      let measured = seconds(since: measuring)
      // The loss, then each rank's seconds until the sum and of its own work, each in its own
      // slot: sums with one non-zero term, exact; then the norm's terms.
      let ranks = communicator.size
      let slots = (0..<2 * ranks).map {
        $0 == communicator.rank ? worked : $0 == ranks + communicator.rank ? product.ownWork(of: worked) : 0
      }
      let totals = try communicator.sum([Double(loss * weight)] + slots + normTerms)
      loss = Float(totals[0])
      sharedNorm = sharedUpdate?.norm(from: totals[(2 * ranks + 1)...])
      let (ranksArrival, communicated) = (totals[1...ranks], seconds(since: start) - measured)
      // The slowest rank's seconds less this rank's: the wait in the sums (at most what they took);
      // and the wait in the shared product.
      waitingSeconds += min(ranksArrival.max()! - worked, communicated) + product.idleSeconds
      if dataParallel.balancesStreams { workSeconds = Array(totals[(ranks + 1)...(2 * ranks)]) }
      communicationSeconds += communicated + product.idleSeconds
    }
    let diverged = TrainingError.diverged(step: progress.step + 1, loss: loss)
    guard loss.isFinite else { throw diverged }
    // The norm after `gradClipValue` clamped the gradients: from the shared update's sums, which
    // clamped and measured part by part, or here, over the whole buffer.
    let clampedNorm =
      sharedUpdate != nil ? sharedNorm : model.parameters.finiteGradientNorm(afterClampingTo: config.gradClipValue)
    guard let norm = clampedNorm else { throw diverged }
    let part = sharedUpdate?.part
    if config.gradClip > 0 { model.parameters.clipGradientNorm(config.gradClip, norm: norm, in: part) }
    let rate = learningRate
    optimizer.step(model.parameters, learningRate: rate, part: part)
    if let sharedUpdate {
      let start = ContinuousClock.now
      try sharedUpdate.finish()
      communicationSeconds += seconds(since: start)
    }

    state = final.map { $0.values(on: tape) }
    progress.generator = [generator.state.0, generator.state.1, generator.state.2, generator.state.3]
    advance()
    if let workSeconds { try rebalance(workSeconds) }
    return StepReport(loss: loss, gradientNorm: norm, learningRate: rate)
  }

  /// At the first sum, has the ranks on each machine share the update from this step on and make
  /// the bottom layer's `W_hh` gradient together from the next, where they can
  /// (`Communicator.shareUpdate`, `Communicator.shareWeightGradient`).
  private func shareWork(_ communicator: Communicator) throws(DataParallelError) {
    guard !sharingTried else { return }
    sharingTried = true
    sharedUpdate = try communicator.shareUpdate(of: model.parameters)
    guard let bottom = model.layers.first, bottom.cell.hasHiddenWeights else { return }
    sharedProduct = communicator.shareWeightGradient(
      of: bottom.weightHH, in: model.parameters, rows: config.seqLength * config.batchSize)
  }

  /// Records the ranks' seconds of work on the last batch in `balance`; when the shares change,
  /// the carried state of every stream goes to the rank that now trains it.
  private func rebalance(_ workSeconds: [Double]) throws(DataParallelError) {
    guard let dataParallel, var next = balance else { return }
    let before = share
    let moved = next.record(workSeconds)
    balance = next
    guard moved else { return }
    let start = ContinuousClock.now
    let whole = try dataParallel.communicator.gather(state, share: before)
    state = whole.map { $0.rows(share.streams) }
    communicationSeconds += seconds(since: start)
  }

  /// `step()` on the GPU: the same update, with dropout masks drawn there from a seed that this
  /// run's generator gives.
  private func step(on gpu: CUDALanguageModel) throws -> StepReport {
    if progress.batch == 0 {
      try gpu.setTrainingState(model.zeroState(batch: config.batchSize), time: config.seqLength)
    }
    let (inputs, targets) = batches.batch(progress.batch, streams: share.streams)
    var generator = RandomGenerator(
      state: (progress.generator[0], progress.generator[1], progress.generator[2], progress.generator[3]))
    let (bias1, bias2) = optimizer.biasCorrections(update: optimizer.steps + 1)
    let rate = learningRate
    let settings = rnn_gpu_step_settings(
      learning_rate: rate, bias1: bias1, root2: bias2.squareRoot(), clip_norm: config.gradClip,
      clip_value: config.gradClipValue, seed: generator.next())
    let result = try gpu.trainStep(inputs: inputs, targets: targets, settings: settings)
    guard result.finite != 0 else { throw TrainingError.diverged(step: progress.step + 1, loss: result.loss) }
    optimizer.recordUpdate()
    progress.generator = [generator.state.0, generator.state.1, generator.state.2, generator.state.3]
    advance()
    return StepReport(loss: result.loss, gradientNorm: result.norm, learningRate: rate)
  }

  /// Counts a step, and an epoch after its last batch.
  private func advance() {
    progress.step += 1
    progress.batch += 1
    if progress.batch == batches.batchesPerEpoch {
      progress.batch = 0
      progress.epoch += 1
    }
  }

  /// Moves past the current batch without an update, after `step()` threw `TrainingError.diverged`
  /// for it. The batch counts as a step (so step counts and epochs keep their meaning) but the
  /// optimizer does not move; the carried state restarts at zero for every row of the batch, as
  /// the state it ended in may not be finite. The dropout generator is left as it was.
  public func skipBatch() throws(CUDAError) {
    state = model.zeroState(batch: share.streams.count)
    try gpu?.setTrainingState(state, time: config.seqLength)
    advance()
  }

  /// Whether everything a checkpoint of this run would hold is finite: parameters, optimizer
  /// buffers and carried state. A finite gradient can still overflow in an update (a huge
  /// learning rate without clipping); this is what keeps such a model out of checkpoints.
  public var isFinite: Bool {
    guard model.parameters.valuesAreFinite else { return false }
    let backend = model.parameters.backend
    for buffer in optimizer.buffers.values {
      guard buffer.withUnsafeBufferPointer({ $0.isEmpty || backend.allFinite($0.count, $0.baseAddress!) }) else {
        return false
      }
    }
    return state.allSatisfy { layer in
      layer.h.scalars.allSatisfy(\.isFinite) && (layer.c?.scalars.allSatisfy(\.isFinite) ?? true)
    }
  }

  /// Records a validation loss; returns whether it is the best so far.
  public func recordValidation(_ loss: Double) -> Bool {
    guard loss < (progress.bestValidationLoss ?? .infinity) else { return false }
    progress.bestValidationLoss = loss
    return true
  }
}

/// Seconds from `start` until now.
func seconds(since start: ContinuousClock.Instant) -> Double {
  let elapsed = (ContinuousClock.now - start).components
  return Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
}
