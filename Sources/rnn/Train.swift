import ArgumentParser
import Foundation
import RNN

/// `rnn train`: trains a character-level language model, printing progress, validation loss and
/// samples, and keeping `latest.safetensors` and `best.safetensors` in the checkpoint folder.
struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a character-level language model on text.",
    discussion: """
      With no --data, trains on the Swift standard library's textual interface that ships with the \
      toolchain. Checkpoints (--checkpoint-dir) are PyTorch-loadable safetensors files; each has a \
      .training.safetensors file beside it that --resume reads. Ctrl-C (SIGINT) or SIGTERM stops after \
      the current step, saves latest.safetensors and prints the command that resumes (a second one stops \
      at once). The checkpoint folder also gets metrics.jsonl (one JSON object per progress or validation \
      line) and samples/step-<N>.txt.
      """)

  @OptionGroup var data: DataOptions

  // The model's shape: optional so that --resume and --init-from can tell what was passed (they
  // take the shape from the checkpoint).
  @Option(help: "Recurrent cell: lstm, gru, rnn (tanh) or rnn_relu (default: lstm).")
  var cell: CellOption?
  @Option(parsing: .unconditional, help: "Stacked recurrent layers (default: 2).")
  var layers: Int?
  @Option(parsing: .unconditional, help: "Hidden size of each layer (default: 128).")
  var hidden: Int?
  @Option(parsing: .unconditional, help: "Size of the character embedding (default: 64).")
  var embedding: Int?
  @Option(parsing: .unconditional, help: "Dropout between layers and before the decoder, 0 to <1 (default: 0; with --init-from, the checkpoint's).")
  var dropout: Float?
  @Option(parsing: .unconditional, help: "Steps of backpropagation through time per batch.")
  var seqLength = 50
  @Option(parsing: .unconditional, help: "Sequences per batch.")
  var batchSize = 50
  @Option(parsing: .unconditional, help: "Learning rate.")
  var learningRate: Float = 2e-3
  @Option(help: "Optimizer: adam, rmsprop or sgd (momentum 0.9).")
  var optimizer: OptimizerKind = .adam
  @Option(parsing: .unconditional, help: "Clip gradients to this global norm (0: off).")
  var gradClip: Float = 5
  @Option(parsing: .unconditional, help: "Clamp each gradient element to this magnitude (0: off).")
  var gradClipValue: Float = 0
  @Option(parsing: .unconditional, help: "Multiply the learning rate by this after each epoch from --lr-decay-after on (1: off).")
  var lrDecay: Float = 1
  @Option(parsing: .unconditional, help: "First epoch (from 0) whose learning rate is decayed.")
  var lrDecayAfter = 10
  @Option(parsing: .unconditional, help: "Stop after this many updates in all (a resumed run continues up to it).")
  var maxSteps: Int?
  @Option(parsing: .unconditional, help: "Stop after this many passes over the training text.")
  var maxEpochs: Int = 10
  @Option(parsing: .unconditional, help: "Fraction of the text, from its end, held out for validation.")
  var valFraction: Double = 0.05
  @Option(parsing: .unconditional, help: "Fraction of the text, at its very end, held out for the final test.")
  var testFraction: Double = 0.05
  @Option(parsing: .unconditional, help: "Validate (and print a sample) every this many steps.")
  var evalEvery = 500
  @Option(parsing: .unconditional, help: "Save latest.safetensors every this many steps (default: --eval-every).")
  var checkpointEvery: Int?
  @Option(help: "Folder for latest.safetensors and best.safetensors.")
  var checkpointDir = "checkpoints"
  @Option(help: "Continue the run saved in this checkpoint (its .training.safetensors must be beside it).")
  var resume: String?
  @Option(help: "Fine-tune the model of this checkpoint on --data: its shape and vocabulary, a new optimizer, from step 0.")
  var initFrom: String?
  @Option(help: "With --init-from (or --resume): read characters outside the checkpoint's vocabulary as this one (default: refuse such text).")
  var unknownChar: String?
  @Option(help: "When a batch's loss or gradient is NaN or infinite: stop, or skip the batch (no update; the carried state restarts at zero) and stop after 100 in a row.")
  var onNonfinite: NonFinitePolicy = .stop
  @Option(parsing: .unconditional, help: "Besides latest.safetensors, keep step-<N>.safetensors of the last K saves (1: latest only).")
  var keepCheckpoints = 1
  @Option(parsing: .unconditional, help: "Seed of initialisation and dropout.")
  var seed: UInt64 = 0
  @Option(parsing: .unconditional, help: "Report progress every this many steps.")
  var printEvery = 10
  @Flag(help: "Print only validation results and the summary (no progress, no samples).")
  var quiet = false
  @Flag(help: "Add gradient norm and learning rate to the progress reports.")
  var verbose = false
  @Option(parsing: .unconditional, help: "Characters in the sample printed at each validation (0: none).")
  var sampleLength = 200
  @OptionGroup var compute: ComputeOptions
  @OptionGroup var products: TrainingPrecisionOption

  func validate() throws {
    if let layers { try requirePositive(layers, "layers") }
    if let hidden { try requirePositive(hidden, "hidden") }
    if let embedding { try requirePositive(embedding, "embedding") }
    try requirePositive(keepCheckpoints, "keep-checkpoints")
    guard resume == nil || initFrom == nil else { throw ValidationError("--resume and --init-from exclude each other") }
    if let unknownChar {
      guard unknownChar.unicodeScalars.count == 1 else {
        throw ValidationError("--unknown-char must be exactly one character, got \(unknownChar.debugDescription)")
      }
      guard resume != nil || initFrom != nil else {
        throw ValidationError("--unknown-char needs --init-from (or --resume): a new model's vocabulary has every character")
      }
    }
    try requirePositive(seqLength, "seq-length")
    try requirePositive(batchSize, "batch-size")
    try requirePositive(maxEpochs, "max-epochs")
    try requirePositive(evalEvery, "eval-every")
    try requirePositive(printEvery, "print-every")
    guard !(quiet && verbose) else { throw ValidationError("--quiet and --verbose exclude each other") }
    if let maxSteps { try requirePositive(maxSteps, "max-steps") }
    if let checkpointEvery { try requirePositive(checkpointEvery, "checkpoint-every") }
    guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive, got \(learningRate)") }
    if let dropout, !(0..<1).contains(dropout) { throw ValidationError("--dropout must be in [0, 1), got \(dropout)") }
    guard gradClip >= 0, gradClipValue >= 0 else { throw ValidationError("--grad-clip and --grad-clip-value must be 0 (off) or positive") }
    guard lrDecay > 0, lrDecay <= 1 else { throw ValidationError("--lr-decay must be in (0, 1], got \(lrDecay)") }
    guard sampleLength >= 0 else { throw ValidationError("--sample-length must be 0 or more") }
    guard (0..<1).contains(valFraction), (0..<1).contains(testFraction), valFraction + testFraction < 1 else {
      throw ValidationError("--val-fraction and --test-fraction must be in [0, 1) and sum below 1")
    }
  }

  func run() throws {
    compute.configure()
    products.configure()
    try prepareCheckpointFolder()
    if let step = TrainingState.completeInterruptedSave(of: checkpointDir + "/latest.safetensors") {
      say("Completed the save of step \(step) in \(checkpointDir)/latest.safetensors, which was killed midway.")
    }
    let abandoned = SafeTensors.removeAbandonedTemporaryFiles(in: checkpointDir)
    if !abandoned.isEmpty {
      say("Removed \(abandoned.count) temporary file\(abandoned.count == 1 ? "" : "s") of a save that was killed midway.")
    }
    let resumed = try resume.map { path in
      let checkpoint = try Checkpoint(contentsOf: path)
      return (checkpoint, try TrainingState(besides: checkpoint, at: path))
    }
    let initial = try initFrom.map { try Checkpoint(contentsOf: $0) }
    let base = resumed?.0 ?? initial
    if let base {
      let path = (resume ?? initFrom)!
      if let encoding = data.encoding, encoding != base.vocabulary.encoding {
        throw Failure(
          "--encoding \(encoding.rawValue): \(path) reads its text as \(base.vocabulary.encoding.rawValue); drop --encoding")
      }
      reportIgnoredShapeOptions(base.model.config, from: path)
    }
    let corpus = try loadCorpus(vocabulary: base?.vocabulary, checkpoint: resume ?? initFrom)
    let splits = Corpus.split(count: corpus.text.count, valFraction: valFraction, testFraction: testFraction)
    let trainText = corpus.text[splits.train]

    let trainer: Trainer
    if let (checkpoint, saved) = resumed {
      guard saved.data == TrainingState.fingerprint(trainText) else {
        throw Failure("\(resume!) was trained on other text (or other --val-fraction/--test-fraction); resume needs the same data")
      }
      let batches = try BatchIterator(tokens: trainText, batchSize: saved.config.batchSize, seqLength: saved.config.seqLength)
      trainer = Trainer(
        model: checkpoint.model, batches: batches, config: saved.config, optimizer: saved.optimizer,
        progress: saved.progress, state: saved.state)
      say("Resuming \(resume!) at step \(saved.progress.step) (epoch \(saved.progress.epoch)).")
    } else {
      var config = TrainConfig()
      config.optimizer = optimizer
      config.learningRate = learningRate
      config.lrDecay = lrDecay
      config.lrDecayAfter = lrDecayAfter
      config.gradClip = gradClip
      config.gradClipValue = gradClipValue
      config.seqLength = seqLength
      config.batchSize = batchSize
      config.seed = seed
      let batches = try BatchIterator(tokens: trainText, batchSize: batchSize, seqLength: seqLength)
      let model: CharLM
      if let initial {
        model = fineTuned(initial.model)
        say("Fine-tuning \(initFrom!) (trained \(initial.step) steps) from step 0 with a new optimizer.")
      } else {
        var generator = RandomGenerator(seed: seed)
        model = CharLM(
          CharLMConfig(
            cell: (cell ?? .lstm).kind, layers: layers ?? 2, hidden: hidden ?? 128, embedding: embedding ?? 64,
            vocabularySize: corpus.vocabulary.count, dropout: dropout ?? 0),
          using: &generator)
      }
      trainer = Trainer(model: model, batches: batches, config: config)
    }
    try TrainingRun(
      trainer: trainer, vocabulary: corpus.vocabulary, validation: corpus.text[splits.validation],
      test: corpus.text[splits.test], options: self, resumed: resumed != nil,
      output: ProgressOutput(
        verbosity: quiet ? .quiet : (verbose ? .verbose : .normal), environment: ProcessInfo.processInfo.environment)
    ).run()
  }

  /// Reads the text; with a checkpoint's `vocabulary`, characters outside it are refused or, with
  /// --unknown-char, replaced (and reported).
  private func loadCorpus(vocabulary: Vocabulary?, checkpoint: String?) throws -> Corpus {
    guard let vocabulary, let checkpoint else { return try data.load(log: say) }
    if let unknownChar {
      guard vocabulary.encoding == .utf8 else {
        throw Failure("--unknown-char: \(checkpoint) is a byte-level model; every byte is in its vocabulary")
      }
      let replacement = unknownChar.unicodeScalars.first!
      guard vocabulary.id(of: replacement) != nil else {
        throw Failure(
          "--unknown-char \(replacement.readable) is not in the vocabulary of \(checkpoint); "
            + "it has \(vocabulary.count) characters, e.g. \(vocabulary.scalars.prefix(10).map(\.readable).joined(separator: ", "))")
      }
      return try data.load(vocabulary: vocabulary, replacingUnknownWith: replacement, log: say)
    }
    do {
      return try data.load(vocabulary: vocabulary, log: say)
    } catch let error as CorpusError {
      guard case .unknownCharacters = error else { throw error }
      throw Failure("\(error) of \(checkpoint); pass --unknown-char C to read them as C, a character of it")
    }
  }

  /// Says which model-shape options were passed but are taken from the checkpoint instead.
  private func reportIgnoredShapeOptions(_ config: CharLMConfig, from path: String) {
    var ignored: [String] = []
    if let cell, cell.kind != config.cell { ignored.append("--cell \(cell.rawValue)") }
    if let layers, layers != config.layers { ignored.append("--layers \(layers)") }
    if let hidden, hidden != config.hidden { ignored.append("--hidden \(hidden)") }
    if let embedding, embedding != config.embedding { ignored.append("--embedding \(embedding)") }
    if resume != nil, let dropout, dropout != config.dropout { ignored.append("--dropout \(dropout)") }
    guard !ignored.isEmpty else { return }
    say(
      "Ignoring \(ignored.joined(separator: ", ")): the model is \(config.layers) x \(config.cell.rawValue) \(config.hidden), "
        + "embedding \(config.embedding)\(resume != nil ? ", dropout \(config.dropout)" : ""), as in \(path).")
  }

  /// The checkpoint's model, with --dropout if given.
  private func fineTuned(_ model: CharLM) -> CharLM {
    guard let dropout, dropout != model.config.dropout else { return model }
    var config = model.config
    config.dropout = dropout
    let copy = CharLM(config)
    for (entry, (_, tensor)) in zip(copy.parameters.layout.entries, model.parameters.stateDict()) {
      copy.parameters.assign(tensor, to: entry.ref)
    }
    return copy
  }

  /// Creates the checkpoint folder and checks it is writable, before any work is done.
  private func prepareCheckpointFolder() throws {
    // mkdir each missing component, so a failure names the component and the system's reason.
    var path = checkpointDir.hasPrefix("/") ? "/" : ""
    for part in checkpointDir.split(separator: "/") {
      path += (path.isEmpty || path == "/" ? "" : "/") + part
      var status = stat()
      if stat(path, &status) == 0 {
        guard status.st_mode & S_IFMT == S_IFDIR else {
          throw Failure("cannot create checkpoint folder \(checkpointDir): \(path) is a file, not a folder")
        }
      } else if mkdir(path, 0o755) != 0 && errno != EEXIST {
        throw Failure("cannot create checkpoint folder \(checkpointDir): \(path): \(String(cString: strerror(errno)))")
      }
    }
    guard access(checkpointDir, W_OK) == 0 else {
      throw Failure("checkpoint folder \(checkpointDir) is not writable: \(String(cString: strerror(errno)))")
    }
  }

}

/// What `rnn train` does with a batch whose loss or gradient is not finite.
enum NonFinitePolicy: String, ExpressibleByArgument, CaseIterable {
  /// Stop with an error naming the step.
  case stop
  /// Skip the batch; stop after `TrainingRun.maxConsecutiveSkips` in a row.
  case skip
}
