import ArgumentParser
import Foundation
import RNN

/// `rnn bench`: training and sampling throughput on random tokens, the work of a PyTorch
/// training step (embedding, L-layer cell, decoder, softmax cross-entropy, backward, global-norm
/// clipping, Adam) and of batch-1 sampling with temperature.
struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Measure training and sampling speed on random data.")

  @OptionGroup var shape: ModelShapeOptions
  @OptionGroup var batchShape: BatchShapeOptions
  @Option(parsing: .unconditional, help: "Vocabulary size.")
  var vocab = 65
  @Option(parsing: .unconditional, help: "Seconds to time each of training and sampling (after a warm-up).")
  var seconds: Double = 10
  @Flag(help: "Print one JSON object.")
  var json = false
  @OptionGroup var compute: ComputeOptions
  @OptionGroup var parallel: DataParallelOptions
  @OptionGroup var weights: PrecisionOption
  @OptionGroup var device: DeviceOption

  func validate() throws {
    try device.check(weights.precision)
    try requireWithin(CharLMConfig.vocabularySizeRange, vocab, "vocab")
    guard seconds > 0, seconds.isFinite else {
      throw ValidationError("--seconds must be positive and finite, got \(seconds)")
    }
  }

  func run() throws {
    compute.configure()
    let gpu = try device.open()
    let communicator = try Distributed.join(batchSize: batchShape.rows)
    if gpu != nil, communicator != nil { throw Failure("--device cuda runs one process; several ranks train on CPUs") }
    try Distributed.run(communicator) { try measure(communicator, gpu: gpu) }
  }

  /// Measures alone, or as one rank of `communicator`'s job: training then counts the whole
  /// batch's tokens, and the time the ranks spend summing gradients is reported. On `gpu`, both
  /// run there.
  private func measure(_ communicator: MPICommunicator?, gpu: CUDADevice?) throws {
    let (cell, layers, hidden) = (shape.cellKind, shape.layerCount, shape.hiddenSize)
    let (seqLength, batchSize) = (batchShape.steps, batchShape.rows)
    let e = shape.embedding ?? CharLMConfig.benchmarkEmbedding(hidden: hidden)
    let config = CharLMConfig(cell: cell, layers: layers, hidden: hidden, embedding: e, vocabularySize: vocab)
    try requireFits(config, optimizer: TrainConfig().optimizer, batchSize: batchSize, seqLength: seqLength)
    var generator = RandomGenerator(seed: 1)
    let model = CharLM(config, using: &generator)
    let tokens = (0..<(batchSize * seqLength * 8 + 1)).map { _ in Int32(generator.next() % UInt64(vocab)) }
    var trainConfig = TrainConfig()
    trainConfig.batchSize = batchSize
    trainConfig.seqLength = seqLength
    let trainer = Trainer(
      model: model, batches: try BatchIterator(tokens: tokens, batchSize: batchSize, seqLength: seqLength),
      config: trainConfig, dataParallel: try parallel.dataParallel(communicator, batchSize: batchSize))

    if let gpu { try onGPU { () throws(CUDAError) in try trainer.move(to: gpu) } }
    // Training's products in bf16 with --precision bf16 (where the CPU can), else fp32.
    let trainPrecision = BLAS.setProductPrecision(weights.precision == .bf16 ? .bf16 : .fp32)
    for _ in 0..<2 { try trainer.step() }
    // Each step's wall time and allreduce time: their medians discount the bursts of a shared machine.
    var stepSeconds: [Double] = []
    var allreduceSeconds: [Double] = []
    // Blocks of other ranks' shared products that this rank made, over the timed steps.
    var blocksHelped = 0
    let (trainStart, waitingBefore) = (monotonicSeconds(), trainer.waitingSeconds)
    // The ranks stop after the same step, when rank 0's time is up.
    func timeUp() throws -> Bool {
      let local = stepSeconds.count >= 3 && monotonicSeconds() - trainStart >= seconds
      guard let communicator else { return local }
      return try communicator.any(communicator.rank == 0 && local)
    }
    while try !timeUp() {
      let (start, communication) = (monotonicSeconds(), trainer.communicationSeconds)
      try trainer.step()
      stepSeconds.append(monotonicSeconds() - start)
      allreduceSeconds.append(trainer.communicationSeconds - communication)
      blocksHelped += trainer.sharedProduct?.report.helpingBlocks ?? 0
    }
    let trainSeconds = monotonicSeconds() - trainStart
    let steps = stepSeconds.count
    let allreducePerStep = allreduceSeconds.reduce(0, +) / Double(steps)
    let waitingPerStep = (trainer.waitingSeconds - waitingBefore) / Double(steps)
    let (medianStep, medianAllreduce) = (median(stepSeconds), median(allreduceSeconds))
    let ranks = communicator?.size ?? 1
    let gradientSum = communicator?.gradientSum?.rawValue ?? "none"
    // Each rank's streams at the end (balanced by speed unless --even-shares): the whole batch alone.
    let streams = trainer.balance?.counts ?? [batchSize]
    let trainRate = Double(steps * batchSize * seqLength) / trainSeconds

    try trainer.synchronize()
    let sampler = try makeSampler(model, precision: weights.precision, gpu: gpu)
    try sampler.feed([0])
    // Characters per call: on the GPU as `rnn sample` asks for them (one launch each).
    let chunk = gpu == nil ? 10 : 256
    _ = try sampler.next(count: chunk, SamplingOptions(), using: &generator)
    var characters = 0
    let sampleStart = monotonicSeconds()
    while characters < 10 || monotonicSeconds() - sampleStart < seconds {
      _ = try sampler.next(count: chunk, SamplingOptions(temperature: 0.8), using: &generator)
      characters += chunk
    }
    let sampleRate = Double(characters) / (monotonicSeconds() - sampleStart)

    // Training FLOPs per token: 24*H*(D+H) per layer (forward 8, backward 16), 6*H*V decoder.
    var flopsPerToken = 6.0 * Double(hidden * vocab)
    for l in 0..<layers {
      let d = l == 0 ? e : hidden
      flopsPerToken += 6.0 * Double(cell.gates) * Double(hidden * (d + hidden))
    }
    let flops = flopsPerToken * trainRate
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let peak = Int(usage.ru_maxrss) * 1024
    if json {
      let fields: [(String, String)] = [
        ("cell", "\"\(cell.rawValue)\""), ("layers", "\(layers)"), ("hidden", "\(hidden)"), ("embedding", "\(e)"),
        ("seq_length", "\(seqLength)"), ("batch_size", "\(batchSize)"), ("vocab", "\(vocab)"),
        ("train_tokens_per_s", "\(trainRate)"), ("train_steps", "\(steps)"), ("train_gflops", "\(flops / 1e9)"),
        ("sample_chars_per_s", "\(sampleRate)"), ("peak_rss_bytes", "\(peak)"),
        ("precision", "\"\(weights.precision.rawValue)\""), ("sample_kernel", "\"\(weights.precision.kernel)\""),
        ("train_precision", "\"\(trainPrecision.rawValue)\""),
        ("train_kernel", "\"\(trainPrecision == .bf16 ? BLAS.bf16Kernel : BLAS.description)\""),
        ("blas", "\"\(BLAS.description)\""), ("threads", "\(BLAS.threads)"), ("ranks", "\(ranks)"),
        ("streams", jsonArray(streams)),
        ("allreduce_s_per_step", "\(allreducePerStep)"), ("train_step_s_median", "\(medianStep)"),
        ("allreduce_s_median", "\(medianAllreduce)"), ("allreduce_wait_s_per_step", "\(waitingPerStep)"),
        ("gradient_sum", jsonStringLiteral(gradientSum)),
        ("shared_product", "\(trainer.sharedProduct != nil)"),
        ("shared_product_blocks_helped_per_step", "\(Double(blocksHelped) / Double(steps))"),
        ("shared_update", "\(trainer.sharedUpdate != nil)"),
        ("device", jsonStringLiteral(gpu?.description ?? "cpu")),
      ]
      say("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
    } else {
      say(
        "\(layers) x \(cell.rawValue) \(hidden), E=\(e), T=\(seqLength), B=\(batchSize), V=\(vocab); "
          + (gpu?.description ?? BLAS.description))
      say(
        "train:  \(thousands(trainRate)) tokens/s (\(steps) steps, median \(fixed(medianStep, 3)) s), "
          + "\(fixed(flops / 1e9, 1)) GFLOP/s of model FLOPs, "
          + "\(trainPrecision.rawValue) products")
      if ranks > 1 {
        say(
          "        \(ranks) ranks, streams \(streams.map(String.init).joined(separator: "/")) at the end; "
            + "allreduce \(fixed(allreducePerStep * 1e3, 2)) ms per step (\(fixed(100 * allreducePerStep * Double(steps) / trainSeconds, 1))% of a step; "
            + "median \(fixed(medianAllreduce * 1e3, 2)) ms), \(fixed(waitingPerStep * 1e3, 2)) ms of it waiting for "
            + "other ranks; gradients summed by \(gradientSum)"
            + (trainer.sharedProduct == nil ? "" : "; the bottom layer's W_hh gradient made by the ranks together")
            + (trainer.sharedUpdate == nil ? "" : "; the update made once per machine, each rank on its part"))
      }
      say("sample: \(thousands(sampleRate)) chars/s (batch 1, \(weights.precision.kernel))")
      say("peak resident memory: \(fixed(Double(peak) / 1_048_576, 1)) MiB")
    }
  }
}

/// The middle value of `values` (the mean of the two middle ones for an even count); 0 if empty.
private func median(_ values: [Double]) -> Double {
  guard !values.isEmpty else { return 0 }
  let sorted = values.sorted()
  let middle = sorted.count / 2
  return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
